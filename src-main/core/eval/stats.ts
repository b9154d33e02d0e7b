/**
 * Accuracy with its Wilson 95% score interval (stats/proportion.ts), which keeps the width the sample
 * size warrants at 0% and 100% where a percentile bootstrap collapses to a point.
 */
import { wilsonOfOutcomes } from '../stats/proportion.js';

export interface Accuracy {
  key: string;
  n: number;
  correct: number;
  accuracy: number;
  ci95: [number, number];
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
