/**
 * Experiments and probes on the bundled demo model, from the workspace `ocular demo` builds:
 * the statistics, the demo's ablation experiment with its controls (random sets, norm-matched random
 * directions, the union of two sets), a causal effect the controls do not reproduce, exports,
 * resuming an interrupted experiment, and per-layer probes against shuffled labels.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, ExperimentRecord, ProbeRecord, RequestOf } from '../../src-main/contract/contract';
import { Backend } from '../../src-main/core/backend/backend';
import { klFromLogits, pairedPermutationP } from '../../src-main/core/experiments/stats';
import { bootstrapMeanCi } from '../../src-main/core/stats/bootstrap';
import { untilJob } from '../helpers/backend';
import { runCli } from '../helpers/cli';
import { sessionHostEntry, taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';

let root: string;
let ws: string;
beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-experiments-'));
  ws = path.join(root, 'demo');
  const demo = await runCli(['demo', '--workspace', ws, '--per-cell', '12', '--json'], 400_000);
  expect(demo.code, demo.stderr).toBe(0);
}, 420_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function withBackend<T>(fn: (b: Backend) => Promise<T>): Promise<T> {
  const b = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, sessionHostEntry, configDir: tmpDir(), pinnedWorkspace: ws });
  try {
    const opened = await b.invoke('workspace.open', {});
    expect(opened.ok).toBe(true);
    return await fn(b);
  } finally {
    await b.close();
  }
}
const call = <C extends Channel>(b: Backend, channel: C, request: RequestOf<C>) => b.call(channel, request);

describe('experiment statistics', () => {
  it('paired permutation p, bootstrap CIs and KL behave as they should', () => {
    const same = Array.from({ length: 40 }, (_, i) => i % 2);
    expect(pairedPermutationP(same, same, 2000, 1)).toBe(1);
    const better = Array.from({ length: 40 }, () => 1);
    const worse = Array.from({ length: 40 }, (_, i) => (i < 30 ? 0 : 1));
    expect(pairedPermutationP(worse, better, 2000, 1)).toBeLessThan(0.001);
    const [lo, hi] = bootstrapMeanCi(worse, 2000, 3);
    expect(lo).toBeLessThan(0.25);
    expect(hi).toBeGreaterThan(0.25);
    expect(klFromLogits(Float32Array.of(1, 2, 3), Float32Array.of(1, 2, 3))).toBeCloseTo(0, 10);
    expect(klFromLogits(Float32Array.of(5, 0, 0), Float32Array.of(0, 0, 5))).toBeGreaterThan(1);
  });
});

describe('the demo experiment', () => {
  it('runs every condition with its controls; random directions match the intervention shift; the union holds both sets', async () => {
    await withBackend(async (b) => {
      const [e] = await call(b, 'experiments.list', {});
      const r = e!.results!;
      expect(r.resamples).toBe(2000);
      expect(r.version).toMatch(/\d/);
      expect(e!.spec.featureSets.map((s) => s.name)).toEqual(['colour-question features', 'shape-question features']);
      const byId = new Map(r.conditions.map((c) => [c.id, c]));
      expect(r.conditions.map((c) => c.kind)).toEqual([
        'baseline',
        'intervention',
        'random-set',
        'random-direction',
        'intervention',
        'random-set',
        'random-direction',
        'union',
        'random-set',
        'random-direction',
      ]);
      for (const c of r.conditions.filter((x) => x.kind === 'random-direction')) {
        const target = byId.get(c.controlFor!)!;
        expect(c.shiftNorm).toBeCloseTo(target.shiftNorm, 2);
        expect(target.pVsControls[c.id]).toBeGreaterThan(0);
      }
      for (const c of r.conditions.filter((x) => x.kind === 'random-set')) {
        const target = byId.get(c.controlFor!)!;
        expect(c.features).toHaveLength(target.features.length);
        expect(c.features.some((f) => target.features.includes(f))).toBe(false);
      }
      const union = r.conditions.find((c) => c.kind === 'union')!;
      expect(new Set(union.features)).toEqual(
        new Set([...r.featureSets['colour-question features']!, ...r.featureSets['shape-question features']!]),
      );
      expect(r.conditions[0]!.byTask.map((g) => g.key)).toEqual(['color', 'shape']);
    });
  });

  it('zero-ablating the features most selective for colour questions drops colour accuracy (p < 0.01) while a norm-matched random direction does not; shape features hurt shape more than colour', async () => {
    await withBackend(async (b) => {
      const [e] = await call(b, 'experiments.list', {});
      const r = e!.results!;
      const group = (id: string, task: string) => r.conditions.find((c) => c.id === id)!.byTask.find((g) => g.key === task)!;
      const drop = (id: string, task: string) => group('baseline', task).accuracy - group(id, task).accuracy;
      for (const [set, task, other] of [
        ['colour-question features', 'color', 'shape'],
        ['shape-question features', 'shape', 'color'],
      ] as const) {
        const control = group(`random direction for ${set}`, task);
        expect(control.pVsBaseline, set).toBeGreaterThan(0.05);
        expect(Math.abs(control.accuracy - group('baseline', task).accuracy), set).toBeLessThan(0.1);
        // Task-specific: the set costs its own task more than the other one.
        expect(drop(set, task), set).toBeGreaterThan(drop(set, other));
        const c = r.conditions.find((x) => x.id === set)!;
        expect(c.klFirstToken).toBeGreaterThan(r.conditions.find((x) => x.id === `random direction for ${set}`)!.klFirstToken);
      }
      // The acceptance, on colour: a large, significant drop that no control reproduces.
      expect(drop('colour-question features', 'color')).toBeGreaterThan(0.2);
      expect(group('colour-question features', 'color').pVsBaseline).toBeLessThan(0.01);
      const colour = r.conditions.find((x) => x.id === 'colour-question features')!;
      expect(colour.flagged).toBe(false);
      expect(colour.pVsControls['random direction for colour-question features']).toBeLessThan(0.01);
      // Shape answers lean less on 20 features at this layer (-17 to -64 points across SAE seeds 0-3, and a
      // random 20-feature set once matched the effect), so the mirror is asserted at p < 0.05 without a size.
      expect(group('shape-question features', 'shape').pVsBaseline).toBeLessThan(0.05);
      const shape = r.conditions.find((c) => c.id === 'shape-question features')!;
      const kl = (task: string) => shape.byTask.find((g) => g.key === task)!.klFirstToken;
      expect(kl('shape')).toBeGreaterThan(kl('color'));
      // Per-item outputs are kept for drill-down, baseline beside each condition.
      const outputs = await call(b, 'experiments.outputs', {
        id: e!.id,
        condition: shape.id,
        limit: 1000,
      });
      expect(outputs).toHaveLength(shape.n);
    });
  });

  it('exports CSV, JSON and a self-contained HTML report', async () => {
    await withBackend(async (b) => {
      const [e] = await call(b, 'experiments.list', {});
      const csv = await call(b, 'experiments.export', { id: e!.id, format: 'csv' });
      expect(csv.content.split('\n')[0]).toMatch(/^condition,kind,set,value/);
      expect(csv.content).toContain('random direction for shape-question features');
      const json = JSON.parse((await call(b, 'experiments.export', { id: e!.id, format: 'json' })).content) as {
        experiment: ExperimentRecord;
        outputs: unknown[];
      };
      expect(json.outputs.length).toBe(e!.results!.items * e!.results!.conditions.length);
      const html = (await call(b, 'experiments.export', { id: e!.id, format: 'html' })).content;
      expect(html).toContain('<svg');
      expect(html).not.toMatch(/<script|(src|href)=["']?https?:/);
    });
  });

  it('an interrupted experiment resumes and finishes', async () => {
    await withBackend(async (b) => {
      const [e] = await call(b, 'experiments.list', {});
      const spec = {
        ...e!.spec,
        name: 'resumed',
        featureSets: [e!.spec.featureSets[1]!],
        controls: { randomSets: 2, randomDirections: true, union: false },
      };
      const started = await call(b, 'experiments.start', spec);
      await untilJob(b, started.job.id, (j) => j.progress >= 0.4);
      await b.invoke('jobs.cancel', { id: started.job.id });
      expect((await untilJob(b, started.job.id, (j) => !['queued', 'running'].includes(j.state))).state).toBe('cancelled');
      await b.invoke('jobs.resume', { id: started.job.id });
      const done = await untilJob(b, started.job.id, (j) => !['queued', 'running'].includes(j.state));
      expect(done.state).toBe('succeeded');
      const rec = (await call(b, 'experiments.list', {})).find((x) => x.id === started.experiment.id)!;
      expect(rec.results!.conditions.map((c) => c.kind)).toEqual([
        'baseline',
        'intervention',
        'random-set',
        'random-set',
        'random-direction',
      ]);
    });
  }, 180_000);
});

describe('linear probes', () => {
  it('beat shuffled labels at every layer for the colour (the demo) and the shape of the object under a patch', async () => {
    await withBackend(async (b) => {
      const [colour] = await call(b, 'probes.list', {});
      expect(colour!.results!.layers.map((l) => l.tap)).toEqual([
        'blocks.0.hook_resid_post',
        'blocks.1.hook_resid_post',
        'blocks.2.hook_resid_post',
      ]);
      for (const l of colour!.results!.layers) {
        expect(l.accuracy).toBeGreaterThan(l.shuffledAccuracy + 0.2);
        expect(l.ci95[0]).toBeGreaterThan(l.shuffledAccuracy);
      }
    });
    const shape = await runCli(['experiment', 'probe', '--workspace', ws, '--harvest', '1', '--label', 'shape', '--json'], 120_000);
    expect(shape.code, shape.stderr).toBe(0);
    const p = JSON.parse(shape.stdout) as ProbeRecord;
    expect(p.results!.classes).toEqual(['circle', 'diamond', 'square', 'triangle']);
    for (const l of p.results!.layers) {
      expect(l.accuracy).toBeGreaterThan(Math.max(l.shuffledAccuracy, l.majority) + 0.1);
      expect(l.ci95[0]).toBeGreaterThan(Math.max(l.shuffledAccuracy, l.majority));
    }
  }, 120_000);
});
