/**
 * Harvested activations: shards of rows per tap in blobs/harvests/<id>/ (fp16 or fp32, row-major
 * [rows, width]), and an index in the database saying what each row is (item, token position,
 * modality, image patch row/column, token id). A shard and its index rows are committed together
 * with the items they complete, so a resumed harvest continues after the last complete shard.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { floatToHalf, halfToFloat } from '../util/half.js';
import type { z } from 'zod';
import type { HarvestRecord, harvestParamsSchema, tapStatsSchema } from '../../contract/contract.js';
import { layoutOf, rel } from '../store/layout.js';
import { streamOf, type Stream } from '../../contract/tap-names.js';

export type { Stream };
export { streamOf };
export type TokenKind = 'image' | 'text' | 'generated';

export type HarvestParams = z.infer<typeof harvestParamsSchema>;
export type TapStats = z.infer<typeof tapStatsSchema>;
export type { HarvestRecord };

export interface RowMeta {
  itemId: number;
  position: number;
  modality: TokenKind;
  image: number | null;
  patchRow: number | null;
  patchCol: number | null;
  tokenId: number | null;
  /** The tile of its image (image splitting / anyres), and the box in the original image's pixels. */
  tile: number | null;
  box: [number, number, number, number] | null;
}

/** One row of a harvest's row index as stored (column names as in the table). */
export interface HarvestRow {
  row: number;
  item_id: number;
  position: number;
  modality: TokenKind;
  patch_row: number | null;
  patch_col: number | null;
  token_id: number | null;
  tile: number | null;
  image: number | null;
  box_x0: number | null;
  box_y0: number | null;
  box_x1: number | null;
  box_y1: number | null;
}

const bytesPer = (dtype: HarvestParams['dtype']) => (dtype === 'fp16' ? 2 : 4);

/** A row of the harvests table. */
interface HarvestTableRow {
  id: number;
  job_id: number | null;
  model_path: string;
  dataset_id: number;
  params_json: string;
  stats_json: string;
  created_at: string;
}

const metaOf = (r: HarvestTableRow): Omit<HarvestRecord, 'items' | 'rows'> => ({
  id: r.id,
  jobId: r.job_id,
  modelPath: r.model_path,
  datasetId: r.dataset_id,
  params: JSON.parse(r.params_json) as HarvestParams,
  stats: JSON.parse(r.stats_json) as Record<string, TapStats>,
  createdAt: r.created_at,
});

export class HarvestStore {
  constructor(
    private readonly db: Db,
    private readonly workspaceDir: string,
  ) {}

  create(modelPath: string, datasetId: number, params: HarvestParams): HarvestRecord {
    const info = this.db
      .prepare('INSERT INTO harvests (model_path, dataset_id, params_json, created_at) VALUES (?, ?, ?, ?)')
      .run(modelPath, datasetId, JSON.stringify(params), new Date().toISOString());
    return this.get(Number(info.lastInsertRowid));
  }

  attachJob(id: number, jobId: number): void {
    this.db.prepare('UPDATE harvests SET job_id = ? WHERE id = ?').run(jobId, id);
  }

  list(): HarvestRecord[] {
    return this.select(null);
  }

