/**
 * The patch-masking comparison table: for each (method, keep share), accuracy on the masked items with
 * its Wilson 95% interval, and its paired difference from keeping the same number of random patches
 * on the same items (Newcombe's paired interval, mid-p McNemar), with Holm and Benjamini–Hochberg
 * adjusted p-values across the table's comparisons (stats/).
 */
import { pairedDifferenceInterval, pairedTable, mcnemarMidP } from '../stats/paired.js';
import { benjaminiHochbergAdjust, holmAdjust } from '../stats/p-adjust.js';
import { wilsonOfOutcomes } from '../stats/proportion.js';
import type { PatchMethod } from './patch-scores.js';

export interface MaskCondition {
  method: PatchMethod | 'full';
  keep: number;
  /** Correct or not, per item key. */
  outcomes: Map<string, boolean>;
}

export interface MaskRow {
  method: PatchMethod | 'full';
  keep: number;
  n: number;
  accuracy: number;
  ci95: [number, number];
  /** Against random patches at the same share (null for random itself and the full image). */
  vsRandom: { difference: number; ci95: [number, number]; p: number; pHolm: number; pBh: number } | null;
}

export function maskComparison(conditions: readonly MaskCondition[]): MaskRow[] {
  const rows: MaskRow[] = conditions.map((c) => {
    const outcomes = [...c.outcomes.values()];
    const w = wilsonOfOutcomes(outcomes);
    return { method: c.method, keep: c.keep, n: outcomes.length, accuracy: w.estimate, ci95: [w.lower, w.upper], vsRandom: null };
  });
  const tests: Array<{ row: MaskRow; diff: ReturnType<typeof pairedDifferenceInterval>; p: number }> = [];
  conditions.forEach((c, i) => {
    if (c.method === 'random' || c.method === 'full') return;
    const random = conditions.find((r) => r.method === 'random' && r.keep === c.keep);
    if (!random) return;
    const keys = [...c.outcomes.keys()].filter((k) => random.outcomes.has(k)).sort();
    if (keys.length === 0) return;
    const t = pairedTable(
      keys.map((k) => c.outcomes.get(k)!),
      keys.map((k) => random.outcomes.get(k)!),
    );
    tests.push({ row: rows[i]!, diff: pairedDifferenceInterval(t), p: mcnemarMidP(t) });
  });
  const holm = holmAdjust(tests.map((t) => t.p));
  const bh = benjaminiHochbergAdjust(tests.map((t) => t.p));
  tests.forEach((t, j) => {
    t.row.vsRandom = { difference: t.diff.difference, ci95: [t.diff.lower, t.diff.upper], p: t.p, pHolm: holm[j]!, pBh: bh[j]! };
  });
  return rows;
}
