/**
 * The bounded shuffle buffer (core/harvest/shuffle-buffer.ts) and the shard range reads under it:
 * every row exactly once per epoch over a harvest many times the buffer, a resume from any position
 * continues the uninterrupted stream exactly, memory bounded by the buffer, row numbers past 2^32
 * values, fp16 / bf16 / fp32 shards decoded on the fly (real shard files and a real SQLite index).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ShardReader, type ShardDtype } from '../../src-main/core/harvest/shard-reader';
import { ShuffleBuffer, shuffleLayout, type RowSource } from '../../src-main/core/harvest/shuffle-buffer';
import { activationScale } from '../../src-main/core/sae/normalize';
import { meanOf } from '../../src-main/core/sae/init';
import { streamedMean, streamedScale } from '../../src-main/core/sae/train-data';
import { floatToHalf } from '../../src-main/core/util/half';
import { memorySource } from '../helpers/row-source';
import { tmpDir } from '../helpers/tmp';

/** Row r's values: r itself and r + 0.5, so every drawn row can be checked against its row number. */
const rowData = (rows: number, width: number) =>
  Float32Array.from({ length: rows * width }, (_, i) => Math.floor(i / width) + (i % width) / 2);

async function draw(buf: ShuffleBuffer, n: number, width: number) {
  const out = new Float32Array(n * width);
  const rows = new Float64Array(n);
  // In uneven pieces, as chunks of steps take them.
  for (let at = 0, piece = 1; at < n; at += piece, piece = (piece % 7) + 1) await buf.take(Math.min(piece, n - at), [out], rows, at);
  return { out, rows };
}

describe('shuffle buffer', () => {
  const rows = 1003;
  const width = 3;
  const data = rowData(rows, width);
  // Room for about 50 rows: chunks of 4 rows, 12 chunks a window, 251 chunks (the last one short).
  const layout = shuffleLayout(rows, [width], 50 * (4 * width + 12), 7);

  it('cuts a harvest larger than the buffer into chunks and windows the buffer holds', () => {
    expect(layout).toEqual({ seed: 7, rows, chunkRows: 4, chunksPerWindow: 12 });
    expect(shuffleLayout(40, [width], 1 << 20, 7)).toEqual({ seed: 7, rows: 40, chunkRows: 40, chunksPerWindow: 1 });
  });

  it('draws every row exactly once per epoch, with its data, in a new order each epoch; reads stay within the buffer', async () => {
    const reads: Array<[number, number]> = [];
    const buf = new ShuffleBuffer([{ source: memorySource(data, width, reads), scale: 1 }], layout);
    expect(buf.bytes).toBeLessThanOrEqual(50 * (4 * width + 12));
    const { out, rows: drawn } = await draw(buf, rows * 3 + 10, width);
    for (let i = 0; i < drawn.length; i++)
      expect([...out.subarray(i * width, (i + 1) * width)]).toEqual([0, 0.5, 1].map((v) => v + drawn[i]!));
    const epochs = [0, 1, 2].map((e) => [...drawn.subarray(e * rows, (e + 1) * rows)]);
    for (const e of epochs) expect([...e].sort((a, b) => a - b)).toEqual(Array.from({ length: rows }, (_, i) => i));
    expect(epochs[1]).not.toEqual(epochs[0]);
    expect(epochs[0]).not.toEqual(Array.from({ length: rows }, (_, i) => i));
    expect(buf.position).toEqual({ epoch: 3, cursor: 10 });
    expect(Math.max(...reads.map(([, n]) => n))).toBeLessThanOrEqual(layout.chunkRows);
    // Rows from across the harvest share a window: the first 48 draws span more than a quarter of it.
    const first = [...drawn.subarray(0, 48)];
    expect(Math.max(...first) - Math.min(...first)).toBeGreaterThan(rows / 4);
  });

  it('resumed at any position, continues exactly as the uninterrupted stream', async () => {
    const whole = await draw(new ShuffleBuffer([{ source: memorySource(data, width), scale: 2 }], layout), 2 * rows + 5, width);
    for (const at of [0, 1, 47, 48, 500, rows - 1, rows, rows + 333, 2 * rows]) {
      const first = new ShuffleBuffer([{ source: memorySource(data, width), scale: 2 }], layout);
      await draw(first, at, width);
      const resumed = new ShuffleBuffer([{ source: memorySource(data, width), scale: 2 }], layout, first.position);
      const rest = await draw(resumed, 2 * rows + 5 - at, width);
      expect(Buffer.from(rest.out.buffer).equals(Buffer.from(whole.out.subarray(at * width).slice().buffer)), `at ${at}`).toBe(true);
      expect([...rest.rows]).toEqual([...whole.rows.subarray(at)]);
    }
  });

  it('draws paired rows from two taps together (a transcoder), each with its own scale', async () => {
    const target = memorySource(
      rowData(rows, 2).map((v) => -v),
      2,
    );
    const buf = new ShuffleBuffer(
      [
        { source: memorySource(data, width), scale: 1 },
        { source: target, scale: 0.5 },
      ],
      shuffleLayout(rows, [width, 2], 60 * (4 * (width + 2) + 12), 3),
    );
    const xs = new Float32Array(200 * width);
    const ys = new Float32Array(200 * 2);
    const picked = new Float64Array(200);
    await buf.take(200, [xs, ys], picked);
    for (let i = 0; i < 200; i++) {
      expect(xs[i * width]).toBe(picked[i]);
      expect([...ys.subarray(i * 2, i * 2 + 2)]).toEqual([-picked[i]! / 2, -(picked[i]! + 0.5) / 2]);
    }
  });

  it('numbers rows past 2^32 values exactly (Number offsets, no typed array over the harvest)', async () => {
    const big = 2 ** 27 + 5; // × 64 wide = 2^33 values
    const w = 64;
    // A virtual tap: row r's first two values encode r exactly in float32.
    const source: RowSource = {
      rows: big,
      width: w,
      readRange(from, count, out, at) {
        for (let r = 0; r < count; r++) {
          out[at + r * w] = (from + r) % 2 ** 24;
          out[at + r * w + 1] = Math.floor((from + r) / 2 ** 24);
        }
      },
    };
    const l = shuffleLayout(big, [w], 1 << 20, 1);
    const start = { epoch: 4, cursor: big - 100 };
    const buf = new ShuffleBuffer([{ source, scale: 1 }], l, start);
    expect(buf.bytes).toBeLessThanOrEqual(1 << 20);
    const out = new Float32Array(300 * w);
    const picked = new Float64Array(300);
    await buf.take(300, [out], picked);
    for (let i = 0; i < 300; i++) expect(out[i * w]! + out[i * w + 1]! * 2 ** 24).toBe(picked[i]);
    expect(Math.max(...picked)).toBeGreaterThan(2 ** 26);
    expect(buf.position).toEqual({ epoch: 5, cursor: 200 });
  });
});

