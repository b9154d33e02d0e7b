/**
 * `ocular export harvest ID --format saelens`: a harvest written by HarvestStore (real SQLite, real
 * shard files) read back with an Arrow reader — schema as the real `datasets` library writes for
 * SAELens's CacheActivationsRunner (test/fixtures/saelens-cache, from tools/make_saelens_cache_fixture.py),
 * sequences of context_size rows with values bit-identical to the shards, rows carried across
 * shard and file ends; refusals change nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tableFromIPC, type Table } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { HarvestStore, type RowMeta } from '../../src-main/core/harvest/harvest-store';
import { ARRAY2D_EXTENSION, exportSaelens } from '../../src-main/core/harvest/saelens-export';
import { Workspace } from '../../src-main/core/store/workspace';
import { floatToHalf, halfToFloat } from '../../src-main/core/util/half';
import { runCli } from '../helpers/cli';
import { repoRoot, tmpDir } from '../helpers/tmp';

const FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'saelens-cache');
const TAP = 'blocks.1.hook_resid_post';
const VISION = 'vision.blocks.0.hook_resid_post';
const WIDTH = 3;

const rowMeta = (i: number, tokenId: number | null): RowMeta => ({
  itemId: 1,
  position: i,
  modality: tokenId === null ? 'image' : 'text',
  image: null,
  patchRow: null,
  patchCol: null,
  tokenId,
  tile: null,
  box: null,
});

/** A workspace with one harvest of `dtype`: decoder TAP (token ids 100+row) and VISION (no ids), in shards of `sizes` rows. */
function harvestWorkspace(dtype: 'fp16' | 'fp32', sizes: number[]) {
  const dir = path.join(tmpDir(), 'ws');
  const ws = Workspace.create(dir);
  ws.db
    .prepare('INSERT INTO datasets (name, path, source, meta_json, created_at) VALUES (?, ?, ?, ?, ?)')
    .run('d', dir, 'synth', '{}', new Date().toISOString());
  const store = new HarvestStore(ws.db, dir);
  const params = {
    taps: [TAP, VISION],
    tokenKinds: ['text' as const],
    dtype,
    limit: null,
    batchSize: 1,
    shardRows: 8,
    maxNewTokens: 1,
    device: 'cpu' as const,
  };
  const h = store.create('/models/m', 1, params);
  const all: number[] = [];
  let row = 0;
  for (const n of sizes) {
    const data = Float32Array.from({ length: n * WIDTH }, (_, k) => Math.sin(row * WIDTH + k + 1) * 3);
    all.push(...data);
    const meta = Array.from({ length: n }, (_, i) => rowMeta(row + i, 100 + row + i));
    const stats = { rows: row + n, width: WIDTH, mean: [0, 0, 0], meanNorm: 1 };
    store.commit(h.id, {
      shards: { [TAP]: { data, width: WIDTH }, [VISION]: { data: data.map((v) => -v), width: WIDTH } },
      rows: { decoder: meta, vision: meta.map((m) => ({ ...m, tokenId: null })) },
      items: [],
      stats: { [TAP]: stats, [VISION]: stats },
    });
    row += n;
  }
  return { dir, ws, store, id: h.id, values: Float32Array.from(all) };
}

const read = (dir: string): Table[] => {
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { _data_files: Array<{ filename: string }> };
  return state._data_files.map((f) => tableFromIPC(fs.readFileSync(path.join(dir, f.filename))));
};

/** The activation column as [sequences][ctx][d_in] plain numbers, the Array2D shape checked on the way. */
function cells(table: Table, column: string, ctx: number, dIn: number): number[] {
  const out: number[] = [];
  for (const seq of table.getChild(column)!) {
    expect(seq.length).toBe(ctx);
    for (const r of seq) {
      expect(r.length).toBe(dIn);
      out.push(...Array.from(r as Iterable<number>));
    }
  }
  return out;
}

