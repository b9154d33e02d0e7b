/**
 * One chunk of training steps, host side: the learning-rate schedule, where a chunk ends, the rows
 * sampled for it and the feeds of the chunk graph (core/sae/train-graph.ts runs the steps).
 */
import type { ShuffleBuffer } from '../harvest/shuffle-buffer.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import type { SaeTrainSpec } from './train-graph.js';

/** Learning rate at a step: linear warmup, then cosine decay to a tenth (or constant). */
export function learningRate(step: number, total: number, base: number, warmup: number, decay: 'cosine' | 'none'): number {
  if (warmup > 0 && step < warmup) return (base * (step + 1)) / warmup;
  if (decay === 'none') return base;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return base * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

export interface Schedule {
  steps: number;
  stepsPerCall: number;
  logEvery: number;
  checkpointEvery: number;
}

/** Steps in the chunk starting at `step`: it ends at the next log or checkpoint step, so both happen between calls. */
export function chunkLength(step: number, s: Schedule): number {
  const nextLog = (Math.floor(step / s.logEvery) + 1) * s.logEvery;
  const nextCheckpoint = (Math.floor(step / s.checkpointEvery) + 1) * s.checkpointEvery;
  return Math.min(s.stepsPerCall, nextLog - step, nextCheckpoint - step, s.steps - step);
}

/** Whether the chunk ending at `end` logs metrics / writes a checkpoint (the last step always does both). */
export const logsAt = (end: number, s: Schedule) => end % s.logEvery === 0 || end === s.steps;
export const checkpointsAt = (end: number, s: Schedule) => end % s.checkpointEvery === 0 || end === s.steps;

/** Host buffers for a chunk of at most `maxChunk` steps of `batch` rows, filled from the shuffle buffer. */
export class ChunkSampler {
  readonly xs: Float32Array;
  readonly ys: Float32Array;
  /** The row of each drawn (step, batch) slot, for per-modality metrics (Numbers: rows past 2^31 are exact). */
  readonly picked: Float64Array;

  constructor(
    private readonly spec: SaeTrainSpec,
    readonly batch: number,
    maxChunk: number,
    private readonly rows: ShuffleBuffer,
  ) {
    this.xs = new Float32Array(maxChunk * batch * spec.dIn);
    this.ys = spec.transcoder ? new Float32Array(maxChunk * batch * spec.dOut) : this.xs;
    this.picked = new Float64Array(maxChunk * batch);
  }

  /** Draw the next K·B rows of the shuffled stream (each row once per epoch; see shuffle-buffer.ts). */
  sample(K: number): Promise<void> {
    return this.rows.take(K * this.batch, this.spec.transcoder ? [this.xs, this.ys] : [this.xs], this.picked);
  }

  /** The chunk graph's data feeds for K steps starting at `step` with learning rates `lrs`. */
  feeds(K: number, step: number, lrs: Float32Array, deadAfterSteps: number): Record<string, WireTensor> {
    const { dIn, dOut, transcoder } = this.spec;
    const B = this.batch;
    const feeds: Record<string, WireTensor> = {
      xs: { type: 'float32', dims: [K, B, dIn], data: this.xs.subarray(0, K * B * dIn) },
      lrs: { type: 'float32', dims: [K], data: lrs },
      t0: { type: 'float32', dims: [], data: Float32Array.of(step) },
      dead_after: { type: 'float32', dims: [], data: Float32Array.of(deadAfterSteps) },
    };
    if (transcoder) feeds.ys = { type: 'float32', dims: [K, B, dOut], data: this.ys.subarray(0, K * B * dOut) };
    return feeds;
  }
}
