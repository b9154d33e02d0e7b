/**
 * Replication across SAE seeds: one experiment spec run over SAEs trained with different seeds (each
 * with its own analysis, so selective feature sets are re-chosen per SAE). How large an ablation's
 * effect is depends on the SAE (the demo's colour set cost 50–94 points over four seeds), so the range
 * is a result in itself: per effect, every seed's accuracy change against the baseline, min / median /
 * max, and a Student-t 95% interval for the mean over seeds (df = seeds - 1; with three seeds the
 * critical value is 4.30, and the interval says how little three seeds pin down).
 */
import type { ExperimentRecord, ExperimentSpec, ReplicatedEffect } from '../../contract/contract.js';
import { OcularError } from '../errors.js';
import { tMeanCi } from '../stats/student-t.js';

/** The spec fields a replicate may change: the SAE, its analysis, and the name. */
const PER_RUN: Array<keyof ExperimentSpec> = ['saeId', 'analysisId', 'name'];

/** Refuse experiments that are not one spec over different SAEs, naming the first field that differs. */
export function checkReplicates(specs: ExperimentSpec[]): void {
  if (specs.length < 2) throw new OcularError('invalid_request', 'A replication needs at least two experiments (SAE seeds).');
  const first = specs[0]!;
  const saes = new Set(specs.map((s) => s.saeId));
  if (saes.size !== specs.length)
    throw new OcularError('invalid_request', 'Each replicate must use a different SAE (one per training seed).');
  for (const spec of specs.slice(1)) {
    for (const key of Object.keys(first) as Array<keyof ExperimentSpec>) {
      if (PER_RUN.includes(key)) continue;
      if (JSON.stringify(first[key]) !== JSON.stringify(spec[key]))
        throw new OcularError('invalid_request', `Replicates must share the experiment's spec apart from the SAE: '${key}' differs.`);
    }
  }
}

/**
 * The t interval, clipped to the possible range of an accuracy change ([-1, 1]); none when every seed
 * gave the same effect (no spread to estimate: a zero-width interval would claim a certainty three
 * seeds cannot give) or with one seed.
 */
function spreadCi(values: number[], sorted: number[]): [number, number] | null {
  if (sorted[0] === sorted[sorted.length - 1]) return null;
  const ci = tMeanCi(values);
  return ci && [Math.max(-1, ci[0]), Math.min(1, ci[1])];
}

function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

interface Run {
  experiment: ExperimentRecord;
  saeSeed: number | null;
}

/**
 * Every intervention's and union's effect, overall and per task, across the runs (null until every
 * run has results). Conditions are matched by id, which the shared spec makes the same in each run.
 */
export function replicatedEffects(runs: Run[]): ReplicatedEffect[] | null {
  if (runs.some((r) => r.experiment.results === null)) return null;
  const first = runs[0]!.experiment.results!;
  const effects: ReplicatedEffect[] = [];
  for (const c of first.conditions.filter((c) => c.kind === 'intervention' || c.kind === 'union')) {
    const tasks: Array<string | null> = [null, ...c.byTask.map((t) => t.key)];
    for (const task of tasks) {
      const perSeed = runs.map(({ experiment, saeSeed }) => {
        const conditions = experiment.results!.conditions;
        const cond = conditions.find((x) => x.id === c.id);
        const base = conditions.find((x) => x.kind === 'baseline');
        if (!cond || !base)
          throw new OcularError('invalid_request', `Experiment ${experiment.id} has no condition '${c.id}' to compare across seeds.`);
        const group = task === null ? null : cond.byTask.find((g) => g.key === task);
        const baseGroup = task === null ? null : base.byTask.find((g) => g.key === task);
        if (task !== null && (!group || !baseGroup))
          throw new OcularError('invalid_request', `Experiment ${experiment.id} has no '${task}' items under '${c.id}'.`);
        return {
          experimentId: experiment.id,
          saeId: experiment.spec.saeId,
          saeSeed,
          effect: task === null ? cond.accuracyChange : group!.accuracy - baseGroup!.accuracy,
          pVsBaseline: task === null ? cond.pVsBaseline : group!.pVsBaseline,
        };
      });
      const values = perSeed.map((s) => s.effect);
      const sorted = [...values].sort((a, b) => a - b);
      effects.push({
        condition: c.id,
        set: c.set,
        value: c.value,
        task,
        perSeed,
        min: sorted[0]!,
        median: median(sorted),
        max: sorted[sorted.length - 1]!,
        mean: values.reduce((a, b) => a + b, 0) / values.length,
        ci95: spreadCi(values, sorted),
      });
    }
  }
  return effects;
}

/** "colour-question features on color: -94 .. -50 points across 3 seeds (median -71; mean -72, 95% t CI [-130, -14])". */
export function formatReplicatedEffect(e: ReplicatedEffect): string {
  const pts = (v: number) => `${v > 0 ? '+' : ''}${(v * 100).toFixed(0)}`;
  const ci = e.ci95 ? `, 95% t CI [${pts(e.ci95[0])}, ${pts(e.ci95[1])}]` : e.min === e.max ? ', the same for every seed' : '';
  const value = e.value === null ? '' : ` x${e.value}`;
  return (
    `${e.set ?? e.condition}${value} on ${e.task ?? 'all items'}: ${pts(e.min)} .. ${pts(e.max)} points across ${e.perSeed.length} seeds` +
    ` (median ${pts(e.median)}; mean ${pts(e.mean)}${ci}; per seed ${e.perSeed.map((s) => pts(s.effect)).join(', ')})`
  );
}