describe('shard range reads', () => {
  /** A tap in real shard files of `dtype`, indexed in a real SQLite harvest_shards table. */
  function shardTap(dtype: ShardDtype, values: Float32Array, width: number, shardRows: number[]) {
    const dir = tmpDir();
    const db = new Database(':memory:');
    db.exec('CREATE TABLE harvest_shards (harvest_id INTEGER, tap TEXT, shard INTEGER, file TEXT, first_row INTEGER, rows INTEGER)');
    let first = 0;
    shardRows.forEach((n, shard) => {
      const slice = values.subarray(first * width, (first + n) * width);
      const bytes =
        dtype === 'fp32'
          ? Buffer.from(slice.slice().buffer)
          : dtype === 'fp16'
            ? Buffer.from(floatToHalf(slice).buffer)
            : Buffer.from(Uint16Array.from(new Uint32Array(slice.slice().buffer), (u) => u >>> 16).buffer);
      const file = `t.${shard}.${dtype}`;
      fs.writeFileSync(path.join(dir, file), bytes);
      db.prepare('INSERT INTO harvest_shards VALUES (1, ?, ?, ?, ?, ?)').run('t', shard, file, first, n);
      first += n;
    });
    const h = { id: 1, stats: { t: { width } }, params: { dtype } } as unknown as ConstructorParameters<typeof ShardReader>[2];
    return new ShardReader(db as never, dir, h, 't');
  }

  // Values exact in fp16 and bf16 (small integers and halves), so every dtype reads back the same numbers.
  const width = 5;
  const values = Float32Array.from({ length: 23 * width }, (_, i) => ((i * 37) % 61) / 2 - 15);

  for (const dtype of ['fp32', 'fp16', 'bf16'] as const) {
    it(`reads any row range of ${dtype} shards across shard boundaries, converted and scaled on the fly`, () => {
      const reader = shardTap(dtype, values, width, [7, 1, 10, 5]);
      expect(reader.rows).toBe(23);
      for (const [from, count] of [
        [0, 23],
        [6, 3],
        [7, 1],
        [8, 15],
        [22, 1],
      ] as const) {
        const out = new Float32Array(count * width + 2);
        reader.readRange(from, count, out, 2, 3);
        expect([...out.subarray(2)]).toEqual([...values.subarray(from * width, (from + count) * width)].map((v) => Math.fround(v * 3)));
      }
      expect(() => reader.readRange(20, 5, new Float32Array(25), 0)).toThrow(/not all in its shards/);
    });
  }

  for (const dtype of ['fp32', 'fp16', 'bf16'] as const)
    it(`reads listed rows of ${dtype} shards in the order asked (runs read as spans, gaps, repeats, shard boundaries)`, () => {
      const reader = shardTap(dtype, values, width, [7, 1, 10, 5]);
      const rows = [0, 1, 2, 4, 6, 7, 8, 9, 9, 12, 30 - 8, 3, 0, 17, 18, 19, 20, 21, 22, 5, 8];
      const out = reader.readRows(rows);
      expect([...out]).toEqual(rows.flatMap((r) => [...values.subarray(r * width, (r + 1) * width)]));
      expect(() => reader.readRows([2, 23])).toThrow(/row 23 is not in any shard/);
    });

  it('bf16 keeps the upper 16 bits of a float32 (truncating what it cannot hold)', () => {
    const reader = shardTap('bf16', Float32Array.of(1.00390625, -3.5, 65504, 1e-3), 4, [1]);
    const out = new Float32Array(4);
    reader.readRange(0, 1, out, 0);
    expect([...out]).toEqual([1, -3.5, 65280, 0.00099945068359375]);
  });

  it('streamed scale and mean equal the in-memory ones bit for bit', async () => {
    const reader = shardTap('fp16', values, width, [7, 1, 10, 5]);
    const all = new Float32Array(23 * width);
    reader.readRange(0, 23, all, 0);
    const s = await streamedScale(reader);
    expect(s).toBe(activationScale(all, 23, width));
    expect([...(await streamedMean(reader, s))]).toEqual([
      ...meanOf(
        Float32Array.from(all, (v) => v * s),
        23,
        width,
      ),
    ]);
  });
});
