/**
 * The bootstrap, once for every caller (evaluation accuracies, experiment and probe statistics):
 * resample the items with replacement, seeded (a re-run gives the same interval), and take the
 * percentile interval of the resampled means. Callers report the resamples and the seed.
 */
import { mulberry32 } from '../util/random.js';

export function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

/** Percentile bootstrap CI of the mean of `values` ([0, 0] for no values). */
export function bootstrapMeanCi(values: number[], resamples: number, seed: number, level = 0.95): [number, number] {
  const n = values.length;
  if (n === 0) return [0, 0];
  const rand = mulberry32(seed);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(rand() * n)]!;
    means[r] = s / n;
  }
  means.sort();
  return [means[Math.floor(((1 - level) / 2) * (resamples - 1))]!, means[Math.ceil((1 - (1 - level) / 2) * (resamples - 1))]!];
}

/**
 * Percentile bootstrap CI of a statistic over `n` units (items), resampled with replacement, seeded:
 * `stat` gets each resample's unit indices. For ratios of sums (FVU, CE recovered), where resampling
 * whole items keeps each item's tokens together.
 */
export function bootstrapUnitsCi(
  n: number,
  stat: (units: Int32Array) => number,
  resamples: number,
  seed: number,
  level = 0.95,
): [number, number] {
  if (n === 0) return [0, 0];
  const rand = mulberry32(seed);
  const values = new Float64Array(resamples);
  const units = new Int32Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) units[i] = Math.floor(rand() * n);
    values[r] = stat(units);
  }
  values.sort();
  return [values[Math.floor(((1 - level) / 2) * (resamples - 1))]!, values[Math.ceil((1 - (1 - level) / 2) * (resamples - 1))]!];
}
