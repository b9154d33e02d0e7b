/**
 * Initial SAE parameters: b_dec at the geometric median of the data (robust to outlier tokens, as
 * SAELens does), decoder rows random unit vectors, encoder the decoder's transpose.
 */
import { mulberry32 } from '../util/random.js';

export function meanOf(data: Float32Array, rows: number, width: number): Float32Array {
  const mean = new Float64Array(width);
  for (let r = 0; r < rows; r++) for (let i = 0; i < width; i++) mean[i]! += data[r * width + i]!;
  return Float32Array.from(mean, (v) => v / rows);
}

/** Weiszfeld iterations over (a sample of) the rows, starting from the mean (or `start`: the mean of the rows the sample came from). */
export function geometricMedian(
  data: Float32Array,
  rows: number,
  width: number,
  opts: { maxRows?: number; iterations?: number; seed?: number; start?: Float32Array } = {},
): Float32Array {
  const maxRows = opts.maxRows ?? 4096;
  const rand = mulberry32(opts.seed ?? 0);
  const picked =
    rows <= maxRows ? Array.from({ length: rows }, (_, i) => i) : Array.from({ length: maxRows }, () => Math.floor(rand() * rows));
  let median = Float64Array.from(opts.start ?? meanOf(data, rows, width));
  for (let it = 0; it < (opts.iterations ?? 50); it++) {
    const next = new Float64Array(width);
    let weights = 0;
    for (const r of picked) {
      let d = 0;
      for (let i = 0; i < width; i++) d += (data[r * width + i]! - median[i]!) ** 2;
      const w = 1 / Math.max(Math.sqrt(d), 1e-8);
      weights += w;
      for (let i = 0; i < width; i++) next[i]! += w * data[r * width + i]!;
    }
    let moved = 0;
    for (let i = 0; i < width; i++) {
      next[i]! /= weights;
      moved += (next[i]! - median[i]!) ** 2;
    }
    median = next;
    if (Math.sqrt(moved) < 1e-6) break;
  }
  return Float32Array.from(median);
}

/** Decoder rows: random unit vectors (Box-Muller normals, normalised); encoder: the transpose. */
export function initialWeights(dIn: number, dOut: number, dSae: number, seed: number): { W_enc: Float32Array; W_dec: Float32Array } {
  const rand = mulberry32(seed);
  const wDec = new Float32Array(dSae * dOut);
  for (let f = 0; f < dSae; f++) {
    let n = 0;
    for (let i = 0; i < dOut; i++) {
      const v = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
      wDec[f * dOut + i] = v;
      n += v * v;
    }
    n = Math.sqrt(n);
    for (let i = 0; i < dOut; i++) wDec[f * dOut + i]! /= n;
  }
  // A transcoder's encoder reads another tap: start it as a random unit-scale map instead of a transpose.
  const wEnc = new Float32Array(dIn * dSae);
  if (dIn === dOut) {
    for (let f = 0; f < dSae; f++) for (let i = 0; i < dIn; i++) wEnc[i * dSae + f] = wDec[f * dOut + i]!;
  } else {
    const scale = 1 / Math.sqrt(dIn);
    for (let j = 0; j < wEnc.length; j++) wEnc[j] = (rand() * 2 - 1) * Math.sqrt(3) * scale;
  }
  return { W_enc: wEnc, W_dec: wDec };
}
