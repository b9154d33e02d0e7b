/**
 * SAE-V data filtering's test (issue 19 item 1): does an SAE trained on the filtered share do as well
 * as one trained on all items, and better than one trained on a random share of the same size?
 *
 * The scored items are split once (seeded) into a held-out set and a training pool. Three SAEs with the
 * same hyperparameters and seed train on the pool's harvested rows of: the filtered share (the best
 * `keep` of the pool by the SAE-V score), a random share of the same size, and the whole pool. Each is
 * measured on the held-out items only:
 *   FVU = Σ‖x − x̂‖² / Σ‖x − x̄‖² over the held-out rows of the tap;
 *   CE recovered = (CE_zero − CE_spliced) / (CE_zero − CE_clean), summed over the held-out items'
 *     answer tokens with the SAE spliced in (core/sae/splice-eval.ts);
 *   probe accuracy: multinomial logistic regression on the SAE's codes of image patches predicting the
 *     colour (or shape) under the patch, fitted on the pool's rows and scored on held-out rows.
 * Intervals: FVU and CE recovered by a percentile bootstrap over held-out items (whole items resampled,
 * the ratio of sums recomputed, x̄ included); probe accuracy by Wilson's score interval over held-out rows.
 */
import { OcularError } from '../errors.js';
import { RowSubset } from '../harvest/row-subset.js';
import type { RowSource } from '../harvest/shuffle-buffer.js';
import type { SaeWeights } from '../sae/sae-model.js';
import { decode, encode } from '../sae/sae-encode.js';
import { lossRecovered } from '../sae/splice-metrics.js';
import { bootstrapUnitsCi } from '../stats/bootstrap.js';
import { mulberry32 } from '../util/random.js';
import { selectItems, type FilterMethod } from './sae-v-filter.js';

export const COMPARE_ARMS = ['filtered', 'random', 'all'] as const;
export type CompareArm = (typeof COMPARE_ARMS)[number];

export interface ComparePlan {
  heldOut: number[];
  pool: number[];
  arms: Record<CompareArm, number[]>;
}

/** The held-out items and each arm's training items, from the items' SAE-V scores. */
export function planComparison(
  scores: Map<number, number>,
  o: { by: Exclude<FilterMethod, 'random'>; keep: number; heldOut: number; seed: number },
): ComparePlan {
  const ids = [...scores.keys()].sort((a, b) => a - b);
  const rand = mulberry32(o.seed);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  const nTest = Math.round(ids.length * o.heldOut);
  if (nTest < 1 || ids.length - nTest < 2)
    throw new OcularError(
      'invalid_request',
      `${ids.length} scored items cannot be split into held-out items and a training pool of at least two (held out ${o.heldOut}).`,
    );
  const heldOut = ids.slice(0, nTest).sort((a, b) => a - b);
  const pool = ids.slice(nTest).sort((a, b) => a - b);
  const poolScores = new Map(pool.map((id) => [id, scores.get(id)!]));
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  return {
    heldOut,
    pool,
    arms: {
      filtered: sorted(selectItems(poolScores, o.keep, o.by)),
      random: sorted(selectItems(poolScores, o.keep, 'random', o.seed + 1)),
      all: pool,
    },
  };
}

/** The harvest rows (ascending) whose item is in `items`. */
export function rowsOfItems(index: Array<{ item_id: number }>, items: Iterable<number>): Int32Array {
  const set = new Set(items);
  const rows: number[] = [];
  index.forEach((r, i) => {
    if (set.has(r.item_id)) rows.push(i);
  });
  return Int32Array.from(rows);
}

/** Per held-out item, what FVU needs: its rows' count, sum and summed squares of x, and squared error. */
export interface FvuSums {
  n: number;
  sum: Float64Array;
  squares: number;
  sse: number;
}

export async function fvuSums(sae: SaeWeights, src: RowSource, index: Array<{ item_id: number }>, rows: Int32Array): Promise<FvuSums[]> {
  const width = src.width;
  const byItem = new Map<number, FvuSums>();
  const chunk = 256;
  for (let start = 0; start < rows.length; start += chunk) {
    const part = rows.subarray(start, start + chunk);
    // Streamed: 256 rows at a time, read where they lie (runs of consecutive rows in one read each).
    const x = new Float32Array(part.length * width);
    await new RowSubset(src, part).readRange(0, part.length, x, 0);
    const xHat = decode(sae, encode(sae, x), x);
    part.forEach((r, i) => {
      const item = index[r]!.item_id;
      let s = byItem.get(item);
      if (!s) byItem.set(item, (s = { n: 0, sum: new Float64Array(width), squares: 0, sse: 0 }));
      s.n++;
      for (let j = 0; j < width; j++) {
        const v = x[i * width + j]!;
        s.sum[j]! += v;
        s.squares += v * v;
        s.sse += (v - xHat[i * width + j]!) ** 2;
      }
    });
  }
  return [...byItem.values()];
}

/** FVU of the items at `units` (indices into `items`, repeats allowed): Σ sse / (Σ‖x‖² − N‖x̄‖²). */
export function fvuOf(items: FvuSums[], units?: ArrayLike<number>): number {
  const pick = units ?? items.map((_, i) => i);
  const width = items[0]?.sum.length ?? 0;
  const sum = new Float64Array(width);
  let n = 0;
  let squares = 0;
  let sse = 0;
  for (let u = 0; u < pick.length; u++) {
    const s = items[pick[u]!]!;
    n += s.n;
    squares += s.squares;
    sse += s.sse;
    for (let j = 0; j < width; j++) sum[j]! += s.sum[j]!;
  }
  let meanSq = 0;
  for (let j = 0; j < width; j++) meanSq += (sum[j]! / n) ** 2;
  const total = squares - n * meanSq;
  return total > 0 ? sse / total : 0;
}

export interface ItemCe {
  clean: number;
  spliced: number;
  zero: number;
}

export function ceRecoveredOf(items: ItemCe[], units?: ArrayLike<number>): number {
  const pick = units ?? items.map((_, i) => i);
  let clean = 0;
  let spliced = 0;
  let zero = 0;
  for (let u = 0; u < pick.length; u++) {
    const c = items[pick[u]!]!;
    clean += c.clean;
    spliced += c.spliced;
    zero += c.zero;
  }
  return lossRecovered(clean, spliced, zero);
}

export interface Estimate {
  value: number;
  ci95: [number, number];
}

/** A statistic of items with its bootstrap interval over items. */
export function overItems<T>(
  items: T[],
  stat: (items: T[], units?: ArrayLike<number>) => number,
  resamples: number,
  seed: number,
): Estimate {
  return { value: stat(items), ci95: bootstrapUnitsCi(items.length, (units) => stat(items, units), resamples, seed) };
}
