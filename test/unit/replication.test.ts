/**
 * Replication across SAE seeds (core/experiments/replication.ts, replication-store.ts) and the Student t
 * distribution behind its interval (core/stats/student-t.ts).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConditionResult, ExperimentResults, ExperimentSpec } from '../../src-main/contract/contract';
import { contract, experimentSpecSchema } from '../../src-main/contract/contract';
import { checkReplicates, formatReplicatedEffect, replicatedEffects } from '../../src-main/core/experiments/replication';
import { experimentHtml } from '../../src-main/core/experiments/report';
import { Stores } from '../../src-main/core/store/stores';
import { Workspace } from '../../src-main/core/store/workspace';
import { MIGRATIONS } from '../../src-main/core/store/migrations';
import { incompleteBeta, tCdf, tMeanCi, tQuantile } from '../../src-main/core/stats/student-t';
import { tmpDir } from '../helpers/tmp';

describe("Student's t", () => {
  it('matches the closed forms at df 1 and 2 and the printed table at df 3, 10, 30', () => {
    // df = 1 is Cauchy: F(t) = 1/2 + atan(t)/pi; df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
    for (const t of [-30, -2, -0.3, 0, 0.7, 4, 50]) {
      expect(tCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 13);
      expect(tCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 13);
    }
    expect(tQuantile(0.975, 1)).toBeCloseTo(Math.tan(Math.PI * 0.475), 9);
    expect(tQuantile(0.975, 2)).toBeCloseTo(0.95 / Math.sqrt(2 * 0.975 * 0.025), 10);
    expect(tQuantile(0.975, 3)).toBeCloseTo(3.182446305284263, 10);
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.228138851986274, 10);
    expect(tQuantile(0.975, 30)).toBeCloseTo(2.042272456301237, 10);
    expect(tQuantile(0.025, 10)).toBeCloseTo(-2.228138851986274, 10);
    // I_x(a, b) against its closed forms: I_x(1, b) = 1 - (1 - x)^b, I_x(a, 1) = x^a.
    expect(incompleteBeta(0.3, 1, 4.5)).toBeCloseTo(1 - 0.7 ** 4.5, 14);
    expect(incompleteBeta(0.8, 2.5, 1)).toBeCloseTo(0.8 ** 2.5, 14);
  });

  it('gives the t interval of a mean, and none for a single value', () => {
    const [lo, hi] = tMeanCi([-0.94, -0.71, -0.5])!;
    const m = (-0.94 - 0.71 - 0.5) / 3;
    const sd = Math.sqrt(((-0.94 - m) ** 2 + (-0.71 - m) ** 2 + (-0.5 - m) ** 2) / 2);
    expect(lo).toBeCloseTo(m - 4.302652729749464 * (sd / Math.sqrt(3)), 9);
    expect(hi).toBeCloseTo(m + 4.302652729749464 * (sd / Math.sqrt(3)), 9);
    expect(tMeanCi([0.5])).toBeNull();
  });
});

const group = (key: string, accuracy: number, p: number | null = null) => ({
  key,
  n: 10,
  accuracy,
  ci95: [0, 1] as [number, number],
  drift: 0,
  shiftNorm: 0,
  klFirstToken: 0,
  pVsBaseline: p,
  pVsBaselineHolm: null,
  pVsBaselineBh: null,
});
const condition = (id: string, kind: ConditionResult['kind'], color: number, shape: number, p = 0.001): ConditionResult => ({
  id,
  kind,
  set: kind === 'baseline' ? null : id,
  value: null,
  features: [],
  controlFor: null,
  n: 20,
  accuracy: (color + shape) / 2,
  ci95: [0, 1],
  accuracyChange: (color + shape) / 2 - 1,
  accuracyChangeCi95: [-1, 1],
  drift: 0,
  shiftNorm: 0,
  klFirstToken: 0,
  pVsBaseline: kind === 'baseline' ? null : p,
  pVsBaselineHolm: null,
  pVsBaselineBh: null,
  pVsControls: {},
  flagged: false,
  byTask: [group('color', color, kind === 'baseline' ? null : p), group('shape', shape, kind === 'baseline' ? null : 0.5)],
  byDifficulty: [],
});
const results = (colourOnColour: number): ExperimentResults => ({
  conditions: [
    condition('baseline', 'baseline', 1, 1),
    condition('colour', 'intervention', colourOnColour, 1),
    condition('random:colour:0', 'random-set', 1, 1),
  ],
  items: 20,
  resamples: 2000,
  seed: 0,
  version: 'test',
  featureSets: {},
  seconds: 1,
});
const spec = (saeId: number): ExperimentSpec =>
  experimentSpecSchema.parse({
    name: `e${saeId}`,
    modelId: 1,
    saeId,
    analysisId: saeId,
    datasetId: 1,
    tasks: ['color', 'shape'],
    featureSets: [{ name: 'colour', selective: { task: 'color', top: 20 } }],
    operation: { op: 'zero' },
  });
const record = (id: number, colour: number | null) => ({
  id,
  jobId: null,
  name: `e${id}`,
  spec: spec(id),
  results: colour === null ? null : results(colour),
  createdAt: '',
});

describe('replication across SAE seeds', () => {
  it("reports each effect's per-seed values, range, median and t interval, overall and per task", () => {
    const runs = [0.06, 0.5, 0.29].map((c, i) => ({ experiment: record(i + 1, c), saeSeed: i }));
    const effects = replicatedEffects(runs)!;
    // One intervention (no union here), overall and on each of its two tasks; controls are not effects.
    expect(effects.map((e) => `${e.condition}/${e.task}`)).toEqual(['colour/null', 'colour/color', 'colour/shape']);
    const colour = effects[1]!;
    expect(colour.perSeed.map((s) => [s.saeSeed, s.experimentId, s.effect])).toEqual([
      [0, 1, -0.94],
      [1, 2, -0.5],
      [2, 3, -0.71],
    ]);
    expect(colour.perSeed.every((s) => s.pVsBaseline === 0.001)).toBe(true);
    expect([colour.min, colour.median, colour.max]).toEqual([-0.94, -0.71, -0.5]);
    expect(colour.mean).toBeCloseTo(-0.7166666666666667, 14);
    const t = tMeanCi([-0.94, -0.5, -0.71])!;
    expect(t[0]).toBeLessThan(-1); // clipped to the possible range
    expect(colour.ci95).toEqual([-1, t[1]]);
    // No spread: no interval (not a zero-width one).
    expect(effects[2]!.perSeed.map((s) => s.effect)).toEqual([0, 0, 0]);
    expect(effects[2]!.ci95).toBeNull();
    expect(formatReplicatedEffect(effects[2]!)).toMatch(/0 \.\. 0 points across 3 seeds \(median 0; mean 0, the same for every seed;/);
    expect(effects[0]!.perSeed[0]!.effect).toBeCloseTo((0.06 + 1) / 2 - 1, 14);
    expect(formatReplicatedEffect(colour)).toMatch(
      /^colour on color: -94 \.\. -50 points across 3 seeds \(median -71; mean -72, 95% t CI \[/,
    );
    // Not all results in yet: no summary.
    expect(replicatedEffects([...runs, { experiment: record(4, null), saeSeed: 3 }])).toBeNull();
  });

  it('refuses experiments that differ in more than the SAE, or share an SAE', () => {
    expect(() => checkReplicates([spec(1), { ...spec(2), operation: { op: 'mean' } }])).toThrow(/'operation' differs/);
    expect(() => checkReplicates([spec(1), spec(1)])).toThrow(/different SAE/);
    expect(() => checkReplicates([spec(1)])).toThrow(/at least two/);
    expect(() => checkReplicates([spec(1), spec(2), spec(3)])).not.toThrow();
  });

  it('stores replications (schema v12 migration), with seeds from the SAEs’ training jobs, and results once all are in', () => {
    const dir = path.join(tmpDir(), 'ws');
    // Made at v11, the schema before replications: opening migrates it.
    Workspace.create(dir, { migrations: MIGRATIONS.filter((m) => m.version <= 11) }).close();
    const ws = Workspace.open(dir);
    const stores = new Stores(ws.db, dir);
    const run = (sql: string, ...args: unknown[]) => ws.db.prepare(sql).run(...args);
    const ids: number[] = [];
    for (const [i, seed] of [5, 6, 7].entries()) {
      run(
        "INSERT INTO jobs (id, kind, params_json, state, created_at) VALUES (?, 'sae-train', ?, 'succeeded', '2026-01-01')",
        i + 1,
        JSON.stringify({ seed }),
      );
      run(
        "INSERT INTO saes (id, name, folder, architecture, d_in, d_sae, source, created_at, job_id) VALUES (?, 's', 'f', 'topk', 4, 8, 'trained', '2026-01-01', ?)",
        i + 1,
        i + 1,
      );
      ids.push(stores.experiments.create(spec(i + 1)).id);
    }
    const created = stores.replications.create('demo', ids);
    expect(created.results).toBeNull();
    ids.forEach((id, i) => stores.experiments.saveResults(id, results([0.06, 0.5, 0.29][i]!)));
    const [listed] = contract['replications.list'].response.parse(stores.replications.list());
    expect(listed!.experimentIds).toEqual(ids);
    expect(listed!.results!.seeds).toBe(3);
    expect(listed!.results!.ciMethod).toBe('student-t');
    expect(listed!.results!.effects[1]!.perSeed.map((s) => [s.saeSeed, s.effect])).toEqual([
      [5, -0.94],
      [6, -0.5],
      [7, -0.71],
    ]);
    expect(() => stores.replications.create('bad', [ids[0]!, ids[0]!])).toThrow(/different SAE/);
    // The HTML report of a member experiment carries the table across seeds.
    const html = experimentHtml(stores.experiments.get(ids[0]!), [], [listed!]);
    expect(html).toContain('<h2>Across 3 SAE seeds: demo</h2>');
    expect(html).toContain(
      '<td>colour</td><td>color</td><td>-94.0 (seed 5, #1)<br>-50.0 (seed 6, #2)<br>-71.0 (seed 7, #3)</td><td>-94.0 .. -50.0</td><td>-71.0</td>',
    );
    expect(html).toContain(
      '<td>colour</td><td>shape</td><td>0.0 (seed 5, #1)<br>0.0 (seed 6, #2)<br>0.0 (seed 7, #3)</td><td>0.0 .. 0.0</td><td>0.0</td><td>0.0</td><td>the same for every seed</td>',
    );
    expect(experimentHtml(stores.experiments.get(ids[0]!), [])).not.toContain('Across');
    expect(stores.replications.list()).toHaveLength(1);
    ws.close();
  });
});
