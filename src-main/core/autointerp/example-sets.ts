/**
 * The examples an explanation is made from and scored on, as Delphi draws them: the explainer sees
 * the feature's top activating tokens; the scorers see held-out activating tokens sampled evenly from
 * the quantile intervals of its activations (so a description of only its peak scores worse than one
 * of everything it does) and as many tokens it does not fire on, drawn at random. A second draw of
 * non-activating tokens, disjoint from the scorers', is the explainer's contrast set (used by the
 * ground-truth explainer to choose its predicate). All draws are seeded: a re-run gives the same sets.
 *
 * Activation is recomputed exactly (FeatureSamples.scan). A token counts as non-activating only where
 * it was computed to be 0: on a harvest too large to scan whole, they come from the scanned rows.
 */
import type { FeatureExample } from '../../contract/contract.js';
import { scanRows, quantileIntervals, type FeatureScan } from '../analysis/feature-samples.js';
import { mulberry32 } from '../util/random.js';

export interface ExampleCounts {
  /** Top activating examples shown to the explainer. */
  explain: number;
  /** Held-out activating examples for the scorers (as many non-activating ones are added). */
  score: number;
}

export interface ExampleSets {
  explain: FeatureExample[];
  contrast: FeatureExample[];
  /** Held-out examples in a seeded shuffled order, with whether the feature fires on each. */
  score: FeatureExample[];
  truth: boolean[];
}

export interface RowPicks {
  explain: Array<{ row: number; activation: number }>;
  contrast: number[];
  scoreActive: Array<{ row: number; activation: number }>;
  scoreInactive: number[];
}

/** Which rows go where, from a feature's scan (pure: the tests check it without a workspace). */
export function pickRows(
  scan: Pick<FeatureScan, 'rows' | 'acts'>,
  scannedRows: readonly number[] | null,
  totalRows: number,
  counts: ExampleCounts,
  seed: number,
): RowPicks {
  const rand = mulberry32(seed);
  const firing = scan.rows.length;
  const nExplain = Math.min(counts.explain, Math.max(0, firing - 1));
  const explain = Array.from({ length: nExplain }, (_, i) => ({ row: scan.rows[i]!, activation: scan.acts[i]! }));
  // Held-out activating rows: the rest of the ranking, in its quantile intervals, an even share from each.
  const rest = Array.from({ length: firing - nExplain }, (_, i) => nExplain + i);
  const intervals = quantileIntervals(rest.map((i) => scan.acts[i]!)).filter((iv) => iv.count > 0);
  const scoreActive: RowPicks['scoreActive'] = [];
  const want = Math.min(counts.score, rest.length);
  for (let k = 0; scoreActive.length < want && k < want * 4; k++) {
    const iv = intervals[k % intervals.length]!;
    const pool = rest.slice(iv.from, iv.to).filter((i) => !scoreActive.some((s) => s.row === scan.rows[i]));
    if (pool.length === 0) continue;
    const i = pool[Math.floor(rand() * pool.length)]!;
    scoreActive.push({ row: scan.rows[i]!, activation: scan.acts[i]! });
  }
  // Non-activating rows: random scanned rows the feature does not fire on.
  const fires = new Set(scan.rows);
  const candidates = (scannedRows ?? Array.from({ length: totalRows }, (_, i) => i)).filter((r) => !fires.has(r));
  const drawn: number[] = [];
  const need = scoreActive.length + Math.max(nExplain, 1) * 2;
  const taken = new Set<number>();
  while (drawn.length < Math.min(need, candidates.length)) {
    const r = candidates[Math.floor(rand() * candidates.length)]!;
    if (!taken.has(r)) {
      taken.add(r);
      drawn.push(r);
    }
  }
  return {
    explain,
    scoreActive,
    scoreInactive: drawn.slice(0, scoreActive.length),
    contrast: drawn.slice(scoreActive.length),
  };
}

/** The rows a scan computed: all of them, or the even sample FeatureSamples uses on large harvests. */
export function scannedRowList(totalRows: number, dIn: number, bytesPerValue: number): number[] | null {
  const plan = scanRows(totalRows, dIn, bytesPerValue);
  return plan.all ? null : plan.rows;
}

/** Seeded shuffle of held-out examples so a scorer cannot learn "activating ones come first". */
export function shuffleScoring<T>(active: T[], inactive: T[], seed: number): { examples: T[]; truth: boolean[] } {
  const all = [...active.map((e) => ({ e, t: true })), ...inactive.map((e) => ({ e, t: false }))];
  const rand = mulberry32(seed ^ 0x9e3779b9);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return { examples: all.map((x) => x.e), truth: all.map((x) => x.t) };
}
