/**
 * Accuracy with bootstrap confidence intervals (core/stats/bootstrap.ts: items resampled with
 * replacement, seeded, percentile interval). The number of resamples and the seed are
 * reported with every result.
 */
import { bootstrapMeanCi } from '../stats/bootstrap.js';

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

/** Percentile bootstrap CI of the share correct (the mean of 0/1 outcomes; core/stats/bootstrap.ts). */
export function bootstrapAccuracy(outcomes: boolean[], options: BootstrapOptions = {}): [number, number] {
  const values = outcomes.map((o) => (o ? 1 : 0));
  return bootstrapMeanCi(values, options.resamples ?? 2000, options.seed ?? 0, options.level ?? 0.95);
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
