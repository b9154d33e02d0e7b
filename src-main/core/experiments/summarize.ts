/**
 * An experiment's statistics from its outputs: per condition, accuracy with its Wilson 95% interval
 * (exact at 0% and 100%, where a bootstrap collapses to a point), the paired change against the
 * baseline (the effect size, with Newcombe's paired score interval; paired permutation p, adjusted
 * across the table's conditions by Holm and by Benjamini–Hochberg), answer drift, activation shift and first-token KL, the same per task and per difficulty; and
 * for each intervention, paired permutation p against its controls, flagged when a control moves
 * accuracy at least as much. Seeds are offset per statistic so every number is reproducible.
 */
import type { ConditionResult } from '../../contract/contract.js';
import type { StoredItem } from '../datasets/dataset-store.js';
import type { Condition } from './conditions.js';
import type { StoredOutput } from './experiment-store.js';
import { pairedDifferenceInterval, pairedTable } from '../stats/paired.js';
import { adjustPValues } from '../stats/p-adjust.js';
import { wilsonOfOutcomes } from '../stats/proportion.js';
import { mean } from '../stats/bootstrap.js';
import { pairedPermutationP } from './stats.js';

const wilson95 = (acc: number[]): [number, number] => {
  const w = wilsonOfOutcomes(acc.map((v) => v === 1));
  return [w.lower, w.upper];
};

/** Holm and BH adjustments of the non-null p-values of a table, written back beside each raw p. */
function adjustInPlace(rows: Array<{ pVsBaseline: number | null; pVsBaselineHolm: number | null; pVsBaselineBh: number | null }>): void {
  const tested = rows.filter((r) => r.pVsBaseline !== null);
  const raw = tested.map((r) => r.pVsBaseline!);
  const holm = adjustPValues(raw, 'holm');
  const bh = adjustPValues(raw, 'bh');
  tested.forEach((r, i) => {
    r.pVsBaselineHolm = holm[i]!;
    r.pVsBaselineBh = bh[i]!;
  });
}

export interface SummaryOptions {
  resamples: number;
  seed: number;
}

type Group = { c: number[]; base: number[]; drift: number[]; shift: number[] };

/** Conditions' results, in the order given; every condition's outputs are in the baseline's item order. */
export function summarizeExperiment(
  conditions: Condition[],
  results: Map<string, StoredOutput[]>,
  items: StoredItem[],
  o: SummaryOptions,
): ConditionResult[] {
  const base = results.get('baseline')!;
  const byItem = new Map(items.map((it) => [it.id, it]));
  const correct = (id: string) => results.get(id)!.map((x) => (x.correct ? 1 : 0));
  const baseAcc = mean(correct('baseline'));
  const groups = (id: string, key: (it: StoredItem) => string | null) => {
    const out = new Map<string, Group & { kl: number[] }>();
    results.get(id)!.forEach((x, i) => {
      const k = key(byItem.get(x.itemId)!);
      if (k === null) return;
      const g = out.get(k) ?? { c: [], base: [], drift: [], shift: [], kl: [] };
      g.c.push(x.correct ? 1 : 0);
      g.base.push(base[i]!.correct ? 1 : 0);
      g.drift.push(x.extracted === base[i]!.extracted ? 0 : 1);
      g.shift.push(x.shiftNorm);
      g.kl.push(x.kl);
      out.set(k, g);
    });
    return [...out]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, g], j) => ({
        key: k,
        n: g.c.length,
        accuracy: mean(g.c),
        ci95: wilson95(g.c),
        drift: mean(g.drift),
        shiftNorm: mean(g.shift),
        klFirstToken: mean(g.kl),
        pVsBaseline: id === 'baseline' ? null : pairedPermutationP(g.c, g.base, o.resamples, o.seed + 500 + j),
        pVsBaselineHolm: null as number | null,
        pVsBaselineBh: null as number | null,
      }));
  };
  const summary: ConditionResult[] = conditions.map((c, ci) => {
    const outs = results.get(c.id)!;
    const acc = correct(c.id);
    const change = pairedDifferenceInterval(
      pairedTable(
        acc.map((v) => v === 1),
        base.map((b) => b.correct),
      ),
    );
    return {
      ...c,
      n: outs.length,
      accuracy: mean(acc),
      ci95: wilson95(acc),
      accuracyChange: mean(acc) - baseAcc,
      accuracyChangeCi95: [change.lower, change.upper] as [number, number],
      drift: mean(outs.map((x, i) => (x.extracted === base[i]!.extracted ? 0 : 1))),
      shiftNorm: mean(outs.map((x) => x.shiftNorm)),
      klFirstToken: mean(outs.map((x) => x.kl)),
      pVsBaseline: c.kind === 'baseline' ? null : pairedPermutationP(acc, correct('baseline'), o.resamples, o.seed + 2000 + ci),
      pVsBaselineHolm: null,
      pVsBaselineBh: null,
      pVsControls: {},
      flagged: false,
      byTask: groups(c.id, (it) => it.task),
      byDifficulty: groups(c.id, (it) => (it.difficulty === null ? null : String(it.difficulty))),
    };
  });
  for (const r of summary) {
    if (r.kind !== 'intervention' && r.kind !== 'union') continue;
    const controls = summary.filter((x) => x.controlFor === r.id);
    for (const [j, ctl] of controls.entries())
      r.pVsControls[ctl.id] = pairedPermutationP(correct(r.id), correct(ctl.id), o.resamples, o.seed + 3000 + j);
    r.flagged = controls.some((ctl) => Math.abs(ctl.accuracyChange) >= Math.abs(r.accuracyChange));
  }
  // Multiple comparisons: the conditions against the baseline form one family; each breakdown (all
  // conditions' per-task groups, all per-difficulty groups) forms another.
  adjustInPlace(summary);
  adjustInPlace(summary.flatMap((r) => r.byTask));
  adjustInPlace(summary.flatMap((r) => r.byDifficulty));
  return summary;
}
