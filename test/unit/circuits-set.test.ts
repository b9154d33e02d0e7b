/**
 * Transcoder sets on the bundled demo model: one job trains a transcoder per decoder layer
 * (hook_mlp_in -> hook_mlp_out) with shared settings and reports FVU, L0 and dead features per
 * layer; the replacement-model check runs the model with every MLP replaced at once — errors kept
 * must reproduce the clean model exactly, errors dropped costs some answer cross-entropy.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReplacementCheck, TranscoderSetLayer } from '../../src-main/contract/contract';
import { setLayers } from '../../src-main/core/circuits/transcoder-set';
import { runCli } from '../helpers/cli';
import { benchItems, cliSteps, DEMO, DEMO_MLP_TAPS, harvestArgs, synthBench } from '../helpers/demo-workspace';

let ws: string;
let bench: string;
/** A colour question's --set/--image/--prompt, set by the set test for the --method test. */
let traceArgs: string[] = [];

beforeAll(async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-circuits-set-'));
  ws = path.join(root, 'ws');
  bench = path.join(root, 'bench');
  await synthBench(bench, 5, 3);
  await cliSteps([harvestArgs(ws, bench, DEMO_MLP_TAPS)], 180_000);
}, 240_000);

describe('transcoder sets', () => {
  it('picks the layers with both MLP taps, and refuses layers the harvest lacks', () => {
    const taps = ['blocks.0.hook_mlp_in', 'blocks.0.hook_mlp_out', 'blocks.2.hook_mlp_in', 'blocks.2.hook_mlp_out', 'blocks.1.hook_mlp_in'];
    expect(setLayers(taps).map((l) => l.layer)).toEqual([0, 2]);
    expect(setLayers(taps, [2])).toEqual([{ layer: 2, inTap: 'blocks.2.hook_mlp_in', outTap: 'blocks.2.hook_mlp_out' }]);
    expect(() => setLayers(taps, [1])).toThrow(/lacks hook_mlp_in or hook_mlp_out of layer 1/);
    expect(() => setLayers(['blocks.0.hook_resid_post'])).toThrow(/needs blocks.L.hook_mlp_in/);
  });

  it('trains one transcoder per layer with a per-layer report; the replacement model keeps the clean answers with errors kept', async () => {
    const trained = await runCli(
      [
        'circuit',
        'train-set',
        '--workspace',
        ws,
        '--harvest',
        '1',
        '--expansion',
        '4',
        '--k',
        '8',
        '--steps',
        '300',
        '--batch',
        '256',
        '--lr',
        '1e-3',
        '--device',
        'cpu',
        '--json',
      ],
      240_000,
    );
    expect(trained.code, trained.stderr).toBe(0);
    const set = JSON.parse(trained.stdout) as { setId: number; layers: TranscoderSetLayer[] };
    expect(set.layers.map((l) => [l.layer, l.inTap, l.outTap])).toEqual(
      [0, 1, 2].map((l) => [l, `blocks.${l}.hook_mlp_in`, `blocks.${l}.hook_mlp_out`]),
    );
    expect(new Set(set.layers.map((l) => l.saeId)).size).toBe(3);
    for (const l of set.layers) {
      expect(l.fvu!).toBeLessThan(0.3);
      expect(Math.abs(l.l0! - 8)).toBeLessThan(0.8);
      expect(l.deadFraction!).toBeLessThan(0.3);
    }

    const checked = await runCli(
      [
        'circuit',
        'check',
        '--workspace',
        ws,
        '--set',
        String(set.setId),
        '--model',
        DEMO,
        '--dataset',
        bench,
        '--limit',
        '16',
        '--device',
        'cpu',
        '--json',
      ],
      240_000,
    );
    expect(checked.code, checked.stderr).toBe(0);
    const r = JSON.parse(checked.stdout) as ReplacementCheck;
    expect(r.layers).toEqual([0, 1, 2]);
    expect(r.items).toBe(16);
    expect(r.tokens).toBeGreaterThanOrEqual(16);
    // Errors kept: the edit adds exactly zero, so the model is bit-identical to the clean one.
    expect(r.ceErrorsKept).toBe(r.ceClean);
    // Errors dropped: the transcoders' reconstruction error costs cross-entropy, but the model still answers.
    expect(r.ceReplaced).toBeGreaterThan(r.ceClean);
    expect(r.ceIncrease).toBeCloseTo(r.ceReplaced - r.ceClean, 12);
    expect(r.accuracyClean!).toBeGreaterThanOrEqual(0.9);
    expect(r.accuracyReplaced!).toBeGreaterThanOrEqual(0.5);
    expect(r.accuracyChange).toBeCloseTo(r.accuracyReplaced! - r.accuracyClean!, 12);

    // A traced graph is saved in the workspace, with the method that produced it.
    const item = benchItems(bench).find((i) => i.task === 'color')!;
    const traced = await runCli(
      [
        'circuit',
        'trace',
        '--workspace',
        ws,
        '--set',
        String(set.setId),
        '--image',
        path.join(bench, item.image),
        '--prompt',
        item.question,
        '--target',
        item.answer.value,
        '--max-features',
        '64',
        '--device',
        'cpu',
        '--json',
      ],
      120_000,
    );
    expect(traced.code, traced.stderr).toBe(0);
    const t = JSON.parse(traced.stdout) as { file: string; method: string; nodes: number; edges: number };
    expect(t.method).toBe('linearised-backward');
    const doc = JSON.parse(fs.readFileSync(t.file, 'utf8')) as {
      nodes: unknown[];
      edges: unknown[];
      attention: { layers: number[][][] };
      method: string;
    };
    expect(t.file.startsWith(path.join(ws, 'blobs', 'circuits'))).toBe(true);
    expect([doc.nodes.length, doc.edges.length]).toEqual([t.nodes, t.edges]);
    expect(doc.attention.layers).toHaveLength(3);
    traceArgs = ['--set', String(set.setId), '--image', path.join(bench, item.image), '--prompt', item.question];
  }, 600_000);

  it('--method: a bad value is refused with one line and no workspace made; ablation is recorded in the saved graph', async () => {
    expect(traceArgs.length).toBeGreaterThan(0);
    const fresh = path.join(path.dirname(ws), 'not-made');
    const bad = await runCli(['circuit', 'trace', '--workspace', fresh, ...traceArgs, '--method', 'backprop', '--device', 'cpu']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/method: Invalid option: expected one of "auto"\|"linearised"\|"ablation"/);
    expect(fs.existsSync(fresh)).toBe(false);

    const before = fs.readdirSync(path.join(ws, 'blobs', 'circuits')).sort();
    const again = await runCli(['circuit', 'trace', '--workspace', ws, ...traceArgs, '--method', 'linear', '--device', 'cpu']);
    expect(again.code).not.toBe(0);
    expect(fs.readdirSync(path.join(ws, 'blobs', 'circuits')).sort()).toEqual(before);

    const traced = await runCli(
      ['circuit', 'trace', '--workspace', ws, ...traceArgs, '--max-features', '16', '--method', 'ablation', '--device', 'cpu', '--json'],
      120_000,
    );
    expect(traced.code, traced.stderr).toBe(0);
    const t = JSON.parse(traced.stdout) as { file: string; method: string };
    expect(t.method).toBe('ablation');
    const doc = JSON.parse(fs.readFileSync(t.file, 'utf8')) as {
      method: string;
      methodDetail: string;
      nodes: Array<{ kind: string }>;
      attention: { layers: unknown[] };
    };
    expect(doc.method).toBe('ablation');
    expect(doc.methodDetail).toMatch(/Used because: asked for \(method ablation\)\.$/);
    expect(doc.nodes.some((n) => n.kind === 'error')).toBe(false);
    expect(doc.nodes.filter((n) => n.kind === 'feature').length).toBeGreaterThan(0);
    expect(doc.attention.layers).toEqual([]);
  }, 300_000);

  it('refuses a set that does not exist with one line, and a harvest without MLP taps', async () => {
    const res = await runCli([
      'circuit',
      'check',
      '--workspace',
      ws,
      '--set',
      '999',
      '--model',
      DEMO,
      '--dataset',
      bench,
      '--device',
      'cpu',
    ]);
    expect(res.code).not.toBe(0);
    expect(res.stderr.trim()).toMatch(/No transcoder set 999/);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    const bad = await runCli(['circuit', 'train-set', '--workspace', ws, '--harvest', '1', '--layers', '7', '--steps', '10']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/lacks hook_mlp_in or hook_mlp_out of layer 7/);
  }, 120_000);
});
