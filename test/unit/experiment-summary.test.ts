/** Experiment statistics from stored outputs (core/experiments/summarize.ts), without running a model. */
import { describe, expect, it } from 'vitest';
import type { StoredItem } from '../../src-main/core/datasets/dataset-store';
import type { Condition } from '../../src-main/core/experiments/conditions';
import type { StoredOutput } from '../../src-main/core/experiments/experiment-store';
import { pairedPermutationP } from '../../src-main/core/experiments/stats';
import { bootstrapMeanCi } from '../../src-main/core/stats/bootstrap';
import { summarizeExperiment } from '../../src-main/core/experiments/summarize';

const item = (id: number, task: string, difficulty: number): StoredItem => ({
  id,
  key: String(id),
  image: `${id}.png`,
  question: 'q',
  answer: { type: 'text', value: 'red' },
  task,
  difficulty,
  scene: null,
});
const cond = (id: string, kind: Condition['kind'], controlFor: string | null = null): Condition => ({
  id,
  kind,
  set: null,
  value: null,
  features: [],
  controlFor,
});
const outputs = (condition: string, correct: number[], extracted: string[], shift = 0): StoredOutput[] =>
  correct.map((c, i) => ({
    itemId: i + 1,
    condition,
    raw: extracted[i]!,
    extracted: extracted[i]!,
    correct: c === 1,
    shiftNorm: shift,
    kl: 0.5 * i,
  }));

describe('experiment summary', () => {
  const items = [item(1, 'color', 1), item(2, 'color', 2), item(3, 'shape', 1), item(4, 'shape', 2)];
  const conditions = [cond('baseline', 'baseline'), cond('ablate', 'intervention'), cond('random', 'random-set', 'ablate')];
  const results = new Map([
    ['baseline', outputs('baseline', [1, 1, 1, 1], ['a', 'b', 'c', 'd'])],
    ['ablate', outputs('ablate', [0, 0, 1, 1], ['x', 'y', 'c', 'd'], 2)],
    ['random', outputs('random', [1, 1, 1, 0], ['a', 'b', 'c', 'z'], 2)],
  ]);
  const o = { resamples: 200, seed: 3 };
  const [base, ablate, random] = summarizeExperiment(conditions, results, items, o);

  it('gives accuracy, paired change, drift, shift and KL per condition', () => {
    expect(base).toMatchObject({ id: 'baseline', n: 4, accuracy: 1, accuracyChange: 0, drift: 0, pVsBaseline: null, klFirstToken: 0.75 });
    expect(ablate).toMatchObject({ n: 4, accuracy: 0.5, accuracyChange: -0.5, drift: 0.5, shiftNorm: 2 });
    expect(ablate!.ci95).toEqual(bootstrapMeanCi([0, 0, 1, 1], 200, 3 + 1));
    expect(ablate!.accuracyChangeCi95).toEqual(bootstrapMeanCi([-1, -1, 0, 0], 200, 3 + 1000 + 1));
    expect(ablate!.pVsBaseline).toBe(pairedPermutationP([0, 0, 1, 1], [1, 1, 1, 1], 200, 3 + 2000 + 1));
  });

  it('groups by task and difficulty, sorted by key', () => {
    expect(ablate!.byTask.map((g) => [g.key, g.n, g.accuracy, g.drift])).toEqual([
      ['color', 2, 0, 1],
      ['shape', 2, 1, 0],
    ]);
    expect(ablate!.byDifficulty.map((g) => g.key)).toEqual(['1', '2']);
  });

  it('tests an intervention against its controls and flags it when a control moves accuracy as much', () => {
    expect(Object.keys(ablate!.pVsControls)).toEqual(['random']);
    expect(ablate!.pVsControls.random).toBe(pairedPermutationP([0, 0, 1, 1], [1, 1, 1, 0], 200, 3 + 3000));
    expect(ablate!.flagged).toBe(false); // the control changed accuracy by 0.25, the intervention by 0.5
    expect(random).toMatchObject({ accuracyChange: -0.25, flagged: false, pVsControls: {} });
    const tied = new Map(results).set('random', outputs('random', [0, 1, 0, 1], ['a', 'b', 'c', 'd']));
    expect(summarizeExperiment(conditions, tied, items, o)[1]!.flagged).toBe(true);
  });
});
