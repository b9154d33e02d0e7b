/**
 * The conditions an experiment runs: the baseline, each feature set at each sweep value, the union of
 * the first two sets (the interference test), and for every intervention its controls — random
 * feature sets of the same size under the same operation, and a random direction scaled to the
 * intervention's measured activation shift on each item.
 */
import type { ExperimentSpec } from '../../contract/contract.js';
import { mulberry32 } from '../util/random.js';

export interface Condition {
  id: string;
  kind: 'baseline' | 'intervention' | 'union' | 'random-set' | 'random-direction';
  set: string | null;
  value: number | null;
  features: number[];
  controlFor: string | null;
}

const sweep = (spec: ExperimentSpec): Array<number | null> => ('values' in spec.operation ? spec.operation.values : [null]);
const label = (v: number | null) => (v === null ? '' : `@${v}`);

export function buildConditions(spec: ExperimentSpec, sets: Map<string, number[]>, alive: number[]): Condition[] {
  const rand = mulberry32(spec.seed * 7 + 1);
  const out: Condition[] = [{ id: 'baseline', kind: 'baseline', set: null, value: null, features: [], controlFor: null }];
  const interventions: Condition[] = [];
  for (const v of sweep(spec)) {
    for (const [name, features] of sets)
      interventions.push({ id: `${name}${label(v)}`, kind: 'intervention', set: name, value: v, features, controlFor: null });
    if (spec.controls.union && sets.size >= 2) {
      const [[a, fa], [b, fb]] = [...sets] as [[string, number[]], [string, number[]]];
      interventions.push({
        id: `${a} ∪ ${b}${label(v)}`,
        kind: 'union',
        set: `${a} ∪ ${b}`,
        value: v,
        features: [...new Set([...fa, ...fb])],
        controlFor: null,
      });
    }
  }
  for (const c of interventions) {
    out.push(c);
    for (let i = 0; i < spec.controls.randomSets; i++) {
      const pool = alive.filter((f) => !c.features.includes(f));
      const picked: number[] = [];
      while (picked.length < Math.min(c.features.length, pool.length)) {
        const f = pool[Math.floor(rand() * pool.length)]!;
        if (!picked.includes(f)) picked.push(f);
      }
      out.push({
        id: `random set ${i + 1} for ${c.id}`,
        kind: 'random-set',
        set: c.set,
        value: c.value,
        features: picked.sort((x, y) => x - y),
        controlFor: c.id,
      });
    }
    if (spec.controls.randomDirections)
      out.push({
        id: `random direction for ${c.id}`,
        kind: 'random-direction',
        set: c.set,
        value: c.value,
        features: [],
        controlFor: c.id,
      });
  }
  return out;
}
