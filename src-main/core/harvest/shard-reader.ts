/**
 * Reading a harvested tap without holding it in memory: shard by shard in row order (the analysis
 * pass), or a handful of rows by index (a feature page's contexts and heatmaps).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../store/sqlite.js';
import { halfToFloat } from '../util/half.js';
import type { HarvestRecord } from './harvest-store.js';

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
    this.bytes = harvest.params.dtype === 'fp16' ? 2 : 4;
  }

  private decode(buf: Buffer): Float32Array {
    const copy = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    return this.bytes === 2 ? halfToFloat(new Uint16Array(copy)) : new Float32Array(copy);
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
