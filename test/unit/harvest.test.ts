/**
 * Harvesting on the tiny LLaVA export: rows for the chosen taps and token kinds with their index,
 * values equal to a direct run of the tapped graph, fp16 shards close to fp32, statistics, and a
 * cancelled harvest resumed to the same rows as an uninterrupted one.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HarvestRecord } from '../../src-main/contract/contract';
import { HarvestStore } from '../../src-main/core/harvest/harvest-store';
import { SessionPool } from '../../src-main/core/runtime/session-pool';
import { Workspace } from '../../src-main/core/store/workspace';
import { backendWithBenchmark, TINY_LLAVA as LLAVA } from '../helpers/backend';
import { directDecoderTap } from '../helpers/direct-run';
import { sessionHostEntry, tmpDir } from '../helpers/tmp';

const TAPS = ['blocks.1.hook_resid_post', 'vision.blocks.1.hook_resid_post'];
const setup = () => backendWithBenchmark(4, 1);

describe('harvest', () => {
  it('captures decoder and vision taps for image, text and generated tokens, equal to a direct run', async () => {
    const { ws, call, until, done, datasetId, modelId } = await setup();
    const started = await call('harvests.start', {
      modelId,
      datasetId,
      taps: TAPS,
      tokenKinds: ['image', 'text', 'generated'],
      dtype: 'fp32',
      limit: 6,
      batchSize: 4,
      maxNewTokens: 3,
      shardRows: 40,
      device: 'cpu',
    });
    expect(started.estimate.bytes).toBeGreaterThan(0);
    const job = await until(started.job.id, done);
    expect(job.error).toBeNull();
    const [h] = await call('harvests.list', {});
    expect(h!.items).toBe(6);
    // 6 items x 16 vision patches + CLS = 102 vision rows
    expect(h!.rows.vision).toBe(6 * 17);
    expect(h!.stats['blocks.1.hook_resid_post']).toMatchObject({ width: 32, rows: h!.rows.decoder });
    expect(h!.stats['blocks.1.hook_resid_post']!.meanNorm).toBeGreaterThan(0);

    const workspace = Workspace.open(ws, { readOnly: true });
    try {
      const store = new HarvestStore(workspace.db, ws);
      const index = store.rowIndex(h!.id, 'decoder');
      expect(new Set(index.map((r) => r.modality))).toEqual(new Set(['image', 'text', 'generated']));
      expect(index.filter((r) => r.modality === 'image').every((r) => r.image === 0)).toBe(true);
      const patches = index.filter((r) => r.modality === 'image' && r.patchRow !== null);
      expect(patches.length).toBe(6 * 16);
      const vision = store.rowIndex(h!.id, 'vision');
      expect(vision.filter((r) => r.patchRow === null)).toHaveLength(6); // the CLS token of each image
      const decoded = store.readTap(h!.id, 'blocks.1.hook_resid_post');
      expect(decoded.rows).toBe(index.length);

      // Recompute the first item's prompt rows by running the tapped decoder directly.
      const pool = new SessionPool({ hostEntry: sessionHostEntry, size: 1 });
      try {
        const firstItem = index[0]!.itemId;
        const direct = await directDecoderTap(workspace, pool, LLAVA, firstItem, 'blocks.1.hook_resid_post');
        const promptRows = index.map((r, i) => ({ r, i })).filter(({ r }) => r.itemId === firstItem && r.modality !== 'generated');
        for (const { r, i } of promptRows) {
          const offset = r.position; // alone, the item has no padding
          const a = decoded.data.subarray(i * 32, (i + 1) * 32);
          const b = direct.subarray(offset * 32, (offset + 1) * 32);
          expect(Math.max(...Array.from(a, (v, k) => Math.abs(v - b[k]!)))).toBeLessThan(1e-4);
        }
      } finally {
        await pool.close();
      }
    } finally {
      workspace.close();
    }
  });

  it('stores fp16 shards close to fp32, and resumes a cancelled harvest to the same rows', async () => {
    const { ws, call, until, done, datasetId, modelId } = await setup();
    // One item per batch, so a cancel sent after the first items lands with many batches still to go.
    const base = {
      modelId,
      datasetId,
      taps: TAPS,
      tokenKinds: ['image' as const, 'text' as const],
      limit: 21,
      batchSize: 1,
      shardRows: 10,
      device: 'cpu' as const,
    };
    const full = await call('harvests.start', { ...base, dtype: 'fp32' });
    await until(full.job.id, done);
    const half = await call('harvests.start', { ...base, dtype: 'fp16' });
    await until(half.job.id, (j) => j.progress >= 0.1);
    await call('jobs.cancel', { id: half.job.id });
    expect((await until(half.job.id, done)).state).toBe('cancelled');
    await call('jobs.resume', { id: half.job.id });
    expect((await until(half.job.id, done)).state).toBe('succeeded');
    const list = await call('harvests.list', {});
    const [a, b] = [list.find((h) => h.id === full.harvest.id)!, list.find((h) => h.id === half.harvest.id)!];
    expect(b.items).toBe(21);
    expect(b.rows).toEqual(a.rows);
    const workspace = Workspace.open(ws, { readOnly: true });
    try {
      const store = new HarvestStore(workspace.db, ws);
      const x = store.readTap(a.id, 'vision.blocks.1.hook_resid_post');
      const y = store.readTap(b.id, 'vision.blocks.1.hook_resid_post');
      expect(y.rows).toBe(x.rows);
      let worst = 0;
      for (let i = 0; i < x.data.length; i++) worst = Math.max(worst, Math.abs(x.data[i]! - y.data[i]!) / (Math.abs(x.data[i]!) + 1e-2));
      expect(worst).toBeLessThan(1e-2);
    } finally {
      workspace.close();
    }
  });
});

describe('ocular harvest', () => {
  it('harvests from the command line and reports rows and statistics', async () => {
    const { runCli } = await import('../helpers/cli');
    const { synthesizeBenchmark } = await import('../../src-main/core/benchmark/synth');
    const { dir } = await synthesizeBenchmark({ out: tmpDir(), seed: 8, perCell: 1 });
    const res = await runCli([
      'harvest',
      '--workspace',
      path.join(tmpDir(), 'ws'),
      '--model',
      LLAVA,
      '--dataset',
      dir,
      '--tap',
      'vision.blocks.0.hook_resid_post',
      '--limit',
      '3',
      '--device',
      'cpu',
      '--json',
    ]);
    expect(res.code).toBe(0);
    const record = JSON.parse(res.stdout) as HarvestRecord;
    expect(record).toMatchObject({ items: 3, rows: { decoder: 0, vision: 3 * 17 } });
    const missing = await runCli(['harvest', '--workspace', path.join(tmpDir(), 'ws2'), '--model', LLAVA, '--dataset', dir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Give at least one --tap/);
  });
});
