/**
 * Reading a harvested tap without holding it in memory: shard by shard in row order (the analysis
 * pass), or a handful of rows by index (a feature page's contexts and heatmaps).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../store/sqlite.js';
import { fromHalf } from '../util/half.js';
import type { HarvestRecord } from './harvest-store.js';

/** How a shard stores its values: IEEE half, bfloat16 (the upper half of a float32) or float32. */
export type ShardDtype = 'fp16' | 'bf16' | 'fp32';

/**
 * Decode `count` values of `dtype` from `buf` into out[at..] as float32, times `scale` (a float32
 * product, as scaling in place would give). Reads through views, no copies, when `buf` is aligned.
 */
export function decodeInto(buf: Buffer, count: number, dtype: ShardDtype, out: Float32Array, at: number, scale = 1): void {
  const bytes = dtype === 'fp32' ? 4 : 2;
  const src = buf.byteOffset % bytes === 0 ? buf : Buffer.from(buf.subarray(0, count * bytes));
  if (dtype === 'fp32') {
    const f = new Float32Array(src.buffer, src.byteOffset, count);
    if (scale === 1) out.set(f, at);
    else for (let i = 0; i < count; i++) out[at + i] = f[i]! * scale;
    return;
  }
  const u16 = new Uint16Array(src.buffer, src.byteOffset, count);
  if (dtype === 'fp16') {
    for (let i = 0; i < count; i++) out[at + i] = scale === 1 ? fromHalf(u16[i]!) : fromHalf(u16[i]!) * scale;
    return;
  }
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  for (let i = 0; i < count; i++) {
    bits[0] = u16[i]! << 16;
    out[at + i] = scale === 1 ? f[0]! : f[0]! * scale;
  }
}

interface Shard {
  file: string;
  firstRow: number;
  rows: number;
}

export class ShardReader {
  readonly shards: Shard[];
  readonly width: number;
  readonly rows: number;
  private readonly bytes: number;
  readonly dtype: ShardDtype;
  /** Reused across range reads, so streaming allocates nothing per read. */
  private scratch = Buffer.alloc(0);

  constructor(
    db: Db,
    private readonly workspaceDir: string,
    harvest: Pick<HarvestRecord, 'id' | 'stats' | 'params'>,
    readonly tap: string,
  ) {
    this.shards = db
      .prepare('SELECT file, first_row AS firstRow, rows FROM harvest_shards WHERE harvest_id = ? AND tap = ? ORDER BY shard')
      .all(harvest.id, tap) as Shard[];
    this.width = harvest.stats[tap]?.width ?? 0;
    this.rows = this.shards.reduce((n, s) => n + s.rows, 0);
    this.dtype = harvest.params.dtype as ShardDtype;
    this.bytes = this.dtype === 'fp32' ? 4 : 2;
  }

  private decode(buf: Buffer): Float32Array {
    const out = new Float32Array(buf.byteLength / this.bytes);
    decodeInto(buf, out.length, this.dtype, out, 0);
    return out;
  }

  /**
   * Rows [from, from + count) (global row numbers: Numbers, so harvests past 2^32 values work) into
   * out[at..] as float32 times `scale`, with positioned reads shard by shard: never a whole shard.
   */
  readRange(from: number, count: number, out: Float32Array, at: number, scale = 1): void {
    const rowBytes = this.width * this.bytes;
    let row = from;
    let to = at;
    for (const s of this.shards) {
      const end = s.firstRow + s.rows;
      if (row >= from + count) break;
      if (end <= row || s.firstRow >= from + count) continue;
      const n = Math.min(end, from + count) - row;
      if (this.scratch.length < n * rowBytes) this.scratch = Buffer.alloc(n * rowBytes);
      const buf = this.scratch.subarray(0, n * rowBytes);
      const fd = fs.openSync(path.join(this.workspaceDir, s.file), 'r');
      try {
        let done = 0;
        while (done < buf.length) {
          const got = fs.readSync(fd, buf, done, buf.length - done, (row - s.firstRow) * rowBytes + done);
          if (got === 0) throw new Error(`shard ${s.file} is shorter than its ${s.rows} rows`);
          done += got;
        }
      } finally {
        fs.closeSync(fd);
      }
      decodeInto(buf, n * this.width, this.dtype, out, to, scale);
      row += n;
      to += n * this.width;
    }
    if (row !== from + count) throw new Error(`rows ${from}..${from + count} of ${this.tap} are not all in its shards`);
  }

  /** Each shard as float32 [rows, width], with its first row's global index. */
  *chunks(): Generator<{ firstRow: number; rows: number; data: Float32Array }> {
    for (const s of this.shards)
      yield { firstRow: s.firstRow, rows: s.rows, data: this.decode(fs.readFileSync(path.join(this.workspaceDir, s.file))) };
  }

  /** Plain read of every shard (the reference the analysis benchmark compares against). */
  readAll(): number {
    let n = 0;
    for (const c of this.chunks()) n += c.rows;
    return n;
  }

  /** The given rows (any order), read with positioned reads: [rows.length, width]. */
  readRows(rows: number[]): Float32Array {
    const out = new Float32Array(rows.length * this.width);
    const rowBytes = this.width * this.bytes;
    const buf = Buffer.alloc(rowBytes);
    const open = new Map<string, number>();
    try {
      rows.forEach((row, i) => {
        const s = this.shards.find((sh) => row >= sh.firstRow && row < sh.firstRow + sh.rows);
        if (!s) throw new Error(`row ${row} is not in any shard of ${this.tap}`);
        let fd = open.get(s.file);
        if (fd === undefined) {
          fd = fs.openSync(path.join(this.workspaceDir, s.file), 'r');
          open.set(s.file, fd);
        }
        fs.readSync(fd, buf, 0, rowBytes, (row - s.firstRow) * rowBytes);
        out.set(this.decode(buf), i * this.width);
      });
    } finally {
      for (const fd of open.values()) fs.closeSync(fd);
    }
    return out;
  }
}
