/**
 * Training without storing (core/harvest/model-rows.ts): a tap's rows produced by running the
 * bundled demo model equal, bit for bit and numbered the same, the rows a harvest of the same items
 * stores in fp32, with the same modalities; a produced batch is reused, not re-run; and
 * `ocular train --from-model` refuses bad input with one line before any workspace exists.
 * (kill-resume-kinds.test.ts checks that a run from the model trains the harvest-trained SAE bit for
 * bit, killed and resumed.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetStore } from '../../src-main/core/datasets/dataset-store';
import { HarvestStore } from '../../src-main/core/harvest/harvest-store';
import { ModelRows } from '../../src-main/core/harvest/model-rows';
import { ShardReader } from '../../src-main/core/harvest/shard-reader';
import { tappedGraph } from '../../src-main/core/jobs/kinds/harvest';
import { SessionPool } from '../../src-main/core/runtime/session-pool';
import { MODALITIES } from '../../src-main/core/sae/train-log';
import { Workspace } from '../../src-main/core/store/workspace';
import { VlmPipeline } from '../../src-main/core/vlm/pipeline';
import { runCli } from '../helpers/cli';
import { repoRoot, sessionHostEntry, tmpDir } from '../helpers/tmp';

const DEMO = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm');
const TAP = 'blocks.0.hook_resid_post';
let root: string;
let pool: SessionPool;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-from-model-')); // shared by the tests, so not tmpDir()
  expect((await runCli(['dataset', 'synth', '--out', path.join(root, 'bench'), '--seed', '3', '--per-cell', '1'])).code).toBe(0);
  const args = ['harvest', '-w', path.join(root, 'ws'), '--model', DEMO, '--dataset', path.join(root, 'bench'), '--tap', TAP];
  const harvest = await runCli([...args, '--dtype', 'fp32', '--device', 'cpu', '--json'], 120_000);
  expect(harvest.code, harvest.stderr).toBe(0);
  pool = new SessionPool({ hostEntry: sessionHostEntry, size: 1 });
}, 180_000);

afterAll(async () => {
  await pool?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('rows produced by the model', () => {
  it('equal the fp32 harvest of the same items, row for row, with their modalities; a produced batch is reused', async () => {
    const ws = path.join(root, 'ws');
    const w = Workspace.open(ws, { readOnly: true });
    try {
      const datasets = new DatasetStore(w.db);
      const dataset = datasets.get(1);
      const h = new HarvestStore(w.db, ws).get(1);
      const reader = new ShardReader(w.db, ws, h, TAP);
      const vlm = await VlmPipeline.load(DEMO, pool, 'cpu');
      const decoder = (await tappedGraph(pool, vlm.files.decoder, [TAP], '', tmpDir(), 'cpu'))!;
      const rows = await ModelRows.index({
        vlm,
        pool,
        decoder,
        taps: [TAP],
        items: datasets.items(1),
        datasetPath: dataset.path,
        batchSize: h.params.batchSize,
        kinds: new Set(['image', 'text']),
        cacheBytes: 1 << 30,
        codeOf: (m) => MODALITIES.indexOf(m),
      });
      expect(rows.rows).toBe(reader.rows);
      const source = rows.source(TAP);
      expect(source.width).toBe(reader.width);
      const codes = new Uint8Array(reader.rows);
      for (const r of new HarvestStore(w.db, ws).modalities(1, 'decoder')) codes[r.row] = MODALITIES.indexOf(r.modality as 'text');
      expect(Buffer.from(rows.codes).equals(Buffer.from(codes))).toBe(true);
      // The whole tap, then ranges across batch boundaries, scaled as the shuffle buffer reads them.
      for (const [from, count, scale] of [
        [0, reader.rows, 1],
        [3, reader.rows - 10, 0.37],
        [reader.rows - 1, 1, 2],
      ] as const) {
        const fromModel = new Float32Array(count * reader.width);
        const fromShards = new Float32Array(count * reader.width);
        await source.readRange(from, count, fromModel, 0, scale);
        reader.readRange(from, count, fromShards, 0, scale);
        expect(Buffer.from(fromModel.buffer).equals(Buffer.from(fromShards.buffer)), `rows ${from}+${count}`).toBe(true);
      }
      // 21 items in forward passes of 8: three batches, each run once (then served from the cache).
      expect(rows.batchesRun).toBe(3);
    } finally {
      w.close();
    }
  }, 180_000);
});

describe('a transcoder from the model', () => {
  it('equals the transcoder trained on an fp32 harvest of both taps, bit for bit', async () => {
    const ws = path.join(root, 'ws');
    const bench = path.join(root, 'bench');
    const taps = ['--tap', 'blocks.0.hook_mlp_in', '--tap', 'blocks.0.hook_mlp_out'];
    const harvest = await runCli(
      ['harvest', '-w', ws, '--model', DEMO, '--dataset', bench, ...taps, '--dtype', 'fp32', '--device', 'cpu', '--json'],
      120_000,
    );
    expect(harvest.code, harvest.stderr).toBe(0);
    const harvestId = (JSON.parse(harvest.stdout) as { id: number }).id;
    const settings = [
      '--tap',
      'blocks.0.hook_mlp_in',
      '--out-tap',
      'blocks.0.hook_mlp_out',
      '--expansion',
      '2',
      '--k',
      '8',
      '--steps',
      '30',
    ];
    const common = [...settings, '--batch', '64', '--shuffle-buffer-mb', '0.5', '--seed', '4', '--device', 'cpu', '--json'];
    const weights = async (args: string[]) => {
      const res = await runCli(['train', '-w', ws, ...args, ...common], 240_000);
      expect(res.code, res.stderr).toBe(0);
      const saeId = (JSON.parse(res.stdout) as { saeId: number }).saeId;
      return fs.readFileSync(path.join(ws, 'blobs', 'saes', String(saeId), 'sae_weights.safetensors'));
    };
    const onHarvest = await weights(['--harvest', String(harvestId)]);
    const fromModel = await weights(['--from-model', '--model', DEMO, '--dataset', bench]);
    expect(fromModel.equals(onHarvest)).toBe(true);
  }, 600_000);
});

describe('ocular train --from-model refuses bad input in one line, before the workspace is created', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown tap', ['--tap', 'blocks.99.hook_resid_post'], /Unknown tap 'blocks\.99\.hook_resid_post'/],
    ['a vision-tower tap', ['--tap', 'vision.blocks.0.hook_resid_post'], /decoder taps only/],
    ['generated tokens', ['--tap', TAP, '--tokens', 'text,generated'], /generated tokens need a stored harvest/],
    ['a harvest as well', ['--tap', TAP, '--harvest', '1'], /not both/],
    ['an unknown architecture', ['--tap', TAP, '--arch', 'gated'], /architecture/],
    ['an unknown output tap', ['--tap', TAP, '--out-tap', 'blocks.0.hook_nope'], /Unknown tap 'blocks\.0\.hook_nope'/],
  ];
  for (const [what, args, message] of cases)
    it(`refuses ${what}`, async () => {
      const ws = path.join(tmpDir(), 'ws');
      const res = await runCli(['train', '-w', ws, '--from-model', '--model', DEMO, '--dataset', path.join(root, 'bench'), ...args]);
      expect(res.code).toBe(2);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(message);
      expect(fs.existsSync(ws)).toBe(false);
    });
});