describe('SAELens cached-activation export', () => {
  it('reads the fixture the real datasets library wrote, as our reader sees it', () => {
    const [t] = read(FIXTURE);
    // tools/make_saelens_cache_fixture.py: arange(12)/4 - 1 as float16, token ids 100..103
    expect(cells(t!, TAP, 2, 3)).toEqual(Array.from({ length: 12 }, (_, i) => i / 4 - 1));
    expect(Array.from(t!.getChild('token_ids')!, (v) => Array.from(v as Iterable<number>))).toEqual([
      [100, 101],
      [102, 103],
    ]);
  });

  it('writes fp16 bit for bit in the fixture layout, sequences across shard and file ends', () => {
    const { dir, ws, store, id, values } = harvestWorkspace('fp16', [5, 4, 3]);
    const out = path.join(tmpDir(), 'cache');
    const r = exportSaelens(ws.db, dir, store, id, { tap: TAP, out, contextSize: 2, dropLast: false, fileBytes: 2 * 2 * WIDTH * 2 });
    expect(r).toMatchObject({ sequences: 6, rows: 12, dIn: 3, contextSize: 2, dtype: 'float16', tokenIds: true, droppedRows: 0 });
    expect(r.files).toEqual(['data-00000-of-00003.arrow', 'data-00001-of-00003.arrow', 'data-00002-of-00003.arrow']);

    const [fx] = read(FIXTURE);
    const tables = read(out);
    expect(tables.map((t) => t.numRows)).toEqual([2, 2, 2]);
    for (const t of tables) {
      // Same Arrow schema as datasets' own file: types, Array2D extension metadata, field order.
      expect(t.schema.fields.map((f) => [f.name, String(f.type), f.nullable, Object.fromEntries(f.metadata)])).toEqual(
        fx!.schema.fields.map((f) => [f.name, String(f.type), f.nullable, Object.fromEntries(f.metadata)]),
      );
      expect(t.schema.fields[0]!.metadata.get('ARROW:extension:name')).toBe(ARRAY2D_EXTENSION);
      // Features equal the fixture's, except Sequence spelled for datasets < 4 (which 4+ reads as List).
      const hf = (m: Map<string, string>) => JSON.parse(m.get('huggingface')!) as { info: { features: Record<string, { _type: string }> } };
      const ours = hf(t.schema.metadata).info.features;
      const theirs = hf(fx!.schema.metadata).info.features;
      expect({ ...ours, token_ids: { ...ours.token_ids, _type: 'List' } }).toEqual(theirs);
    }
    // Values: the stored half bits, exactly; token ids in row order.
    const halves = floatToHalf(values);
    const bits = tables.flatMap((t) => {
      const leaf = t.getChild(TAP)!.data.flatMap((d) => d.children[0]!.children[0]!.values as Uint16Array);
      return leaf.flatMap((v) => Array.from(v));
    });
    expect(bits).toEqual(Array.from(halves));
    expect(tables.flatMap((t) => cells(t, TAP, 2, 3))).toEqual(Array.from(halfToFloat(halves)));
    expect(tables.flatMap((t) => Array.from(t.getChild('token_ids')!, (v) => Array.from(v as Iterable<number>))).flat()).toEqual(
      Array.from({ length: 12 }, (_, i) => 100 + i),
    );
    const info = JSON.parse(fs.readFileSync(path.join(out, 'dataset_info.json'), 'utf8')) as { features: unknown };
    const fxInfo = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'dataset_info.json'), 'utf8')) as { features: Record<string, object> };
    expect(info.features).toEqual({ ...fxInfo.features, token_ids: { ...fxInfo.features.token_ids, _type: 'Sequence' } });
    const state = JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8')) as Record<string, unknown>;
    const fxState = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'state.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(state).sort()).toEqual(Object.keys(fxState).sort());
    ws.close();
  });

  it('writes fp32 vision rows without token_ids, and drops a partial last sequence only when asked', () => {
    const { dir, ws, store, id, values } = harvestWorkspace('fp32', [4, 3]);
    const out = path.join(tmpDir(), 'cache');
    expect(() => exportSaelens(ws.db, dir, store, id, { tap: VISION, out, contextSize: 3, dropLast: false })).toThrow(
      /7 rows .* not a whole number of sequences of 3; pass --drop-last to leave out the last 1/,
    );
    expect(fs.existsSync(out)).toBe(false);
    const r = exportSaelens(ws.db, dir, store, id, { tap: VISION, out, contextSize: 3, dropLast: true });
    expect(r).toMatchObject({ sequences: 2, rows: 6, droppedRows: 1, tokenIds: false, dtype: 'float32' });
    const [t] = read(out);
    expect(t!.schema.fields.map((f) => f.name)).toEqual([VISION]);
    expect(String(t!.schema.fields[0]!.type)).toBe('List<List<Float32>>');
    expect(t!.schema.fields[0]!.metadata.get('ARROW:extension:metadata')).toBe('[[3, 3], "float32"]');
    expect(cells(t!, VISION, 3, 3)).toEqual(Array.from(values.subarray(0, 18), (v) => -v));
    ws.close();
  });

  it('refuses an unknown tap and a non-empty folder, leaving both as they were', () => {
    const { dir, ws, store, id } = harvestWorkspace('fp32', [2]);
    const out = path.join(tmpDir(), 'cache');
    expect(() => exportSaelens(ws.db, dir, store, id, { tap: 'blocks.9.hook_resid_post', out, contextSize: 1, dropLast: false })).toThrow(
      /has no tap blocks\.9\.hook_resid_post; it has blocks\.1\.hook_resid_post, vision\.blocks\.0\.hook_resid_post/,
    );
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
    expect(() => exportSaelens(ws.db, dir, store, id, { tap: TAP, out, contextSize: 1, dropLast: false })).toThrow(/not an empty folder/);
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['cache']);
    ws.close();
  });

  it('runs from the CLI with a one-line error for bad input', async () => {
    const { dir, ws } = harvestWorkspace('fp16', [4]);
    ws.close();
    const out = path.join(tmpDir(), 'cache');
    const bad = await runCli(['export', 'harvest', '1', '--format', 'parquet', '--workspace', dir, '--out', out]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--format must be saelens/);
    const several = await runCli(['export', 'harvest', '1', '--format', 'saelens', '--workspace', dir, '--out', out]);
    expect(several.stderr).toMatch(/several taps .* choose one with --tap/);
    const ok = await runCli([
      'export',
      'harvest',
      '1',
      '--format',
      'saelens',
      '--workspace',
      dir,
      '--tap',
      TAP,
      '--context-size',
      '2',
      '--out',
      out,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/exported 4 rows of blocks\.1\.hook_resid_post as 2 sequences of 2 \(float16, d_in 3\)/);
    expect(read(out)[0]!.numRows).toBe(2);
  });
});
