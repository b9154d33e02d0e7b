/**
 * Workspace preparation shared by the tests that run the whole path on the bundled demo model:
 * a synthetic benchmark, a harvest, a TopK SAE (optionally analysed), or a transcoder set, each
 * made by the real CLI as a user would. One place for the settings these tests agree on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { loadSet, type LoadedSet } from '../../src-main/core/circuits/transcoder-set';
import { SessionPool } from '../../src-main/core/runtime/session-pool';
import { SaeStore } from '../../src-main/core/sae/sae-store';
import { Workspace } from '../../src-main/core/store/workspace';
import { VlmPipeline } from '../../src-main/core/vlm/pipeline';
import { runCli } from './cli';
import { repoRoot, sessionHostEntry } from './tmp';

export const DEMO = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm');

/** Runs CLI steps in order; each must exit 0 (its command and stderr name a failure). Returns their stdout. */
export async function cliSteps(steps: string[][], timeoutMs: number): Promise<string[]> {
  const out: string[] = [];
  for (const args of steps) {
    const r = await runCli(args, timeoutMs);
    expect(r.code, `${args[0]}: ${r.stderr}`).toBe(0);
    out.push(r.stdout);
  }
  return out;
}

/** `ocular dataset synth` into `out`. */
export async function synthBench(out: string, seed: number, perCell: number): Promise<void> {
  expect((await runCli(['dataset', 'synth', '--out', out, '--seed', String(seed), '--per-cell', String(perCell)])).code).toBe(0);
}

/** What the tests read of an item of `ocular dataset synth`. */
export interface SynthItem {
  id: string;
  task: string;
  image: string;
  question: string;
  answer: { value: string };
  scene: { objects: Array<{ shape: string; color: string; bbox: [number, number, number, number] }> };
}

/** The items of a synthetic benchmark (items.jsonl). */
export function benchItems(bench: string): SynthItem[] {
  return fs
    .readFileSync(path.join(bench, 'items.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SynthItem);
}

/** `ocular harvest` of the demo model on the CPU in fp32 (harvest 1 of a fresh workspace). */
export const harvestArgs = (ws: string, bench: string, taps: string[], extra: string[] = []): string[] => [
  'harvest',
  '--workspace',
  ws,
  '--model',
  DEMO,
  '--dataset',
  bench,
  ...taps.flatMap((t) => ['--tap', t]),
  '--dtype',
  'fp32',
  ...extra,
  '--device',
  'cpu',
  '--json',
];

/** The SAE settings these tests train with (`ocular train`, TopK unless --arch says otherwise): expansion 4, k 16, batch 512, lr 1e-3. */
export const saeSettings = (steps: number): string[] => [
  '--expansion',
  '4',
  '--k',
  '16',
  '--steps',
  String(steps),
  '--batch',
  '512',
  '--lr',
  '1e-3',
];

/**
 * A workspace (root/ws) on a synthetic benchmark (root/bench): the demo model harvested at `tap`,
 * SAE 1 trained on it by `ocular train`, and, with `analyze`, analysed on the benchmark.
 */
export async function demoSaeWorkspace(
  root: string,
  o: { tap: string; seed: number; perCell: number; steps: number; analyze: boolean; harvestExtra?: string[]; timeoutMs: number },
): Promise<{ ws: string; bench: string }> {
  const ws = path.join(root, 'ws');
  const bench = path.join(root, 'bench');
  await synthBench(bench, o.seed, o.perCell);
  const common = ['--workspace', ws, '--device', 'cpu', '--json'];
  await cliSteps(
    [
      harvestArgs(ws, bench, [o.tap], o.harvestExtra),
      ['train', '--harvest', '1', '--tap', o.tap, ...saeSettings(o.steps), ...common],
      ...(o.analyze ? [['analyze', '--sae', '1', '--dataset', bench, ...common]] : []),
    ],
    o.timeoutMs,
  );
  return { ws, bench };
}

/** hook_mlp_in and hook_mlp_out of every decoder layer of the demo model (a transcoder set's taps). */
export const DEMO_MLP_TAPS = [0, 1, 2].flatMap((l) => [`blocks.${l}.hook_mlp_in`, `blocks.${l}.hook_mlp_out`]);

export interface DemoTranscoders {
  root: string;
  ws: string;
  bench: string;
  setId: number;
  set: LoadedSet;
}

/**
 * A fresh workspace with the demo model's MLP taps harvested on a synthetic benchmark and a
 * transcoder set trained on them (`ocular circuit train-set`: TopK, expansion 4, k 8, 400 steps).
 */
export async function demoTranscoderSet(prefix: string, seed: number, perCell: number): Promise<DemoTranscoders> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const ws = path.join(root, 'ws');
  const bench = path.join(root, 'bench');
  await synthBench(bench, seed, perCell);
  await cliSteps([harvestArgs(ws, bench, DEMO_MLP_TAPS)], 180_000);
  const [trained] = await cliSteps(
    [
      ['circuit', 'train-set', '--workspace', ws, '--harvest', '1', '--expansion', '4', '--k', '8', '--steps', '400'].concat([
        '--batch',
        '256',
        '--lr',
        '1e-3',
        '--device',
        'cpu',
        '--json',
      ]),
    ],
    240_000,
  );
  const setId = (JSON.parse(trained!) as { setId: number }).setId;
  const w = Workspace.open(ws, { readOnly: true });
  try {
    return { root, ws, bench, setId, set: loadSet(new SaeStore(w.db, ws), setId) };
  } finally {
    w.close();
  }
}

/** A one-process session pool and the demo model's pipeline on the CPU. */
export async function demoPipeline(): Promise<{ pool: SessionPool; vlm: VlmPipeline }> {
  const pool = new SessionPool({ hostEntry: sessionHostEntry, size: 1 });
  return { pool, vlm: await VlmPipeline.load(DEMO, pool, 'cpu') };
}
