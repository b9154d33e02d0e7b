/**
 * Training metrics logged every N steps, kept per job in the workspace so a run page can plot a
 * live run (and a finished one) without the job's in-memory state.
 */
import type { TrainMetrics } from '../../contract/contract.js';
import type { Db } from '../store/sqlite.js';

export type { TrainMetrics };

export class TrainMetricsStore {
  constructor(private readonly db: Db) {}

  /** Re-logging a step (after a resume) replaces it, so the curve has one point per step. */
  record(jobId: number, m: TrainMetrics): void {
    this.db
      .prepare('INSERT OR REPLACE INTO train_metrics (job_id, step, metrics_json) VALUES (?, ?, ?)')
      .run(jobId, m.step, JSON.stringify(m));
  }

  list(jobId: number, afterStep = -1): TrainMetrics[] {
    return (
      this.db.prepare('SELECT metrics_json FROM train_metrics WHERE job_id = ? AND step > ? ORDER BY step').all(jobId, afterStep) as Array<{
        metrics_json: string;
      }>
    ).map((r) => JSON.parse(r.metrics_json) as TrainMetrics);
  }
}
