/**
 * A training run's data, streamed: the passes a fresh run needs before its first step (the
 * activation scale, the target's mean, a sample for b_dec's geometric median) read the rows in
 * blocks of bounded size, and the steps draw rows through the shuffle buffer (harvest/shuffle-buffer.ts).
 * Nothing here holds a whole tap. Sums run in row order in float64, so they equal a pass over one
 * array. Reads are awaited: the rows may come from shards or from the model run on the fly.
 */
import type { RowSource } from '../harvest/shuffle-buffer.js';
import { mulberry32 } from '../util/random.js';
import { geometricMedian } from './init.js';

/**
 * Bytes read per block in a streaming pass: small, since each pass's block stays in the job
 * worker's heap for the whole run (bench:memory); the sums run in row order, so the block size
 * does not change them.
 */
const BLOCK_BYTES = 2 << 20;

/** Visit the source's rows block by block, as float32 times `scale`: fn(block, rows in it, first row). */
export async function forEachBlock(
  src: RowSource,
  scale: number,
  fn: (block: Float32Array, rows: number, first: number) => void,
): Promise<void> {
  const blockRows = Math.max(1, Math.min(src.rows, Math.floor(BLOCK_BYTES / (4 * src.width))));
  const block = new Float32Array(blockRows * src.width);
  for (let from = 0; from < src.rows; from += blockRows) {
    const n = Math.min(blockRows, src.rows - from);
    await src.readRange(from, n, block, 0, scale);
    fn(block, n, from);
  }
}

/** s with mean_r ||s x_r||^2 = width (normalize.ts's activationScale, streamed). */
export async function streamedScale(src: RowSource): Promise<number> {
  let sum = 0;
  await forEachBlock(src, 1, (b, n) => {
    for (let i = 0; i < n * src.width; i++) sum += b[i]! * b[i]!;
  });
  const meanSq = sum / Math.max(1, src.rows);
  return meanSq > 0 ? Math.sqrt(src.width / meanSq) : 1;
}

/** The mean row of the scaled source (init.ts's meanOf, streamed). */
export async function streamedMean(src: RowSource, scale: number): Promise<Float32Array> {
  const w = src.width;
  const mean = new Float64Array(w);
  await forEachBlock(src, scale, (b, n) => {
    for (let r = 0; r < n; r++) for (let i = 0; i < w; i++) mean[i]! += b[r * w + i]!;
  });
  return Float32Array.from(mean, (v) => v / src.rows);
}

/**
 * b_dec's starting point: zeros, the mean, or the geometric median of a seeded sample of at most
 * `maxRows` rows (all of them when there are fewer), started from the mean. The sample is read in
 * ascending row order (each into its drawn slot), so a source that produces rows in order (the
 * model) makes one pass, not one run per row.
 */
export async function initialBDec(
  kind: 'zeros' | 'mean' | 'geometric-median',
  src: RowSource,
  scale: number,
  mean: Float32Array,
  seed: number,
  maxRows = 4096,
): Promise<Float32Array> {
  if (kind === 'zeros') return new Float32Array(src.width);
  if (kind === 'mean') return mean;
  const rand = mulberry32(seed);
  const picked =
    src.rows <= maxRows
      ? Array.from({ length: src.rows }, (_, i) => i)
      : Array.from({ length: maxRows }, () => Math.floor(rand() * src.rows));
  const sample = new Float32Array(picked.length * src.width);
  const slots = picked.map((_, i) => i).sort((a, b) => picked[a]! - picked[b]! || a - b);
  for (const i of slots) await src.readRange(picked[i]!, 1, sample, i * src.width, scale);
  return geometricMedian(sample, picked.length, src.width, { maxRows: picked.length, seed, start: mean });
}
