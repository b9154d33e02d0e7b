/** Job rows in the workspace database. Every state change is a single UPDATE, so it is atomic. */
import type { Job, JobState } from '../../contract/contract.js';
import type { Db } from '../store/sqlite.js';
import { findJobKind } from './registry.js';

interface JobRow {
  id: number;
  kind: string;
  params_json: string;
  state: JobState;
  progress: number;
  message: string | null;
  error: string | null;
  result_json: string | null;
  checkpoint_json: string | null;
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

const now = () => new Date().toISOString();

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    kind: row.kind,
    params: JSON.parse(row.params_json),
    state: row.state,
    progress: row.progress,
    message: row.message,
    error: row.error,
    result: row.result_json === null ? null : JSON.parse(row.result_json),
    resumable: findJobKind(row.kind)?.resumable ?? false,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    attempts: row.attempts,
  };
}

export class JobStore {
  constructor(private readonly db: Db) {}

  insert(kind: string, params: unknown): Job {
    const info = this.db
      .prepare("INSERT INTO jobs (kind, params_json, state, created_at) VALUES (?, ?, 'queued', ?)")
      .run(kind, JSON.stringify(params), now());
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): Job | null {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? toJob(row) : null;
  }

  list(limit: number): Job[] {
    return (this.db.prepare('SELECT * FROM jobs ORDER BY id DESC LIMIT ?').all(limit) as JobRow[]).map(toJob);
  }

  /** Jobs of one kind in one state, newest first. */
  listByKind(kind: string, state: JobState): Job[] {
    return (this.db.prepare('SELECT * FROM jobs WHERE kind = ? AND state = ? ORDER BY id DESC').all(kind, state) as JobRow[]).map(toJob);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;
  }

  checkpoint(id: number): unknown {
    const row = this.db.prepare('SELECT checkpoint_json FROM jobs WHERE id = ?').get(id) as { checkpoint_json: string | null } | undefined;
    return row?.checkpoint_json ? JSON.parse(row.checkpoint_json) : null;
  }

  markRunning(id: number): void {
    this.db
      .prepare("UPDATE jobs SET state = 'running', started_at = ?, finished_at = NULL, error = NULL, attempts = attempts + 1 WHERE id = ?")
      .run(now(), id);
  }

  setProgress(id: number, progress: number, message: string | null): void {
    this.db.prepare('UPDATE jobs SET progress = ?, message = coalesce(?, message) WHERE id = ?').run(progress, message, id);
  }

  saveCheckpoint(id: number, state: unknown): void {
    this.db.prepare('UPDATE jobs SET checkpoint_json = ? WHERE id = ?').run(JSON.stringify(state ?? null), id);
  }

  finish(id: number, state: Exclude<JobState, 'queued' | 'running'>, fields: { error?: string; result?: unknown } = {}): void {
    this.db
      .prepare(
        `UPDATE jobs SET state = ?, finished_at = ?, error = ?, result_json = ?,
           progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END WHERE id = ?`,
      )
      .run(state, now(), fields.error ?? null, fields.result === undefined ? null : JSON.stringify(fields.result), state, id);
  }

  requeue(id: number): void {
    this.db.prepare("UPDATE jobs SET state = 'queued', error = NULL, finished_at = NULL WHERE id = ?").run(id);
  }

  /** After a crash or restart nothing is running any more: say so, keeping checkpoints for resume. */
  markOrphansInterrupted(): number {
    const info = this.db
      .prepare(
        "UPDATE jobs SET state = 'interrupted', finished_at = ?, error = coalesce(error, 'Ocular stopped while this job was running.') WHERE state IN ('running', 'queued')",
      )
      .run(now());
    return info.changes;
  }
}
