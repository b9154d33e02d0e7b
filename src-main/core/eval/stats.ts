/**
 * Accuracy with bootstrap confidence intervals: resample items with replacement (seeded, so a re-run
 * gives the same interval), take the percentile interval. The number of resamples and the seed are
 * reported with every result.
 */
import { mulberry32 } from '../util/random.js';

export interface Accuracy {
  key: string;
  n: number;
  correct: number;
  accuracy: number;
  ci95: [number, number];
}

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
  level?: number;
}

export function bootstrapAccuracy(outcomes: boolean[], options: BootstrapOptions = {}): [number, number] {
  const n = outcomes.length;
  if (n === 0) return [0, 0];
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  const rand = mulberry32(options.seed ?? 0);
  const values = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let hits = 0;
    for (let i = 0; i < n; i++) if (outcomes[Math.floor(rand() * n)]) hits++;
    values[r] = hits / n;
  }
  values.sort();
  const lo = values[Math.floor(((1 - level) / 2) * (resamples - 1))]!;
  const hi = values[Math.ceil((1 - (1 - level) / 2) * (resamples - 1))]!;
  return [lo, hi];
}

export function accuracyOf(key: string, outcomes: boolean[], options: BootstrapOptions = {}): Accuracy {
  const correct = outcomes.filter(Boolean).length;
  return {
    key,
    n: outcomes.length,
    correct,
    accuracy: outcomes.length ? correct / outcomes.length : 0,
    ci95: bootstrapAccuracy(outcomes, options),
  };
}

/** Accuracy per group, groups in first-seen order unless `order` is given. */
export function groupAccuracy<T>(
  rows: T[],
  keyOf: (row: T) => string | null,
  correct: (row: T) => boolean,
  options: BootstrapOptions = {},
): Accuracy[] {
  const groups = new Map<string, boolean[]>();
  for (const r of rows) {
    const k = keyOf(r);
    if (k === null) continue;
    const list = groups.get(k) ?? [];
    list.push(correct(r));
    groups.set(k, list);
  }
  return [...groups.entries()].map(([k, outcomes]) => accuracyOf(k, outcomes, options));
}
