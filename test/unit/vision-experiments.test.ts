/**
 * Interventions at a vision-tower tap, on the bundled demo model (`ocular demo --sae-tap
 * vision.blocks.2.hook_resid_post`: the SAE trains on the vision tower's last block). The edited vision
 * graph computes the image features the decoder then reads: the demo's experiment runs every
 * condition with its controls; the baseline (identity edit) answers exactly as the evaluation did;
 * ablating features there changes answers while a norm-matched random direction does not; patches
 * "where the features fire" are chosen by the SAE's codes; nonsense combinations are refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentOutput, ExperimentRecord, ExperimentSpec, Job } from '../../src-main/contract/contract';
import { Backend } from '../../src-main/core/backend/backend';
import { isDone, untilJob } from '../helpers/backend';
import { runCli } from '../helpers/cli';
import { sessionHostEntry, taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';

const TAP = 'vision.blocks.2.hook_resid_post';
let root: string;
let ws: string;
let colourPure: number[];
let b: Backend;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-vision-experiments-'));
  ws = path.join(root, 'demo');
  const demo = await runCli(['demo', '--workspace', ws, '--per-cell', '6', '--sae-tap', TAP, '--json'], 400_000);
  expect(demo.code, demo.stderr).toBe(0);
  colourPure = (JSON.parse(demo.stdout) as { groundTruth: { colourPure: Array<{ feature: number }> } }).groundTruth.colourPure.map(
    (f) => f.feature,
  );
  b = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, sessionHostEntry, configDir: tmpDir(), pinnedWorkspace: ws });
  expect((await b.invoke('workspace.open', {})).ok).toBe(true);
}, 420_000);
afterAll(async () => {
  await b?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const call = async <T>(channel: string, payload: unknown): Promise<T> => {
  const r = await b.invoke(channel, payload);
  if (!r.ok) throw new Error(r.error.message);
  return r.result as T;
};

/** Runs an experiment like the demo's with `change` applied; resolves with its record, or its job's error. */
async function experiment(change: Partial<ExperimentSpec>): Promise<{ e: ExperimentRecord; job: Job }> {
  const [demo] = await call<ExperimentRecord[]>('experiments.list', {});
  const started = await call<{ experiment: ExperimentRecord; job: Job }>('experiments.start', { ...demo!.spec, ...change });
  const job = await untilJob(b, started.job.id, isDone);
  const e = (await call<ExperimentRecord[]>('experiments.list', {})).find((x) => x.id === started.experiment.id)!;
  return { e, job };
}
const outputs = (id: number, condition: string) => call<ExperimentOutput[]>('experiments.outputs', { id, condition, limit: 1000 });

describe('a vision-tower experiment on the bundled model', () => {
  it("the demo's experiment edits the vision tower: every condition with its controls, norm-matched random directions, a baseline that answers as the evaluation did", async () => {
    const [e] = await call<ExperimentRecord[]>('experiments.list', {});
    const [sae] = await call<Array<{ id: number; hookName: string }>>('saes.list', {});
    expect(sae!.id).toBe(e!.spec.saeId);
    expect(sae!.hookName).toBe(TAP);
    const r = e!.results!;
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
    const byId = new Map(r.conditions.map((c) => [c.id, c]));
    for (const c of r.conditions.filter((x) => x.kind === 'intervention' || x.kind === 'union')) {
      expect(c.features.length).toBeGreaterThan(0);
      expect(c.shiftNorm, c.id).toBeGreaterThan(0);
      expect(c.pVsBaseline).not.toBeNull();
    }
    for (const c of r.conditions.filter((x) => x.kind === 'random-direction'))
      expect(c.shiftNorm).toBeCloseTo(byId.get(c.controlFor!)!.shiftNorm, 3);
    // The identity edit of the vision graph changes nothing: the baseline's answers are the evaluation's.
    const [evaluation] = await call<Array<{ id: number }>>('evals.list', {});
    const predictions = new Map(
      (await call<Array<{ item: { id: number }; raw: string }>>('evals.predictions', { id: evaluation!.id, limit: 1000 })).map((p) => [
        p.item.id,
        p.raw,
      ]),
    );
    const base = await outputs(e!.id, 'baseline');
    expect(base.length).toBe(r.items);
    for (const o of base) expect(o.raw, `item ${o.itemId}`).toBe(predictions.get(o.itemId));
  });

  it('zero-ablating half of the SAE features at every patch changes answers (p < 0.05); a norm-matched random direction does not', async () => {
    const half = Array.from({ length: 256 }, (_, i) => 2 * i);
    const { e, job } = await experiment({
      name: 'half of the vision features',
      featureSets: [{ name: 'even features', features: half }],
      controls: { randomSets: 1, randomDirections: true, union: false },
    });
    expect(job.state, job.error ?? '').toBe('succeeded');
    const r = e.results!;
    const c = (kind: string) => r.conditions.find((x) => x.kind === kind)!;
    expect(c('intervention').accuracyChange).toBeLessThan(-0.15);
    expect(c('intervention').pVsBaseline).toBeLessThan(0.05);
    expect(c('intervention').klFirstToken).toBeGreaterThan(0.1);
    const direction = c('random-direction');
    expect(direction.shiftNorm).toBeCloseTo(c('intervention').shiftNorm, 3);
    expect(Math.abs(direction.accuracyChange)).toBeLessThan(0.1);
    expect(c('intervention').pVsControls[direction.id]).toBeLessThan(0.05);
    // The random set is drawn from the other (live) half: it is reported, p-values and all.
    expect(c('random-set').features.every((f) => f % 2 === 1)).toBe(true);
    expect(c('intervention').pVsControls[c('random-set').id]).toBeGreaterThanOrEqual(0);
  }, 240_000);

  it("patches where the set's features fire: a zero-ablation answers exactly as on every patch (an inactive feature has nothing to remove), averaged over fewer patches", async () => {
    expect(colourPure.length).toBeGreaterThan(0);
    const spec = {
      featureSets: [{ name: 'colour-pure features', features: colourPure }],
      controls: { randomSets: 0, randomDirections: false, union: false },
    };
    const all = await experiment({ ...spec, name: 'every patch', patches: 'all' });
    const firing = await experiment({ ...spec, name: 'firing patches', patches: 'firing' });
    expect(all.job.state, all.job.error ?? '').toBe('succeeded');
    expect(firing.job.state, firing.job.error ?? '').toBe('succeeded');
    const a = await outputs(all.e.id, 'colour-pure features');
    const f = await outputs(firing.e.id, 'colour-pure features');
    expect(f.map((o) => [o.itemId, o.raw, o.kl])).toEqual(a.map((o) => [o.itemId, o.raw, o.kl]));
    // The same total change over the patches where they fire, a subset of all patches: a larger mean.
    const shift = (x: typeof all) => x.e.results!.conditions[1]!.shiftNorm;
    expect(shift(firing)).toBeGreaterThan(shift(all));
    expect(firing.e.spec.patches).toBe('firing');
  }, 240_000);

  it('refuses text or generated tokens for a vision-tower SAE, naming the tap', async () => {
    const { job } = await experiment({ name: 'text on a vision SAE', where: 'text', limit: 2 });
    expect(job.state).toBe('failed');
    expect(job.error).toContain(`reads the vision tower (${TAP}), whose tokens are image patches`);
  });
});
