/**
 * Model diffing (`ocular diff`): the statistics on hand-made counts, the architecture check, and the whole
 * path on the bundled demo model against a checkpoint fine-tuned from it on one task
 * (test/fixtures/vlm/demo-finetuned-exists, made by tools/finetune_demo_vlm.py: the `exists` task's answers
 * negated, the other tasks kept, only the decoder trained). The fine-tuned task's accuracy change must be
 * found (Holm-adjusted), and linked to features whose mean activation moved on its items.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelDiffResult } from '../../src-main/contract/model-diff';
import { checkSameArchitecture, firstDifference } from '../../src-main/core/diff/architecture';
import { DiffAccumulator, featureChanges, itemResamples, mostMoved } from '../../src-main/core/diff/feature-change';
import { taskChanges } from '../../src-main/core/diff/task-change';
import { mcnemarMidP, pairedTable } from '../../src-main/core/stats/paired';
import { wilsonInterval } from '../../src-main/core/stats/proportion';
import { runCli } from '../helpers/cli';
import { DEMO, demoSaeWorkspace } from '../helpers/demo-workspace';
import { repoRoot } from '../helpers/tmp';

const TUNED_DECODER = path.join(repoRoot, 'test', 'fixtures', 'vlm', 'demo-finetuned-exists', 'onnx', 'decoder_model_merged.onnx');
const TAP = 'blocks.0.hook_resid_post';

/** Two items of 2 tokens over 3 features: feature 0 steady, 1 appears, 2 vanishes. */
function handMade(): DiffAccumulator {
  const acc = new DiffAccumulator(4, 3, 2, 0);
  const x = new Float32Array([1, 0, 0, 1]);
  for (let i = 0; i < 4; i++) {
    acc.add(0, i, x, x, new Float32Array([1, 0, 2, 1, 0, 2]));
    acc.add(1, i, x, x, new Float32Array([1, 3, 0, 1, 3, 0]));
  }
  return acc;
}

describe('feature changes', () => {
  it('gives firing rates with Wilson intervals, mean changes with bootstrap intervals, and appear / vanish by the stated thresholds', () => {
    const acc = handMade();
    const changes = featureChanges(acc, { bound: 0, quietRate: 0.001, activeRate: 0.01 }, itemResamples([0, 1, 2, 3], 200, 1));
    const w = wilsonInterval(8, 8);
    expect(changes[0]!.rate.base).toBe(1);
    expect(changes[0]!.rate.baseCi95).toEqual([w.lower, w.upper]);
    expect(changes[0]!.rate.baseCi95[0]).toBeLessThan(1); // no collapse at 100%
    expect(changes[0]!.meanChange.value).toBe(0);
    expect(changes[1]!.status).toBe('appears');
    expect(changes[1]!.meanChange).toMatchObject({ base: 0, tuned: 3, value: 3 });
    expect(changes[2]!.status).toBe('vanishes');
    expect(changes[2]!.rateChange.value).toBe(-1);
    expect(mostMoved(changes, 2).map((c) => c.feature)).toEqual([1, 2]);
    expect(acc.fvu(0)).toBe(0);
  });

  it('computes FVU against the per-dimension mean', () => {
    const acc = new DiffAccumulator(1, 1, 1, 0);
    acc.add(0, 0, new Float32Array([1, 3]), new Float32Array([2, 2]), new Float32Array([0, 0]));
    expect(acc.fvu(0)).toBeCloseTo(1, 12); // SSE 2, variance sum 2
  });

  it('finds the task whose accuracy changed (paired, Holm) and links the feature that moved on its items only', () => {
    const acc = new DiffAccumulator(40, 2, 1, 0);
    const tasks = Array.from({ length: 40 }, (_, i) => (i < 20 ? 'a' : 'b'));
    for (let i = 0; i < 40; i++) {
      acc.add(0, i, new Float32Array([0]), new Float32Array([0]), new Float32Array([1, 1]));
      acc.add(1, i, new Float32Array([0]), new Float32Array([0]), new Float32Array([1, i < 20 ? 5 : 1]));
    }
    const base = tasks.map(() => true);
    const tuned = tasks.map((t, i) => t === 'b' || i % 10 === 0);
    const rows = taskChanges(acc, tasks, [base, tuned], { alpha: 0.05, linked: 1, resamples: 200, seed: 0 });
    const a = rows.find((r) => r.task === 'a')!;
    expect(a.changed).toBe(true);
    expect(a.change.value).toBeCloseTo(-0.9, 12);
    expect(a.p).toBeCloseTo(mcnemarMidP(pairedTable(tuned.slice(0, 20), base.slice(0, 20))), 12);
    expect(a.features[0]).toMatchObject({ feature: 1, onTask: 4, elsewhere: 0 });
    expect(rows.find((r) => r.task === 'b')!.changed).toBe(false);
  });
});

