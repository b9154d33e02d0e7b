/**
 * sharp (libvips), loaded on first use: importing it costs ~28 MB per process (its native library
 * and thread pool), and most processes never decode an image — a training run's CLI and job worker
 * among them (bench:memory).
 */
import type sharpType from 'sharp';

let loading: Promise<typeof sharpType> | null = null;

export function loadSharp(): Promise<typeof sharpType> {
  loading ??= import('sharp').then((m) => m.default);
  return loading;
}