  /** All harvests, or the one with `id`: get() reads one row, not the whole list. */
  private select(id: number | null): HarvestRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM harvests ${id === null ? '' : 'WHERE id = ?'} ORDER BY id DESC`)
      .all(...(id === null ? [] : [id])) as HarvestTableRow[];
    return rows.map((r) => {
      const count = (stream: Stream) =>
        (this.db.prepare('SELECT count(*) AS n FROM harvest_rows WHERE harvest_id = ? AND stream = ?').get(r.id, stream) as { n: number })
          .n;
      return {
        ...metaOf(r),
        items: (this.db.prepare('SELECT count(*) AS n FROM harvest_items WHERE harvest_id = ?').get(r.id) as { n: number }).n,
        rows: { decoder: count('decoder'), vision: count('vision') },
      };
    });
  }

  /** A harvest's record without its row and item counts (which scan the index): for hot paths. */
  meta(id: number): Omit<HarvestRecord, 'items' | 'rows'> {
    const r = this.db.prepare('SELECT * FROM harvests WHERE id = ?').get(id) as HarvestTableRow | undefined;
    if (!r) throw new OcularError('not_found', `No harvest with id ${id}.`);
    return metaOf(r);
  }

  get(id: number): HarvestRecord {
    const found = this.select(id)[0];
    if (!found) throw new OcularError('not_found', `No harvest with id ${id}.`);
    return found;
  }

  doneItems(id: number): Set<number> {
    return new Set(
      (this.db.prepare('SELECT item_id FROM harvest_items WHERE harvest_id = ?').all(id) as Array<{ item_id: number }>).map(
        (r) => r.item_id,
      ),
    );
  }

  folder(id: number): string {
    return layoutOf(this.workspaceDir).harvest(id);
  }

  /**
   * Commit one flush: a shard file per tap (written atomically first), then, in one transaction, the
   * shard records, the row index and the items now complete. A crash or a full disk between the
   * two leaves at worst an unreferenced file; the database never points at a partial shard.
   */
  commit(
    id: number,
    flush: {
      shards: Record<string, { data: Float32Array; width: number }>;
      rows: Record<Stream, RowMeta[]>;
      items: number[];
      stats: Record<string, TapStats>;
    },
  ): void {
    const h = this.get(id);
    const dir = this.folder(id);
    fs.mkdirSync(dir, { recursive: true });
    const first: Record<Stream, number> = { ...h.rows };
    const written: Array<{ tap: string; shard: number; file: string; rows: number; firstRow: number }> = [];
    for (const [tap, { data, width }] of Object.entries(flush.shards)) {
      const rows = data.length / width;
      if (rows === 0) continue;
      const shard = (
        this.db.prepare('SELECT count(*) AS n FROM harvest_shards WHERE harvest_id = ? AND tap = ?').get(id, tap) as { n: number }
      ).n;
      const file = rel.harvestShard(id, tap, shard, h.params.dtype);
      const bytes =
        h.params.dtype === 'fp16' ? Buffer.from(floatToHalf(data).buffer) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      writeFileAtomic(path.join(this.workspaceDir, file), bytes);
      written.push({ tap, shard, file, rows, firstRow: first[streamOf(tap)] });
    }
    const insertShard = this.db.prepare(
      'INSERT INTO harvest_shards (harvest_id, tap, shard, file, first_row, rows) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const insertRow = this.db.prepare(
      'INSERT INTO harvest_rows (harvest_id, stream, row, item_id, position, modality, image, patch_row, patch_col, token_id, tile, box_x0, box_y0, box_x1, box_y1) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertItem = this.db.prepare('INSERT INTO harvest_items (harvest_id, item_id) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const w of written) insertShard.run(id, w.tap, w.shard, w.file, w.firstRow, w.rows);
      for (const stream of ['decoder', 'vision'] as const) {
        flush.rows[stream].forEach((m, i) =>
          insertRow.run(
            id,
            stream,
            first[stream] + i,
            m.itemId,
            m.position,
            m.modality,
            m.image,
            m.patchRow,
            m.patchCol,
            m.tokenId,
            m.tile,
            ...(m.box ?? [null, null, null, null]),
          ),
        );
      }
      for (const item of flush.items) insertItem.run(id, item);
      this.db.prepare('UPDATE harvests SET stats_json = ? WHERE id = ?').run(JSON.stringify(flush.stats), id);
    })();
  }

  /**
   * All rows of one tap as float32 [rows, width]: unbounded, so no job or handler calls it (they stream
   * through ShardReader / the shuffle buffer); tests use it as the whole-array reference on small harvests.
   */
  readTap(id: number, tap: string): { data: Float32Array; width: number; rows: number } {
    const h = this.get(id);
    const shards = this.db.prepare('SELECT * FROM harvest_shards WHERE harvest_id = ? AND tap = ? ORDER BY shard').all(id, tap) as Array<{
      file: string;
      rows: number;
    }>;
    const width = h.stats[tap]?.width ?? 0;
    const total = shards.reduce((n, s) => n + s.rows, 0);
    const out = new Float32Array(total * width);
    let at = 0;
    for (const s of shards) {
      const buf = fs.readFileSync(path.join(this.workspaceDir, s.file));
      const values =
        h.params.dtype === 'fp16'
          ? halfToFloat(new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)))
          : new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      out.set(values, at);
      at += values.length;
    }
    return { data: out, width, rows: total };
  }

  /** One stored row of the index, or undefined past the end. */
  row(id: number, stream: Stream, row: number): HarvestRow | undefined {
    return this.db.prepare('SELECT * FROM harvest_rows WHERE harvest_id = ? AND stream = ? AND row = ?').get(id, stream, row) as
      HarvestRow | undefined;
  }

  /** The items the given rows belong to (one prepared statement for all of them; unknown rows are skipped). */
  itemsOfRows(id: number, stream: Stream, rows: Iterable<number>): Set<number> {
    const q = this.db.prepare('SELECT item_id FROM harvest_rows WHERE harvest_id = ? AND stream = ? AND row = ?').pluck();
    const items = new Set<number>();
    for (const row of rows) {
      const item = q.get(id, stream, row) as number | undefined;
      if (item !== undefined) items.add(item);
    }
    return items;
  }

  /** Every stored row of one item, in token order. */
  itemRows(id: number, stream: Stream, itemId: number): HarvestRow[] {
    return this.db
      .prepare('SELECT * FROM harvest_rows WHERE harvest_id = ? AND stream = ? AND item_id = ? ORDER BY position')
      .all(id, stream, itemId) as HarvestRow[];
  }

  /** Rows in [from, to): each row's item and whether it is an image token. */
  rowItems(id: number, stream: Stream, from: number, to: number): Array<{ row: number; item_id: number; image: number }> {
    return this.db
      .prepare(
        "SELECT row, item_id, modality = 'image' AS image FROM harvest_rows WHERE harvest_id = ? AND stream = ? AND row >= ? AND row < ? ORDER BY row",
      )
      .all(id, stream, from, to) as Array<{ row: number; item_id: number; image: number }>;
  }

  /** Each item's last prompt token: where a causal model decides its answer. */
  answerRows(id: number, stream: Stream): Set<number> {
    const rows = this.db
      .prepare("SELECT max(row) AS row FROM harvest_rows WHERE harvest_id = ? AND stream = ? AND modality = 'text' GROUP BY item_id")
      .all(id, stream) as Array<{ row: number }>;
    return new Set(rows.map((r) => r.row));
  }

  /** The distinct token ids of a stream's text rows. */
  tokenIds(id: number, stream: Stream): number[] {
    const rows = this.db
      .prepare('SELECT DISTINCT token_id FROM harvest_rows WHERE harvest_id = ? AND stream = ? AND token_id IS NOT NULL')
      .all(id, stream) as Array<{ token_id: number }>;
    return rows.map((r) => r.token_id);
  }

  /** Rows (row, item, modality, patch) of a stream in row order, for probes' labels. */
  patchIndex(
    id: number,
    stream: Stream,
  ): Array<{ row: number; item_id: number; modality: string; patch_row: number | null; patch_col: number | null }> {
    return this.db
      .prepare('SELECT row, item_id, modality, patch_row, patch_col FROM harvest_rows WHERE harvest_id = ? AND stream = ? ORDER BY row')
      .all(id, stream) as Array<{ row: number; item_id: number; modality: string; patch_row: number | null; patch_col: number | null }>;
  }

  /** The number of rows of a stream (one past the last row). */
  rowCount(id: number, stream: Stream): number {
    return (
      this.db.prepare('SELECT coalesce(max(row) + 1, 0) AS n FROM harvest_rows WHERE harvest_id = ? AND stream = ?').get(id, stream) as {
        n: number;
      }
    ).n;
  }

  /** Every row's modality, streamed. */
  modalities(id: number, stream: Stream): Iterable<{ row: number; modality: string }> {
    return this.db.prepare('SELECT row, modality FROM harvest_rows WHERE harvest_id = ? AND stream = ?').iterate(id, stream) as Iterable<{
      row: number;
      modality: string;
    }>;
  }

  /** The patch grid (rows × cols) of an item's image tokens. */
  imageGrid(id: number, stream: Stream, itemId: number): { rows: number; cols: number } {
    return this.db
      .prepare(
        "SELECT max(patch_row) + 1 AS rows, max(patch_col) + 1 AS cols FROM harvest_rows WHERE harvest_id = ? AND stream = ? AND item_id = ? AND modality = 'image'",
      )
      .get(id, stream, itemId) as { rows: number; cols: number };
  }

  rowIndex(id: number, stream: Stream): RowMeta[] {
    const rows = this.db.prepare('SELECT * FROM harvest_rows WHERE harvest_id = ? AND stream = ? ORDER BY row').all(id, stream) as Array<{
      item_id: number;
      position: number;
      modality: TokenKind;
      image: number | null;
      patch_row: number | null;
      patch_col: number | null;
      token_id: number | null;
      tile: number | null;
      box_x0: number | null;
      box_y0: number | null;
      box_x1: number | null;
      box_y1: number | null;
    }>;
    return rows.map((r) => ({
      tile: r.tile,
      box: r.box_x0 === null ? null : [r.box_x0, r.box_y0!, r.box_x1!, r.box_y1!],
      itemId: r.item_id,
      position: r.position,
      modality: r.modality,
      image: r.image,
      patchRow: r.patch_row,
      patchCol: r.patch_col,
      tokenId: r.token_id,
    }));
  }

  /** Bytes a harvest will take: rows per item times width times bytes per value, per tap. */
  static estimateBytes(
    rowsPerItem: Record<Stream, number>,
    widths: Record<string, number>,
    items: number,
    dtype: HarvestParams['dtype'],
  ): number {
    return Object.entries(widths).reduce((n, [tap, width]) => n + rowsPerItem[streamOf(tap)] * items * width * bytesPer(dtype), 0);
  }
}
