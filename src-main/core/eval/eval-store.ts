/** Evaluations and their per-item predictions in the workspace, and the summaries read from them. */
import { OcularError } from '../errors.js';
import { toItem, type StoredItem } from '../datasets/dataset-store.js';
import type { Db } from '../store/sqlite.js';
import { accuracyOf, groupAccuracy } from './stats.js';
import type { z } from 'zod';
import type { EvalRecord, EvalSummary, Prediction, evalParamsSchema } from '../../contract/contract.js';
import { csvCell } from '../util/csv.js';

export type EvalParams = z.infer<typeof evalParamsSchema>;
export type { EvalRecord, EvalSummary, Prediction };

interface EvalRow {
  id: number;
  job_id: number | null;
  model_path: string;
  dataset_id: number;
  dataset_name: string;
  params_json: string;
  created_at: string;
  predictions: number;
  correct: number | null;
}

export class EvalStore {
  constructor(private readonly db: Db) {}

  create(modelPath: string, datasetId: number, params: EvalParams): EvalRecord {
    const info = this.db
      .prepare('INSERT INTO evals (model_path, dataset_id, params_json, created_at) VALUES (?, ?, ?, ?)')
      .run(modelPath, datasetId, JSON.stringify(params), new Date().toISOString());
    return this.get(Number(info.lastInsertRowid));
  }

  attachJob(evalId: number, jobId: number): void {
    this.db.prepare('UPDATE evals SET job_id = ? WHERE id = ?').run(jobId, evalId);
  }

  list(): EvalRecord[] {
    return this.select(null);
  }

  get(id: number): EvalRecord {
    const found = this.select(id)[0];
    if (!found) throw new OcularError('not_found', `No evaluation with id ${id}.`);
    return found;
  }

  /** All evaluations, or the one with `id`: get() reads one row, not the whole list. */
  private select(id: number | null): EvalRecord[] {
    const rows = this.db
      .prepare(
        `SELECT e.*, d.name AS dataset_name, count(p.item_id) AS predictions, sum(p.correct) AS correct
         FROM evals e JOIN datasets d ON d.id = e.dataset_id LEFT JOIN predictions p ON p.eval_id = e.id
         ${id === null ? '' : 'WHERE e.id = ?'} GROUP BY e.id ORDER BY e.id DESC`,
      )
      .all(...(id === null ? [] : [id])) as EvalRow[];
    return rows.map((r) => ({
      id: r.id,
      jobId: r.job_id,
      modelPath: r.model_path,
      datasetId: r.dataset_id,
      datasetName: r.dataset_name,
      params: JSON.parse(r.params_json) as EvalParams,
      createdAt: r.created_at,
      predictions: r.predictions,
      accuracy: r.predictions ? (r.correct ?? 0) / r.predictions : null,
    }));
  }

  /** Items of the evaluation's dataset that have no prediction yet (what a resumed job still has to do). */
  pendingItems(evalId: number, limit: number | null): StoredItem[] {
    const e = this.get(evalId);
    const rows = this.db
      .prepare(
        `SELECT i.* FROM dataset_items i WHERE i.dataset_id = ? AND i.id IN (SELECT id FROM dataset_items WHERE dataset_id = ? ORDER BY id LIMIT ?)
         AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.eval_id = ? AND p.item_id = i.id) ORDER BY i.id`,
      )
      .all(e.datasetId, e.datasetId, limit ?? -1, evalId);
    return (rows as Parameters<typeof toItem>[0][]).map(toItem);
  }

  record(evalId: number, predictions: Array<Omit<Prediction, 'item'> & { itemId: number }>): void {
    const insert = this.db.prepare(
      'INSERT OR REPLACE INTO predictions (eval_id, item_id, raw, extracted_json, method, correct, hit_limit, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const p of predictions)
        insert.run(evalId, p.itemId, p.raw, JSON.stringify(p.extracted), p.method, p.correct ? 1 : 0, p.hitLimit ? 1 : 0, p.tokens);
    })();
  }

  predictions(evalId: number, options: { offset?: number; limit?: number; onlyWrong?: boolean } = {}): Prediction[] {
    const rows = this.db
      .prepare(
        `SELECT i.*, p.raw, p.extracted_json, p.method, p.correct, p.hit_limit, p.tokens FROM predictions p JOIN dataset_items i ON i.id = p.item_id
         WHERE p.eval_id = ? ${options.onlyWrong ? 'AND p.correct = 0' : ''} ORDER BY i.id LIMIT ? OFFSET ?`,
      )
      .all(evalId, options.limit ?? -1, options.offset ?? 0) as Array<
      Parameters<typeof toItem>[0] & {
        raw: string;
        extracted_json: string | null;
        method: string;
        correct: number;
        hit_limit: number;
        tokens: number;
      }
    >;
    return rows.map((r) => ({
      item: toItem(r),
      raw: r.raw,
      extracted: r.extracted_json === null ? null : (JSON.parse(r.extracted_json) as number | string | null),
      method: r.method,
      correct: r.correct === 1,
      hitLimit: r.hit_limit === 1,
      tokens: r.tokens,
    }));
  }

  summary(evalId: number): EvalSummary {
    const e = this.get(evalId);
    const preds = this.predictions(evalId);
    const ok = (p: Prediction) => p.correct;
    return {
      eval: e,
      overall: accuracyOf('overall', preds.map(ok)),
      byTask: groupAccuracy(preds, (p) => p.item.task, ok),
      byDifficulty: groupAccuracy(preds, (p) => (p.item.difficulty === null ? null : String(p.item.difficulty)), ok).sort((a, b) =>
        a.key.localeCompare(b.key),
      ),
      byAnswerType: groupAccuracy(preds, (p) => p.item.answer.type, ok),
      byTaskAndDifficulty: groupAccuracy(preds, (p) => (p.item.task ? `${p.item.task} d${p.item.difficulty ?? '?'}` : null), ok),
      hitLimitShare: preds.length ? preds.filter((p) => p.hitLimit).length / preds.length : 0,
      extractionFailures: preds.filter((p) => p.extracted === null).length,
      intervals: { method: 'wilson', level: 0.95 },
    };
  }

  /** CSV with one row per prediction, or the summary plus predictions as JSON. */
  export(evalId: number, format: 'csv' | 'json'): { filename: string; content: string } {
    const preds = this.predictions(evalId);
    if (format === 'json')
      return { filename: `eval-${evalId}.json`, content: JSON.stringify({ summary: this.summary(evalId), predictions: preds }, null, 2) };
    const header = [
      'item',
      'task',
      'difficulty',
      'image',
      'question',
      'answer_type',
      'answer',
      'extracted',
      'method',
      'correct',
      'hit_token_limit',
      'tokens',
      'raw_output',
    ];
    const lines = preds.map((p) =>
      [
        p.item.key,
        p.item.task,
        p.item.difficulty,
        p.item.image,
        p.item.question,
        p.item.answer.type,
        p.item.answer.value,
        p.extracted,
        p.method,
        p.correct ? 1 : 0,
        p.hitLimit ? 1 : 0,
        p.tokens,
        p.raw,
      ]
        .map(csvCell)
        .join(','),
    );
    return { filename: `eval-${evalId}.csv`, content: [header.join(','), ...lines].join('\n') + '\n' };
  }
}