describe('the architecture check', () => {
  it('names the first config field that differs', () => {
    expect(firstDifference({ a: { b: 1, transformers_version: 'x' } }, { a: { b: 2, transformers_version: 'y' } })).toEqual({
      at: 'a.b',
      a: 1,
      b: 2,
    });
    expect(() => checkSameArchitecture(DEMO, path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-llava'))).toThrow(
      /Not one architecture: config .* is/,
    );
  });
});

describe('ocular diff on the demo model and its fine-tune', () => {
  let root: string;
  let ws: string;
  let tuned: string;
  let result: ModelDiffResult;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-diff-'));
    ws = path.join(root, 'ws');
    // The fine-tuned checkpoint: the base folder with the fine-tuned decoder (the only file fine-tuning changed).
    tuned = path.join(root, 'tuned');
    fs.cpSync(DEMO, tuned, { recursive: true });
    fs.copyFileSync(TUNED_DECODER, path.join(tuned, 'onnx', 'decoder_model_merged.onnx'));
    await demoSaeWorkspace(root, { tap: TAP, seed: 5, perCell: 4, steps: 300, analyze: false, timeoutMs: 240_000 });
    const r = await runCli(['diff', '--workspace', ws, '--sae', '1', '--tuned', tuned, '--device', 'cpu', '--json'], 400_000);
    expect(r.code, r.stderr).toBe(0);
    result = JSON.parse(r.stdout) as ModelDiffResult;
  }, 900_000);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('finds the fine-tuned task, and only it among the tasks fine-tuning kept, and links it to features that moved on it', () => {
    expect(result.items).toBe(84);
    const exists = result.tasks.find((t) => t.task === 'exists')!;
    expect(exists.changed).toBe(true);
    expect(exists.base.accuracy).toBeGreaterThan(0.8);
    expect(exists.tuned.accuracy).toBeLessThan(0.2);
    expect(exists.change.ci95[1]).toBeLessThan(0);
    expect(exists.pHolm).toBeLessThan(0.05);
    for (const t of ['color', 'shape', 'size']) expect(result.tasks.find((r) => r.task === t)!.changed, t).toBe(false);
    // linked features: their change on the exists items is real (interval excludes 0) and larger than elsewhere
    const top = exists.features[0]!;
    expect(top.onTaskCi95[0] > 0 || top.onTaskCi95[1] < 0).toBe(true);
    expect(Math.abs(top.onTask)).toBeGreaterThan(Math.abs(top.elsewhere));
  });

  it('reports FVU on each model and per-feature changes with their methods', () => {
    expect(result.fvu.base).toBeGreaterThan(0);
    expect(result.fvu.base).toBeLessThan(1);
    expect(result.fvu.tuned).toBeGreaterThan(0);
    expect(result.moved.length).toBeGreaterThan(0);
    for (const f of result.moved) {
      expect(f.meanChange.ci95[0]).toBeLessThanOrEqual(f.meanChange.value + 1e-12);
      expect(f.meanChange.ci95[1]).toBeGreaterThanOrEqual(f.meanChange.value - 1e-12);
    }
    expect(result.methods.rates).toMatch(/Wilson/);
    expect(result.methods.changes).toMatch(/bootstrap over items/);
  });

  it('prints a table, and refuses two architectures by name before anything runs', async () => {
    const text = await runCli(['diff', '--workspace', ws, '--sae', '1', '--tuned', tuned, '--device', 'cpu', '--limit', '28'], 400_000);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/FVU: base \d/);
    expect(text.stdout).toMatch(/exists/);
    const bad = await runCli([
      'diff',
      '--workspace',
      ws,
      '--sae',
      '1',
      '--tuned',
      path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-llava'),
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Not one architecture: config \S+ is/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
