/**
 * SAE training on the bundled demo model: harvest a middle decoder layer, train a TopK SAE with the
 * ONNX training graph for a short CPU run, and check reconstruction, sparsity and dead features;
 * BatchTopK, ReLU + L1 and a transcoder (hook_mlp_in -> hook_mlp_out) train and store SAELens
 * folders; a run killed mid-way resumes from its checkpoint without losing completed steps.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src-main/contract/contract';
import { Backend } from '../../src-main/core/backend/backend';
import { HarvestStore } from '../../src-main/core/harvest/harvest-store';
import { SaeStore, type SaeEvaluation } from '../../src-main/core/sae/sae-store';
import { crossEntropySum, lossRecovered } from '../../src-main/core/sae/splice-metrics';
import { encode } from '../../src-main/core/sae/sae-io';
import { Workspace } from '../../src-main/core/store/workspace';
import { untilJob } from '../helpers/backend';
import { ocularBin, runCli } from '../helpers/cli';
import { cliSteps, DEMO, harvestArgs, saeSettings, synthBench } from '../helpers/demo-workspace';
import { sessionHostEntry, taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';

const TAP = 'blocks.1.hook_resid_post';
const MLP_IN = 'blocks.1.hook_mlp_in';
const MLP_OUT = 'blocks.1.hook_mlp_out';

interface TrainResult {
  saeId: number;
  activationScale: { input: number; output: number };
  final: { fvu: number; l0: number; l1: number; deadFraction: number; denseFraction: number; fvuByModality: Record<string, number | null> };
  history: Array<{ step: number; fvu: number; lr: number; l0: number }>;
}

async function train(args: string[]): Promise<TrainResult> {
  const res = await runCli(['train', '--workspace', ws, '--harvest', '1', '--device', 'cpu', '--json', ...args], 180_000);
  expect(res.code, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as TrainResult;
}

function inWorkspace<T>(fn: (workspace: Workspace) => T): T {
  const workspace = Workspace.open(ws, { readOnly: true });
  try {
    return fn(workspace);
  } finally {
    workspace.close();
  }
}

const loadSae = (id: number) => inWorkspace((w) => ({ record: new SaeStore(w.db, ws).get(id), sae: new SaeStore(w.db, ws).load(id) }));
let ws: string;

beforeAll(async () => {
  // Shared by both tests, so not a per-test tmpDir().
  ws = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-sae-train-')), 'ws');
  const bench = path.join(path.dirname(ws), 'bench');
  await synthBench(bench, 21, 10);
  await cliSteps([harvestArgs(ws, bench, [TAP, MLP_IN, MLP_OUT])], 120_000);
}, 180_000);
afterAll(() => fs.rmSync(path.dirname(ws), { recursive: true, force: true }));

describe('learning-rate schedule', () => {
  it('warms up linearly, then decays by a cosine to a tenth', async () => {
    const { learningRate } = await import('../../src-main/core/sae/train-step');
    expect(learningRate(0, 100, 1, 10, 'cosine')).toBeCloseTo(0.1);
    expect(learningRate(9, 100, 1, 10, 'cosine')).toBeCloseTo(1);
    expect(learningRate(10, 100, 1, 10, 'cosine')).toBeCloseTo(1);
    expect(learningRate(100, 100, 1, 10, 'cosine')).toBeCloseTo(0.1);
    expect(learningRate(55, 100, 1, 10, 'none')).toBe(1);
  });
});

describe('spliced-in metrics', () => {
  it('cross-entropy sums -log softmax at the targets; loss recovered is 1 for a free splice and 0 for one as bad as zero-ablation', () => {
    const logits = Float32Array.of(0, Math.log(3), 1, 1); // one row, two positions, vocab 2
    expect(
      crossEntropySum(logits, 2, 2, [
        { row: 0, position: 0, token: 1 },
        { row: 0, position: 1, token: 0 },
      ]),
    ).toBeCloseTo(-Math.log(3 / 4) - Math.log(1 / 2), 6);
    expect(lossRecovered(1, 1, 3)).toBe(1);
    expect(lossRecovered(1, 3, 3)).toBe(0);
    expect(lossRecovered(1, 2, 3)).toBe(0.5);
  });
});

describe('SAE training', () => {
  it('a short CPU run on a middle decoder layer reaches FVU <= 0.15, L0 within 10% of k, < 5% dead', async () => {
    const r = await train(['--tap', TAP, ...saeSettings(600)]);
    expect(r.final.fvu).toBeLessThanOrEqual(0.15);
    // Per-modality FVU: the harvest holds image and text tokens, and both are reconstructed.
    expect(r.final.fvuByModality.image).toBeLessThanOrEqual(0.15);
    expect(r.final.fvuByModality.text).toBeLessThanOrEqual(0.3);
    expect(r.final.fvuByModality.generated).toBeNull();
    // After warmup (30 steps here, before the first log) the logged rate decays towards a tenth of 1e-3.
    const lrs = r.history.map((h) => h.lr);
    expect(lrs[0]!).toBeGreaterThan(0.95e-3);
    expect(lrs.at(-1)!).toBeLessThan(lrs[0]! * 0.2);
    expect(Math.abs(r.final.l0 - 16)).toBeLessThanOrEqual(1.6);
    expect(r.final.deadFraction).toBeLessThan(0.05);
    expect(r.history[0]!.fvu).toBeGreaterThan(r.final.fvu);
    expect(r.final.denseFraction).toBeLessThan(0.25);
    // The stored SAE is a SAELens folder whose encoder gives k active features per row.
    const { record, sae } = loadSae(r.saeId);
    expect(sae).toMatchObject({ architecture: 'topk', k: 16, dIn: 128, dSae: 512, hookName: TAP });
    expect(record.jobId).not.toBeNull();
    const acts = encode(sae, new Float32Array(128).fill(0.5));
    expect(acts.filter((v) => v > 0).length).toBeLessThanOrEqual(16);
    // Trained on activations scaled to mean squared norm d_in (a residual norm of ~50 here), saved with the
    // scale folded in: on the raw harvest it reconstructs as well as training reported.
    expect(r.activationScale.input).toBeLessThan(0.5);
    const raw = inWorkspace((w) => new HarvestStore(w.db, ws).readTap(1, TAP));
    const z = encode(sae, raw.data);
    const mean = new Float64Array(128);
    for (let row = 0; row < raw.rows; row++) for (let i = 0; i < 128; i++) mean[i]! += raw.data[row * 128 + i]! / raw.rows;
    let sse = 0;
    let sst = 0;
    const y = new Float64Array(128);
    for (let row = 0; row < raw.rows; row++) {
      y.set(sae.b_dec);
      for (let f = 0; f < 512; f++) {
        const a = z[row * 512 + f]!;
        if (a !== 0) for (let i = 0; i < 128; i++) y[i]! += a * sae.W_dec[f * 128 + i]!;
      }
      for (let i = 0; i < 128; i++) {
        sse += (y[i]! - raw.data[row * 128 + i]!) ** 2;
        sst += (raw.data[row * 128 + i]! - mean[i]!) ** 2;
      }
    }
    expect(Math.abs(sse / sst - r.final.fvu)).toBeLessThan(0.05);
  }, 180_000);

  it('spliced in, the SAE recovers most of the cross-entropy that zero-ablating its tap loses; accuracy change reported and stored', async () => {
    const res = await runCli(
      [
        'sae',
        'eval',
        '1',
        '--workspace',
        ws,
        '--model',
        DEMO,
        '--dataset',
        path.join(path.dirname(ws), 'bench'),
        '--limit',
        '24',
        '--device',
        'cpu',
        '--json',
      ],
      180_000,
    );
    expect(res.code, res.stderr).toBe(0);
    const e = JSON.parse(res.stdout) as SaeEvaluation;
    expect(e.items).toBe(24);
    expect(e.tokens).toBeGreaterThanOrEqual(24);
    expect(e.ceZeroAblated).toBeGreaterThan(e.ceClean);
    expect(e.ceLossRecovered).toBeGreaterThan(0.8);
    expect(e.ceIncrease).toBeCloseTo(e.ceSpliced - e.ceClean, 10);
    expect(e.accuracyClean).toBeGreaterThanOrEqual(0);
    expect(e.accuracyChange).toBeCloseTo(e.accuracySpliced! - e.accuracyClean!, 10);
    expect(loadSae(1).record.evaluation).toEqual(e);
  }, 180_000);

  it('BatchTopK keeps k active features per token on average and is stored as JumpReLU with its learned threshold', async () => {
    const r = await train(['--tap', TAP, '--arch', 'batchtopk', ...saeSettings(300)]);
    expect(r.final.l0).toBeCloseTo(16, 3);
    expect(r.final.fvu).toBeLessThan(0.15);
    const { sae } = loadSae(r.saeId);
    expect(sae.architecture).toBe('jumprelu');
    expect(sae.threshold![0]).toBeGreaterThan(0);
  }, 180_000);

  it('--normalize none trains on raw activations (scale 1)', async () => {
    const r = await train([
      '--tap',
      TAP,
      '--normalize',
      'none',
      '--expansion',
      '2',
      '--k',
      '8',
      '--steps',
      '20',
      '--batch',
      '256',
      '--lr',
      '1e-3',
    ]);
    expect(r.activationScale).toEqual({ input: 1, output: 1 });
  }, 180_000);

  it('ReLU + L1: a larger L1 coefficient gives sparser codes', async () => {
    const weak = await train([
      '--tap',
      TAP,
      '--arch',
      'relu',
      '--l1',
      '1',
      '--expansion',
      '2',
      '--steps',
      '200',
      '--batch',
      '256',
      '--lr',
      '1e-3',
    ]);
    const strong = await train([
      '--tap',
      TAP,
      '--arch',
      'relu',
      '--l1',
      '20',
      '--expansion',
      '2',
      '--steps',
      '200',
      '--batch',
      '256',
      '--lr',
      '1e-3',
    ]);
    expect(strong.final.l1).toBeGreaterThan(0);
    expect(strong.final.l0).toBeLessThan(weak.final.l0 * 0.8);
    expect(loadSae(strong.saeId).sae.architecture).toBe('relu');
  }, 180_000);

  it('a transcoder learns hook_mlp_in -> hook_mlp_out and is stored with its output tap', async () => {
    const r = await train(['--tap', MLP_IN, '--out-tap', MLP_OUT, ...saeSettings(300)]);
    expect(r.final.fvu).toBeLessThan(0.2);
    const { record, sae } = loadSae(r.saeId);
    expect(record).toMatchObject({ hookName: MLP_IN, hookNameOut: MLP_OUT, dOut: 128 });
    expect(sae).toMatchObject({ hookName: MLP_IN, hookNameOut: MLP_OUT, applyBDecToInput: false });
  }, 180_000);

  it('an ocular train process killed with SIGKILL mid-run resumes with ocular jobs resume from its last checkpoint', async () => {
    const before = new Set(fs.existsSync(path.join(ws, 'blobs', 'sae-train')) ? fs.readdirSync(path.join(ws, 'blobs', 'sae-train')) : []);
    const child = spawn(
      process.execPath,
      [
        ocularBin,
        'train',
        '--workspace',
        ws,
        '--harvest',
        '1',
        '--tap',
        TAP,
        '--expansion',
        '2',
        '--k',
        '8',
        '--steps',
        '3000',
        '--batch',
        '256',
        '--checkpoint-every',
        '50',
        '--log-every',
        '10',
        '--device',
        'cpu',
        '--json',
      ],
      { stdio: 'ignore', detached: true },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Wait for a checkpoint of the new job, then kill the CLI and its pool processes at once.
    let jobId = 0;
    await expect
      .poll(
        () => {
          const dirs = fs.existsSync(path.join(ws, 'blobs', 'sae-train'))
            ? fs.readdirSync(path.join(ws, 'blobs', 'sae-train')).filter((d) => !before.has(d))
            : [];
          jobId = Number(dirs[0] ?? 0);
          return jobId > 0 && fs.existsSync(path.join(ws, 'blobs', 'sae-train', String(jobId), 'checkpoint.safetensors'));
        },
        { timeout: 60_000, interval: 100 },
      )
      .toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    const res = await runCli(['jobs', 'resume', String(jobId), '--workspace', ws, '--json'], 180_000);
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout) as Job;
    expect(job.state).toBe('succeeded');
    const r = job.result as { steps: number; history: Array<{ step: number }> };
    expect(r.steps).toBe(3000);
    // One logged point per 10 steps from the first to the last: nothing completed before the kill was lost or skipped.
    expect(r.history.map((h) => h.step)).toEqual(Array.from({ length: 300 }, (_, i) => (i + 1) * 10));
  }, 240_000);

  it('killed mid-run and resumed, continues from the last checkpoint without losing completed steps', async () => {
    const b = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, sessionHostEntry, configDir: tmpDir(), pinnedWorkspace: ws });
    try {
      const opened = await b.invoke('workspace.open', {});
      expect(opened.ok ? 'opened' : opened.error.message).toBe('opened');
      const until = (id: number, predicate: (j: Job) => boolean) => untilJob(b, id, predicate);
      const job = b.startTrustedJob('sae-train', {
        harvestId: 1,
        tap: TAP,
        expansion: 2,
        k: 8,
        steps: 400,
        batchSize: 256,
        checkpointEvery: 50,
        logEvery: 10,
        device: 'cpu',
      });
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
