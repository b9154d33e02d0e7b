/** Datasets in the workspace: one row per dataset, its items beside it, inserted in one transaction. */
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';
import type { DatasetRecord } from '../../contract/contract.js';
import type { AnswerType, DatasetFolder } from './dataset-folder.js';

export type { DatasetRecord };

export interface StoredItem {
  id: number;
  key: string;
  image: string;
  question: string;
  answer: { type: AnswerType; value: number | string };
  task: string | null;
  difficulty: number | null;
  scene: unknown;
}

interface ItemRow {
  id: number;
  item_key: string;
  image: string;
  question: string;
  answer_type: AnswerType;
  answer_json: string;
  task: string | null;
  difficulty: number | null;
  scene_json: string | null;
}

export const toItem = (r: ItemRow): StoredItem => ({
  id: r.id,
  key: r.item_key,
  image: r.image,
  question: r.question,
  answer: { type: r.answer_type, value: JSON.parse(r.answer_json) as number | string },
  task: r.task,
  difficulty: r.difficulty,
  scene: r.scene_json ? JSON.parse(r.scene_json) : null,
});

export class DatasetStore {
  constructor(private readonly db: Db) {}

  insert(folder: DatasetFolder, name: string): DatasetRecord {
    const insert = this.db.transaction(() => {
      const info = this.db
        .prepare('INSERT INTO datasets (name, path, source, meta_json, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(name, folder.dir, folder.source, JSON.stringify(folder.meta), new Date().toISOString());
      const id = Number(info.lastInsertRowid);
      const item = this.db.prepare(
        'INSERT INTO dataset_items (dataset_id, item_key, image, question, answer_type, answer_json, task, difficulty, scene_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const r of folder.rows) {
        item.run(
          id,
          r.key,
          r.image,
          r.question,
          r.answerType,
          JSON.stringify(r.answer),
          r.task,
          r.difficulty,
          r.scene === null || r.scene === undefined ? null : JSON.stringify(r.scene),
        );
      }
      return id;
    });
    return this.get(insert());
  }

  list(): DatasetRecord[] {
    return this.select(null);
  }

  get(id: number): DatasetRecord {
    const found = this.select(id)[0];
    if (!found) throw new OcularError('not_found', `No dataset with id ${id}.`);
    return found;
  }

  /** All datasets, or the one with `id`: get() reads one row, not the whole list. */
  private select(id: number | null): DatasetRecord[] {
    const rows = this.db
      .prepare(
        `SELECT d.*, (SELECT count(*) FROM dataset_items i WHERE i.dataset_id = d.id) AS items FROM datasets d ${id === null ? '' : 'WHERE d.id = ?'} ORDER BY d.id`,
      )
      .all(...(id === null ? [] : [id])) as Array<{
      id: number;
      name: string;
      path: string;
      source: 'synth' | 'import';
      meta_json: string;
      created_at: string;
      items: number;
    }>;
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      path: r.path,
      source: r.source,
      meta: JSON.parse(r.meta_json),
      createdAt: r.created_at,
      items: r.items,
    }));
  }

  items(datasetId: number, options: { offset?: number; limit?: number } = {}): StoredItem[] {
    const rows = this.db
      .prepare('SELECT * FROM dataset_items WHERE dataset_id = ? ORDER BY id LIMIT ? OFFSET ?')
      .all(datasetId, options.limit ?? -1, options.offset ?? 0) as ItemRow[];
    return rows.map(toItem);
  }

  /** One item of one dataset, or a not_found error. */
  item(datasetId: number, itemId: number): StoredItem {
    const row = this.db.prepare('SELECT * FROM dataset_items WHERE dataset_id = ? AND id = ?').get(datasetId, itemId) as
      ItemRow | undefined;
    if (!row) throw new OcularError('not_found', `Dataset ${datasetId} has no item ${itemId}.`);
    return toItem(row);
  }

  /** Items by id (any dataset), for pages that show a few examples. */
  itemsById(ids: number[]): Map<number, StoredItem> {
    const out = new Map<number, StoredItem>();
    const stmt = this.db.prepare('SELECT * FROM dataset_items WHERE id = ?');
    for (const id of new Set(ids)) {
      const row = stmt.get(id) as ItemRow | undefined;
      if (row) out.set(id, toItem(row));
    }
    return out;
  }

  /** Each item's task and scene (JSON as stored), by id: what analyses and probes group and label by. */
  itemLabels(datasetId: number): Map<number, { id: number; task: string | null; scene_json: string | null }> {
    const rows = this.db.prepare('SELECT id, task, scene_json FROM dataset_items WHERE dataset_id = ?').all(datasetId) as Array<{
      id: number;
      task: string | null;
      scene_json: string | null;
    }>;
    return new Map(rows.map((r) => [r.id, r]));
  }

  /** An item's scene annotation (parsed), or null. */
  scene(itemId: number): unknown {
    const s = (
      this.db.prepare('SELECT scene_json FROM dataset_items WHERE id = ?').get(itemId) as { scene_json: string | null } | undefined
    )?.scene_json;
    return s ? JSON.parse(s) : null;
  }

  /** Distinct text answers: the choices answer extraction looks for. */
  textChoices(datasetId: number): string[] {
    const rows = this.db
      .prepare("SELECT DISTINCT answer_json FROM dataset_items WHERE dataset_id = ? AND answer_type = 'text'")
      .all(datasetId) as Array<{ answer_json: string }>;
    return rows.map((r) => String(JSON.parse(r.answer_json)));
  }

  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id).changes > 0;
  }
}
