/** Registered models: a path, a name and the inspection report, kept in the workspace. */
import path from 'node:path';
import type { ModelRecord, ModelReport } from '../../contract/contract.js';
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';

interface ModelRow {
  id: number;
  name: string;
  path: string;
  report_json: string;
  added_at: string;
  inspected_at: string;
}

const toRecord = (r: ModelRow): ModelRecord => ({
  id: r.id,
  name: r.name,
  path: r.path,
  addedAt: r.added_at,
  inspectedAt: r.inspected_at,
  report: JSON.parse(r.report_json) as ModelReport,
});

export class ModelRegistry {
  constructor(private readonly db: Db) {}

  list(): ModelRecord[] {
    return (this.db.prepare('SELECT * FROM models ORDER BY id').all() as ModelRow[]).map(toRecord);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM models').get() as { n: number }).n;
  }

  get(id: number): ModelRecord {
    const row = this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
    if (!row) throw new OcularError('not_found', `No model with id ${id}.`);
    return toRecord(row);
  }

  /** Register an inspected model; a model with problems is refused with every problem named. */
  add(report: ModelReport, name?: string): ModelRecord {
    if (report.problems.length > 0) {
      throw new OcularError('invalid_request', `The model at ${report.path} cannot be used: ${report.problems.join('; ')}`);
    }
    const existing = this.db.prepare('SELECT id FROM models WHERE path = ?').get(report.path) as { id: number } | undefined;
    if (existing) throw new OcularError('conflict', `${report.path} is already registered (model ${existing.id}).`);
    const now = new Date().toISOString();
    const info = this.db
      .prepare('INSERT INTO models (name, path, report_json, added_at, inspected_at) VALUES (?, ?, ?, ?, ?)')
      .run(name ?? path.basename(report.path), report.path, JSON.stringify(report), now, now);
    return this.get(Number(info.lastInsertRowid));
  }

  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM models WHERE id = ?').run(id).changes > 0;
  }
}
