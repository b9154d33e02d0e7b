/**
 * Accuracy with its Wilson 95% score interval (stats/proportion.ts), which keeps the width the sample
 * size warrants at 0% and 100% where a percentile bootstrap collapses to a point. The bootstrap below
 * is kept for means that are not proportions.
 */
import { wilsonOfOutcomes } from '../stats/proportion.js';
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

export function accuracyOf(key: string, outcomes: boolean[]): Accuracy {
  const correct = outcomes.filter(Boolean).length;
  if (outcomes.length === 0) return { key, n: 0, correct: 0, accuracy: 0, ci95: [0, 1] };
  const w = wilsonOfOutcomes(outcomes);
  return { key, n: outcomes.length, correct, accuracy: w.estimate, ci95: [w.lower, w.upper] };
}

/** Accuracy per group, groups in first-seen order unless `order` is given. */
export function groupAccuracy<T>(rows: T[], keyOf: (row: T) => string | null, correct: (row: T) => boolean): Accuracy[] {
  const groups = new Map<string, boolean[]>();
  for (const r of rows) {
    const k = keyOf(r);
    if (k === null) continue;
    const list = groups.get(k) ?? [];
    list.push(correct(r));
    groups.set(k, list);
  }
  return [...groups.entries()].map(([k, outcomes]) => accuracyOf(k, outcomes));
}
