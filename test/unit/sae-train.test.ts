/**
 * SAE training on the bundled demo model: harvest a middle decoder layer, train a TopK SAE with the
 * ONNX training graph for a short CPU run, and check reconstruction, sparsity and dead features;
 * then kill a run mid-way and resume it from its checkpoint without losing completed steps.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src-main/contract/contract';
import { Backend } from '../../src-main/core/backend/backend';
import { SaeStore } from '../../src-main/core/sae/sae-store';
import { encode } from '../../src-main/core/sae/sae-io';
import { Workspace } from '../../src-main/core/store/workspace';
import { untilJob } from '../helpers/backend';
import { runCli } from '../helpers/cli';
import { repoRoot, sessionHostEntry, taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';

const DEMO = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm');
const TAP = 'blocks.1.hook_resid_post';
let ws: string;

beforeAll(async () => {
  // Shared by both tests, so not a per-test tmpDir().
  ws = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-sae-train-')), 'ws');
  const bench = path.join(path.dirname(ws), 'bench');
  expect((await runCli(['dataset', 'synth', '--out', bench, '--seed', '21', '--per-cell', '4'])).code).toBe(0);
  const harvest = await runCli(['harvest', '--workspace', ws, '--model', DEMO, '--dataset', bench, '--tap', TAP, '--dtype', 'fp32', '--device', 'cpu', '--json'], 120_000);
  expect(harvest.code).toBe(0);
}, 180_000);
afterAll(() => fs.rmSync(path.dirname(ws), { recursive: true, force: true }));

describe('learning-rate schedule', () => {
  it('warms up linearly, then decays by a cosine to a tenth', async () => {
    const { learningRate } = await import('../../src-main/core/jobs/kinds/sae-train');
    expect(learningRate(0, 100, 1, 10, 'cosine')).toBeCloseTo(0.1);
    expect(learningRate(9, 100, 1, 10, 'cosine')).toBeCloseTo(1);
    expect(learningRate(10, 100, 1, 10, 'cosine')).toBeCloseTo(1);
    expect(learningRate(100, 100, 1, 10, 'cosine')).toBeCloseTo(0.1);
    expect(learningRate(55, 100, 1, 10, 'none')).toBe(1);
  });
});

describe('SAE training', () => {
  it('a short CPU run on a middle decoder layer reaches FVU <= 0.15, L0 within 10% of k, < 5% dead', async () => {
    const res = await runCli(['train', '--workspace', ws, '--harvest', '1', '--tap', TAP, '--expansion', '4', '--k', '16', '--steps', '600', '--batch', '512', '--lr', '2e-3', '--device', 'cpu', '--json'], 180_000);
    expect(res.code).toBe(0);
    const r = JSON.parse(res.stdout) as { saeId: number; final: { fvu: number; l0: number; deadFraction: number; fvuByModality: Record<string, number | null> }; history: Array<{ step: number; fvu: number; lr: number }> };
    expect(r.final.fvu).toBeLessThanOrEqual(0.15);
    // Per-modality FVU: the harvest holds image and text tokens, and both are reconstructed.
    expect(r.final.fvuByModality.image).toBeLessThanOrEqual(0.15);
    expect(r.final.fvuByModality.text).toBeLessThanOrEqual(0.3);
    expect(r.final.fvuByModality.generated).toBeNull();
    // After warmup (30 steps here, before the first log) the logged rate decays towards a tenth of 2e-3.
    const lrs = r.history.map((h) => h.lr);
    expect(lrs[0]!).toBeGreaterThan(1.9e-3);
    expect(lrs.at(-1)!).toBeLessThan(lrs[0]! * 0.2);
    expect(Math.abs(r.final.l0 - 16)).toBeLessThanOrEqual(1.6);
    expect(r.final.deadFraction).toBeLessThan(0.05);
    expect(r.history[0]!.fvu).toBeGreaterThan(r.final.fvu);
    // The stored SAE is a SAELens folder whose encoder gives k active features per row.
    const workspace = Workspace.open(ws, { readOnly: true });
    try {
      const sae = new SaeStore(workspace.db, ws).load(r.saeId);
      expect(sae).toMatchObject({ architecture: 'topk', k: 16, dIn: 128, dSae: 512, hookName: TAP });
      const acts = encode(sae, new Float32Array(128).fill(0.5));
      expect(acts.filter((v) => v > 0).length).toBeLessThanOrEqual(16);
    } finally {
      workspace.close();
    }
  }, 180_000);

  it('killed mid-run and resumed, continues from the last checkpoint without losing completed steps', async () => {
    const b = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, sessionHostEntry, configDir: tmpDir(), pinnedWorkspace: ws });
    try {
      const opened = await b.invoke('workspace.open', {});
      expect(opened.ok ? 'opened' : opened.error.message).toBe('opened');
      const until = (id: number, predicate: (j: Job) => boolean) => untilJob(b, id, predicate);
      const job = b.startTrustedJob('sae-train', { harvestId: 1, tap: TAP, expansion: 2, k: 8, steps: 400, batchSize: 256, checkpointEvery: 50, logEvery: 10, device: 'cpu' });
      await until(job.id, (j) => j.progress >= 0.3);
      await b.invoke('jobs.cancel', { id: job.id });
      const cancelled = await until(job.id, (j) => !['queued', 'running'].includes(j.state));
      expect(cancelled.state).toBe('cancelled');
      await b.invoke('jobs.resume', { id: job.id });
      const done = await until(job.id, (j) => !['queued', 'running'].includes(j.state));
      expect(done.state).toBe('succeeded');
      const r = done.result as { steps: number; history: Array<{ step: number }> };
      expect(r.steps).toBe(400);
      const steps = r.history.map((h) => h.step);
      // The log runs without a gap: steps before the checkpoint were kept, not redone from zero.
      expect(steps[0]).toBe(10);
      expect(steps.at(-1)).toBe(400);
      expect(new Set(steps).size).toBeGreaterThanOrEqual(steps.length - 5); // at most the steps after the last checkpoint repeat
      expect(done.attempts).toBe(2);
    } finally {
      await b.close();
    }
  }, 180_000);
});

