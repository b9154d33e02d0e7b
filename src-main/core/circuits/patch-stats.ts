/**
 * Statistics of a circuit patch over pairs (A, B), with the tests experiments use (core/stats,
 * experiments/stats.ts): per condition (B clean, B patched with the chosen features, B patched with
 * each random-feature control) the share of pairs whose top answer became A's and the share that
 * kept B's, each with its Wilson 95% interval, and the mean shift of logit(A) − logit(B) from clean.
 * Against clean: the paired change in "answers A" (Newcombe's interval, mid-p McNemar), Holm / BH
 * across conditions. The patch against each control: the same paired change and McNemar p, and a
 * paired permutation (sign-flip) p on the logit-difference shifts, each family Holm / BH adjusted
 * across the controls. Flagged when some control moves the answer toward A at least as much.
 */
import { pairedPermutationP } from '../experiments/stats.js';
import { mean } from '../stats/bootstrap.js';
import { mcnemarMidP, pairedDifferenceInterval, pairedTable } from '../stats/paired.js';
import { adjustPValues } from '../stats/p-adjust.js';
import { wilsonOfOutcomes } from '../stats/proportion.js';
import type { PatchOutcome } from './patch.js';

export interface PatchPair {
  a: string;
  b: string;
  /** First tokens of A's and B's answers. */
  answerA: number;
  answerB: number;
  clean: PatchOutcome;
  patched: PatchOutcome;
  controls: PatchOutcome[];
  /** (layer, position, feature) sites the patch sets. */
  sites: number;
  /** Groups left without a control feature (the layer had none left to draw). */
  controlsShort: number;
}

export interface Interval {
  share: number;
  ci95: [number, number];
}

export interface PatchConditionRow {
  id: string;
  n: number;
  answersA: Interval;
  keepsB: Interval;
  /** Mean of logit-difference minus B's clean logit difference. */
  meanShift: number;
  vsClean: { difference: number; ci95: [number, number]; p: number; pHolm: number; pBh: number } | null;
}

export interface PatchVsControl {
  control: string;
  answersADifference: number;
  ci95: [number, number];
  pMcNemar: number;
  pMcNemarHolm: number;
  pMcNemarBh: number;
  shiftDifference: number;
  pPermutation: number;
  pPermutationHolm: number;
  pPermutationBh: number;
}

export interface PatchSummary {
  pairs: number;
  conditions: PatchConditionRow[];
  patchVsControls: PatchVsControl[];
  flagged: boolean;
}

const interval = (outcomes: boolean[]): Interval => {
  const w = wilsonOfOutcomes(outcomes);
  return { share: w.estimate, ci95: [w.lower, w.upper] };
};

export function summarizePatch(pairs: PatchPair[], o: { resamples: number; seed: number }): PatchSummary {
  if (pairs.length === 0) throw new RangeError('a patch summary needs at least one pair');
  const k = Math.min(...pairs.map((p) => p.controls.length));
  const conditions: Array<{ id: string; of: (p: PatchPair) => PatchOutcome }> = [
    { id: 'clean', of: (p) => p.clean },
    { id: 'patch', of: (p) => p.patched },
    ...Array.from({ length: k }, (_, i) => ({ id: `random features ${i + 1}`, of: (p: PatchPair) => p.controls[i]! })),
  ];
  const toA = (of: (p: PatchPair) => PatchOutcome) => pairs.map((p) => of(p).top === p.answerA);
  const shift = (of: (p: PatchPair) => PatchOutcome) => pairs.map((p) => of(p).logitDiff - p.clean.logitDiff);
  const cleanToA = toA((p) => p.clean);
  const rows: PatchConditionRow[] = conditions.map((c) => ({
    id: c.id,
    n: pairs.length,
    answersA: interval(toA(c.of)),
    keepsB: interval(pairs.map((p) => c.of(p).top === p.answerB)),
    meanShift: mean(shift(c.of)),
    vsClean: null,
  }));
  const tested = rows.slice(1);
  const raw = conditions.slice(1).map((c) => {
    const t = pairedTable(toA(c.of), cleanToA);
    return { diff: pairedDifferenceInterval(t), p: mcnemarMidP(t) };
  });
  const holm = adjustPValues(
    raw.map((r) => r.p),
    'holm',
  );
  const bh = adjustPValues(
    raw.map((r) => r.p),
    'bh',
  );
  tested.forEach((r, i) => {
    const { diff, p } = raw[i]!;
    r.vsClean = { difference: diff.difference, ci95: [diff.lower, diff.upper], p, pHolm: holm[i]!, pBh: bh[i]! };
  });

  const patchToA = toA((p) => p.patched);
  const patchShift = shift((p) => p.patched);
  const vs = conditions.slice(2).map((c, i) => {
    const t = pairedTable(patchToA, toA(c.of));
    const d = pairedDifferenceInterval(t);
    const s = shift(c.of);
    return {
      control: c.id,
      answersADifference: d.difference,
      ci95: [d.lower, d.upper] as [number, number],
      pMcNemar: mcnemarMidP(t),
      shiftDifference: mean(patchShift) - mean(s),
      pPermutation: pairedPermutationP(patchShift, s, o.resamples, o.seed + 4000 + i),
    };
  });
  const adjust = (p: number[]) => ({ holm: adjustPValues(p, 'holm'), bh: adjustPValues(p, 'bh') });
  const mc = adjust(vs.map((v) => v.pMcNemar));
  const perm = adjust(vs.map((v) => v.pPermutation));
  const patchVsControls: PatchVsControl[] = vs.map((v, i) => ({
    ...v,
    pMcNemarHolm: mc.holm[i]!,
    pMcNemarBh: mc.bh[i]!,
    pPermutationHolm: perm.holm[i]!,
    pPermutationBh: perm.bh[i]!,
  }));
  const patchRow = rows[1]!;
  const flagged = rows.slice(2).some((r) => r.answersA.share >= patchRow.answersA.share);
  return { pairs: pairs.length, conditions: rows, patchVsControls, flagged };
}
