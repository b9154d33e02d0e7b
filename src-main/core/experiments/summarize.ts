/**
 * An experiment's statistics from its outputs: per condition, accuracy with a bootstrap CI, the
 * paired change against the baseline (bootstrap CI of the per-item differences, paired permutation
 * p), answer drift, activation shift and first-token KL, the same per task and per difficulty; and
 * for each intervention, paired permutation p against its controls, flagged when a control moves
 * accuracy at least as much. Seeds are offset per statistic so every number is reproducible.
 */
import type { ConditionResult } from '../../contract/contract.js';
import type { StoredItem } from '../datasets/dataset-store.js';
import type { Condition } from './conditions.js';
import type { StoredOutput } from './experiment-store.js';
import { bootstrapMeanCi, mean } from '../stats/bootstrap.js';
import { pairedPermutationP } from './stats.js';

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
        ci95: bootstrapMeanCi(g.c, o.resamples, o.seed + j),
        drift: mean(g.drift),
        shiftNorm: mean(g.shift),
        klFirstToken: mean(g.kl),
        pVsBaseline: id === 'baseline' ? null : pairedPermutationP(g.c, g.base, o.resamples, o.seed + 500 + j),
      }));
  };
  const summary: ConditionResult[] = conditions.map((c, ci) => {
    const outs = results.get(c.id)!;
    const acc = correct(c.id);
    const diff = acc.map((v, i) => v - (base[i]!.correct ? 1 : 0));
    return {
      ...c,
      n: outs.length,
      accuracy: mean(acc),
      ci95: bootstrapMeanCi(acc, o.resamples, o.seed + ci),
      accuracyChange: mean(acc) - baseAcc,
      accuracyChangeCi95: bootstrapMeanCi(diff, o.resamples, o.seed + 1000 + ci),
      drift: mean(outs.map((x, i) => (x.extracted === base[i]!.extracted ? 0 : 1))),
      shiftNorm: mean(outs.map((x) => x.shiftNorm)),
      klFirstToken: mean(outs.map((x) => x.kl)),
      pVsBaseline: c.kind === 'baseline' ? null : pairedPermutationP(acc, correct('baseline'), o.resamples, o.seed + 2000 + ci),
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
  return summary;
}
