/**
 * Which tasks' accuracy changed between the two checkpoints, and the features that moved most on them.
 *
 * Per task, on the same items: accuracy of each model with its Wilson 95% interval, the paired change
 * (tuned − base) with Newcombe's hybrid-score interval, the mid-p McNemar test, and Holm and
 * Benjamini–Hochberg adjusted p-values across the tasks. A task changed when its Holm-adjusted p < alpha.
 *
 * Linked features: for feature f, Δ_task(f) is its pooled mean-activation change on the task's items and
 * Δ_rest(f) on the other items; features are ranked by |Δ_task| − |Δ_rest| (moved on this task more than
 * elsewhere), each with Δ_task's paired bootstrap interval over the task's items.
 */
import { mcnemarMidP, pairedDifferenceInterval, pairedTable } from '../stats/paired.js';
import { benjaminiHochbergAdjust, holmAdjust } from '../stats/p-adjust.js';
import { wilsonOfOutcomes } from '../stats/proportion.js';
import { itemResamples, pooledChange, type DiffAccumulator } from './feature-change.js';

export interface LinkedFeature {
  feature: number;
  onTask: number;
  onTaskCi95: [number, number];
  elsewhere: number;
}

export interface TaskChange {
  task: string;
  n: number;
  base: { accuracy: number; ci95: [number, number] };
  tuned: { accuracy: number; ci95: [number, number] };
  change: { value: number; ci95: [number, number] };
  p: number;
  pHolm: number;
  pBh: number;
  changed: boolean;
  features: LinkedFeature[];
}

export function taskChanges(
  acc: DiffAccumulator,
  tasks: readonly string[],
  correct: [readonly boolean[], readonly boolean[]],
  opts: { alpha: number; linked: number; resamples: number; seed: number },
): TaskChange[] {
  const names = [...new Set(tasks)].sort();
  const rows = names.map((task) => {
    const items = tasks.flatMap((t, i) => (t === task ? [i] : []));
    const rest = tasks.flatMap((t, i) => (t === task ? [] : [i]));
    const b = items.map((i) => correct[0][i]!);
    const t = items.map((i) => correct[1][i]!);
    const wb = wilsonOfOutcomes(b);
    const wt = wilsonOfOutcomes(t);
    const table = pairedTable(t, b);
    const diff = pairedDifferenceInterval(table);
    return { task, items, rest, wb, wt, diff, p: mcnemarMidP(table) };
  });
  const holm = holmAdjust(rows.map((r) => r.p));
  const bh = benjaminiHochbergAdjust(rows.map((r) => r.p));
  return rows.map((r, j) => ({
    task: r.task,
    n: r.items.length,
    base: { accuracy: r.wb.estimate, ci95: [r.wb.lower, r.wb.upper] },
    tuned: { accuracy: r.wt.estimate, ci95: [r.wt.lower, r.wt.upper] },
    change: { value: r.diff.difference, ci95: [r.diff.lower, r.diff.upper] },
    p: r.p,
    pHolm: holm[j]!,
    pBh: bh[j]!,
    changed: holm[j]! < opts.alpha,
    features: linkedFeatures(acc, r.items, r.rest, opts.linked, itemResamples(r.items, opts.resamples, opts.seed + j + 1)),
  }));
}

function linkedFeatures(acc: DiffAccumulator, items: number[], rest: number[], n: number, resamples: Int32Array[]): LinkedFeature[] {
  const pooled = (arr: Float64Array, idx: number[], f: number) => {
    let s = 0;
    let k = 0;
    for (const i of idx) {
      s += arr[i * acc.dSae + f]!;
      k += acc.tokens[i]!;
    }
    return k > 0 ? s / k : 0;
  };
  const scored = Array.from({ length: acc.dSae }, (_, f) => {
    const onTask = pooled(acc.acts[1], items, f) - pooled(acc.acts[0], items, f);
    const elsewhere = rest.length ? pooled(acc.acts[1], rest, f) - pooled(acc.acts[0], rest, f) : 0;
    return { feature: f, onTask, elsewhere, score: Math.abs(onTask) - Math.abs(elsewhere) };
  });
  scored.sort((a, b) => b.score - a.score || a.feature - b.feature);
  return scored.slice(0, n).map((s) => ({
    feature: s.feature,
    onTask: s.onTask,
    onTaskCi95: pooledChange(acc.acts[0], acc.acts[1], acc.tokens, acc.dSae, s.feature, items, resamples).ci95,
    elsewhere: s.elsewhere,
  }));
}
