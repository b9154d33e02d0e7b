/** Experiments (full spec, results) and their per-item outputs per condition, for drill-down and resume. */
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';
import type { ExperimentOutput, ExperimentRecord, ExperimentResults, ExperimentSpec } from '../../contract/contract.js';

interface Row {
  id: number;
  job_id: number | null;
  name: string;
  spec_json: string;
  results_json: string | null;
  created_at: string;
}
const toRecord = (r: Row): ExperimentRecord => ({
  id: r.id,
  jobId: r.job_id,
  name: r.name,
  spec: JSON.parse(r.spec_json) as ExperimentSpec,
  results: r.results_json ? (JSON.parse(r.results_json) as ExperimentResults) : null,
  createdAt: r.created_at,
});

export type StoredOutput = Omit<ExperimentOutput, 'question' | 'answer' | 'task' | 'difficulty'>;

export class ExperimentStore {
  constructor(private readonly db: Db) {}

  create(spec: ExperimentSpec): ExperimentRecord {
    const info = this.db
      .prepare('INSERT INTO experiments (name, spec_json, created_at) VALUES (?, ?, ?)')
      .run(spec.name, JSON.stringify(spec), new Date().toISOString());
    return this.get(Number(info.lastInsertRowid));
  }

  attachJob(id: number, jobId: number): void {
    this.db.prepare('UPDATE experiments SET job_id = ? WHERE id = ?').run(jobId, id);
  }

  list(): ExperimentRecord[] {
    return (this.db.prepare('SELECT * FROM experiments ORDER BY id DESC').all() as Row[]).map(toRecord);
  }

  get(id: number): ExperimentRecord {
    const r = this.db.prepare('SELECT * FROM experiments WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new OcularError('not_found', `No experiment with id ${id}.`);
    return toRecord(r);
  }

  /** One condition's outputs for every item, in one transaction (a resumed run skips conditions already saved). */
  saveCondition(id: number, condition: string, outputs: StoredOutput[]): void {
    const insert = this.db.prepare(
      'INSERT OR REPLACE INTO experiment_outputs (experiment_id, condition, item_id, output_json) VALUES (?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const o of outputs) insert.run(id, condition, o.itemId, JSON.stringify(o));
    })();
  }

  conditionOutputs(id: number, condition: string): StoredOutput[] {
    return (
      this.db
        .prepare('SELECT output_json FROM experiment_outputs WHERE experiment_id = ? AND condition = ? ORDER BY item_id')
        .all(id, condition) as Array<{ output_json: string }>
    ).map((r) => JSON.parse(r.output_json) as StoredOutput);
  }

  outputs(id: number, q: { condition?: string; offset: number; limit: number }): ExperimentOutput[] {
    const rows = this.db
      .prepare(
        `SELECT o.output_json, i.question, i.answer_json, i.task, i.difficulty FROM experiment_outputs o JOIN dataset_items i ON i.id = o.item_id
         WHERE o.experiment_id = ? ${q.condition ? 'AND o.condition = ?' : ''} ORDER BY o.item_id, o.condition LIMIT ? OFFSET ?`,
      )
      .all(...[id, ...(q.condition ? [q.condition] : []), q.limit, q.offset]) as Array<{
      output_json: string;
      question: string;
      answer_json: string;
      task: string | null;
      difficulty: number | null;
    }>;
    return rows.map((r) => ({
      ...(JSON.parse(r.output_json) as StoredOutput),
      question: r.question,
      answer: String(JSON.parse(r.answer_json)),
      task: r.task,
      difficulty: r.difficulty,
    }));
  }

  saveResults(id: number, results: ExperimentResults): void {
    this.db.prepare('UPDATE experiments SET results_json = ? WHERE id = ?').run(JSON.stringify(results), id);
  }
}
