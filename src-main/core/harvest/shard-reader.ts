/**
 * Reading a harvested tap without holding it in memory: shard by shard in row order (the analysis
 * pass), or a handful of rows by index (a feature page's contexts and heatmaps).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../store/sqlite.js';
import { halfTable } from '../util/half.js';
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
    // Every half is exact in float32, so the table gives fromHalf's values.
    const t = halfTable();
    if (scale === 1) for (let i = 0; i < count; i++) out[at + i] = t[u16[i]!]!;
    else for (let i = 0; i < count; i++) out[at + i] = t[u16[i]!]! * scale;
    return;
  }
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  for (let i = 0; i < count; i++) {
    bits[0] = u16[i]! << 16;
    out[at + i] = scale === 1 ? f[0]! : f[0]! * scale;
  }
}

/** readRows reads nearby rows together: up to this many rows between two asked for, and spans up to READ_SPAN rows. */
const READ_GAP = 16;
const READ_SPAN = 4096;
/** Largest single read of readRange (the scratch buffer it reuses). */
const RANGE_BYTES = 1 << 20;

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
      const stop = Math.min(end, from + count);
      const fd = fs.openSync(path.join(this.workspaceDir, s.file), 'r');
      try {
        // At most RANGE_BYTES per read, so the reused scratch stays small whatever the range.
        while (row < stop) {
          const n = Math.min(stop - row, Math.max(1, Math.floor(RANGE_BYTES / rowBytes)));
          if (this.scratch.length < n * rowBytes) this.scratch = Buffer.alloc(n * rowBytes);
          const buf = this.scratch.subarray(0, n * rowBytes);
          let done = 0;
          while (done < buf.length) {
            const got = fs.readSync(fd, buf, done, buf.length - done, (row - s.firstRow) * rowBytes + done);
            if (got === 0) throw new Error(`shard ${s.file} is shorter than its ${s.rows} rows`);
            done += got;
          }
          decodeInto(buf, n * this.width, this.dtype, out, to, scale);
          row += n;
          to += n * this.width;
        }
      } finally {
        fs.closeSync(fd);
      }
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

  /**
   * The given rows (any order), read with positioned reads: [rows.length, width]. Runs of nearby
   * rows in the order given (gaps up to READ_GAP rows, in one shard) are read as one span, so a
   * sorted list covering much of a shard costs a few large reads rather than one syscall per row.
   */
  readRows(rows: number[]): Float32Array {
    const out = new Float32Array(rows.length * this.width);
    const rowBytes = this.width * this.bytes;
    const open = new Map<string, number>();
    let shard: Shard | undefined;
    try {
      for (let i = 0; i < rows.length;) {
        const first = rows[i]!;
        if (!shard || first < shard.firstRow || first >= shard.firstRow + shard.rows)
          shard = this.shards.find((sh) => first >= sh.firstRow && first < sh.firstRow + sh.rows);
        if (!shard) throw new Error(`row ${first} is not in any shard of ${this.tap}`);
        const end = shard.firstRow + shard.rows;
        // Extend the span while the next row follows closely within this shard.
        let j = i + 1;
        let last = first;
        while (j < rows.length) {
          const r = rows[j]!;
          if (r < last || r - last > READ_GAP || r >= end || r - first >= READ_SPAN) break;
          last = r;
          j++;
        }
        const span = last - first + 1;
        if (this.scratch.length < span * rowBytes) this.scratch = Buffer.alloc(span * rowBytes);
        let fd = open.get(shard.file);
        if (fd === undefined) {
          fd = fs.openSync(path.join(this.workspaceDir, shard.file), 'r');
          open.set(shard.file, fd);
        }
        let done = 0;
        while (done < span * rowBytes) {
          const got = fs.readSync(fd, this.scratch, done, span * rowBytes - done, (first - shard.firstRow) * rowBytes + done);
          if (got === 0) throw new Error(`shard ${shard.file} is shorter than its ${shard.rows} rows`);
          done += got;
        }
        for (let k = i; k < j; k++) {
          const at = (rows[k]! - first) * rowBytes;
          decodeInto(this.scratch.subarray(at, at + rowBytes), this.width, this.dtype, out, k * this.width);
        }
        i = j;
      }
    } finally {
      for (const fd of open.values()) fs.closeSync(fd);
    }
    return out;
  }
}
