/**
 * Runs jobs in worker threads so the thread that serves IPC never does a job's work.
 * The runner owns every job-state transition; workers only report progress, checkpoints and the
 * outcome. Progress writes are throttled so a chatty job cannot flood the database or the UI.
 *
 * Every write the runner makes from an event (a worker's progress, checkpoint or outcome) is
 * guarded: one that fails — a full disk (SQLITE_FULL) above all — fails that job with the fault's
 * one-line message and stops its worker, and never escapes as an uncaught exception that would end
 * the server or CLI. If even the failure cannot be written, the job's state is kept in memory until
 * it can be, and the row says 'running', which the next open marks interrupted (resumable).
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Job, JobState } from '../../contract/contract.js';
import { OcularError, errorMessage } from '../errors.js';
import { jobErrorText } from '../util/faults.js';
import type { Workspace } from '../store/workspace.js';
import { JobStore } from './job-store.js';
import { findJobKind } from './registry.js';
import type { FromWorker, WorkerStart } from './worker-protocol.js';
import { POOL_METHODS, type PoolClient } from '../runtime/pool-client.js';

export interface JobRunnerOptions {
  /** Path of the bundled worker entry (see worker-entry.ts). */
  workerEntry: string;
  maxConcurrent?: number;
  /** Minimum milliseconds between progress writes/events for one job. */
  progressIntervalMs?: number;
  /** How long a cancelled job may take to stop by itself before its thread is terminated. */
  cancelGraceMs?: number;
  /** The session pool jobs reach through their context (started on first use). */
  pool?: () => PoolClient;
}

interface Running {
  worker: Worker;
  lastProgressAt: number;
  pendingProgress: { progress: number; message: string | null } | null;
  cancelRequested: boolean;
  killTimer?: NodeJS.Timeout;
  settled: boolean;
}

export class JobRunner extends EventEmitter<{ updated: [Job]; idle: [] }> {
  readonly store: JobStore;
  private readonly running = new Map<number, Running>();
  private readonly queue: number[] = [];
  /** Outcomes the database could not take (disk full): shown instead of the row until written. */
  private readonly unrecorded = new Map<number, { state: JobState; error: string }>();
  private stopped = false;

  constructor(
    private readonly workspace: Workspace,
    private readonly options: JobRunnerOptions,
  ) {
    super();
    this.store = new JobStore(workspace.db);
  }

  /** Call once when the workspace is opened read-write. */
  recover(): number {
    return this.store.markOrphansInterrupted();
  }

  start(kind: string, params: unknown): Job {
    const job = this.store.insert(kind, parseJobParams(kind, params));
    this.enqueue(job.id);
    return this.store.get(job.id)!;
  }

  /**
   * A job that could not start (its parameters could not be made, or were refused), recorded as
   * failed with the reason, so whoever follows the pipeline it belongs to sees the error.
   */
  failToStart(kind: string, params: unknown, error: string): Job {
    const job = this.store.insert(kind, params);
    this.store.finish(job.id, 'failed', { error });
    return this.emitJob(job.id);
  }

  cancel(id: number): Job {
    const job = this.require(id);
    if (job.state === 'queued') {
      const at = this.queue.indexOf(id);
      if (at >= 0) this.queue.splice(at, 1);
      this.store.finish(id, 'cancelled');
      return this.emitJob(id);
    }
    const run = this.running.get(id);
    if (!run) throw new OcularError('conflict', `Job ${id} is ${job.state}; only queued or running jobs can be cancelled.`);
    if (!run.cancelRequested) {
      run.cancelRequested = true;
      run.worker.postMessage({ type: 'cancel' });
      run.killTimer = setTimeout(() => void run.worker.terminate(), this.options.cancelGraceMs ?? 5000);
    }
    return job;
  }

  resume(id: number): Job {
    const job = this.require(id);
    if (!job.resumable) throw new OcularError('conflict', `Jobs of kind '${job.kind}' cannot be resumed; start a new one.`);
    if (!['interrupted', 'failed', 'cancelled'].includes(job.state)) {
      throw new OcularError('conflict', `Job ${id} is ${job.state}; only interrupted, failed or cancelled jobs can be resumed.`);
    }
    this.store.requeue(id);
    this.unrecorded.delete(id);
    this.enqueue(id);
    return this.store.get(id)!;
  }

  get(id: number): Job {
    return this.require(id);
  }

  isBusy(): boolean {
    return this.running.size > 0 || this.queue.length > 0;
  }

  /** Stop every job: running ones become interrupted so they can be resumed next time. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const id of this.queue.splice(0))
      this.tryWrite(() => this.store.finish(id, 'interrupted', { error: 'Ocular closed the workspace before this job started.' }));
    const exits = [...this.running.entries()].map(async ([id, run]) => {
      run.settled = true;
      if (run.killTimer) clearTimeout(run.killTimer);
      this.tryWrite(() => this.flushProgress(id, run));
      await run.worker.terminate();
      this.tryWrite(() => this.store.finish(id, 'interrupted', { error: 'Ocular closed the workspace while this job was running.' }));
    });
    await Promise.all(exits);
    this.running.clear();
  }

  private require(id: number): Job {
    const job = this.store.get(id);
    if (!job) throw new OcularError('not_found', `No job with id ${id}.`);
    const kept = this.unrecorded.get(id);
    return kept ? { ...job, ...kept } : job;
  }

  /** A write whose failure is already accounted for (shutdown: the next open marks the job interrupted). */
  private tryWrite(write: () => void): void {
    try {
      write();
    } catch {
      /* see the header: the row stays 'running' and is marked interrupted on the next open */
    }
  }

  /**
   * A write made while a job runs. If it fails, the job fails with the fault's message (disk full,
   * read-only file system, …) and its worker is stopped; returns whether the write went through.
   */
  private guarded(id: number, run: Running | null, write: () => void): boolean {
    try {
      write();
      return true;
    } catch (err) {
      this.writeFailed(id, run, err);
      return false;
    }
  }

  private writeFailed(id: number, run: Running | null, err: unknown): void {
    const error = `Could not record this job's state: ${jobErrorText(err)}`;
    if (run) {
      if (run.settled) return;
      run.settled = true;
      if (run.killTimer) clearTimeout(run.killTimer);
      void run.worker.terminate();
      this.running.delete(id);
    }
    try {
      this.store.finish(id, 'failed', { error });
      this.unrecorded.delete(id);
    } catch {
      this.unrecorded.set(id, { state: 'failed', error });
    }
    this.safeEmit(id);
    this.pump();
  }

  private enqueue(id: number): void {
    if (this.stopped) throw new OcularError('conflict', 'The workspace is closing; no new jobs can start.');
    this.queue.push(id);
    this.emitJob(id);
    this.pump();
  }

  private pump(): void {
    const max = this.options.maxConcurrent ?? 2;
    while (!this.stopped && this.running.size < max && this.queue.length > 0) {
      this.launch(this.queue.shift()!);
    }
    if (this.running.size === 0 && this.queue.length === 0) this.emit('idle');
  }

  private launch(id: number): void {
    const job = this.require(id);
    if (!this.guarded(id, null, () => this.store.markRunning(id))) return;
    const start: WorkerStart = {
      jobId: id,
      kind: job.kind,
      params: job.params,
      checkpoint: this.store.checkpoint(id),
      workspaceDir: this.workspace.dir,
    };
    let worker: Worker;
    try {
      worker = new Worker(this.options.workerEntry, { workerData: start });
    } catch (err) {
      if (this.guarded(id, null, () => this.store.finish(id, 'failed', { error: `Could not start a worker thread: ${errorMessage(err)}` })))
        this.safeEmit(id);
      return;
    }
    const run: Running = { worker, lastProgressAt: 0, pendingProgress: null, cancelRequested: false, settled: false };
    this.running.set(id, run);
    this.safeEmit(id);

    worker.on('message', (msg: FromWorker) => this.onMessage(id, run, msg));
    worker.on('error', (err) => this.settle(id, run, 'failed', { error: `The job crashed: ${errorMessage(err)}` }));
    worker.on('exit', (code) => {
      if (run.cancelRequested) this.settle(id, run, 'cancelled');
      else this.settle(id, run, 'failed', { error: `The job's worker exited unexpectedly (code ${code}).` });
    });
  }

  private onMessage(id: number, run: Running, msg: FromWorker): void {
    if (run.settled) return;
    switch (msg.type) {
      case 'progress': {
        run.pendingProgress = { progress: msg.progress, message: msg.message ?? null };
        if (Date.now() - run.lastProgressAt >= (this.options.progressIntervalMs ?? 200))
          this.guarded(id, run, () => this.flushProgress(id, run));
        break;
      }
      case 'checkpoint':
        this.guarded(id, run, () => this.store.saveCheckpoint(id, msg.state));
        break;
      case 'done':
        this.settle(id, run, 'succeeded', { result: msg.result });
        break;
      case 'failed':
        this.settle(id, run, 'failed', { error: msg.error });
        break;
      case 'cancelled':
        this.settle(id, run, 'cancelled');
        break;
      case 'pool':
        void this.forwardPoolCall(run, msg.callId, msg.method, msg.args);
        break;
    }
  }

  private async forwardPoolCall(run: Running, callId: number, method: string, args: unknown[]): Promise<void> {
    try {
      if (!this.options.pool) throw new Error('This Ocular process has no ONNX Runtime session pool.');
      if (!(POOL_METHODS as readonly string[]).includes(method)) throw new Error(`unknown pool method ${method}`);
      const pool = this.options.pool() as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      const value = await pool[method]!.apply(pool, args);
      if (!run.settled) run.worker.postMessage({ type: 'pool-result', callId, ok: true, value });
    } catch (err) {
      if (!run.settled) run.worker.postMessage({ type: 'pool-result', callId, ok: false, error: errorMessage(err) });
    }
  }

  private flushProgress(id: number, run: Running): void {
    if (!run.pendingProgress) return;
    this.store.setProgress(id, run.pendingProgress.progress, run.pendingProgress.message);
    run.pendingProgress = null;
    run.lastProgressAt = Date.now();
    this.safeEmit(id);
  }

  private settle(
    id: number,
    run: Running,
    state: 'succeeded' | 'failed' | 'cancelled',
    fields: { error?: string; result?: unknown } = {},
  ): void {
    if (run.settled) return;
    const written = this.guarded(id, run, () => {
      this.flushProgress(id, run);
      this.store.finish(id, state, fields);
    });
    if (!written) return; // writeFailed settled it as failed
    run.settled = true;
    if (run.killTimer) clearTimeout(run.killTimer);
    this.running.delete(id);
    this.safeEmit(id);
    this.pump();
  }

  private emitJob(id: number): Job {
    const job = this.require(id);
    this.emit('updated', job);
    return job;
  }

  /** emitJob from an event handler, where a failed read or a listener's error must not escape. */
  private safeEmit(id: number): void {
    try {
      this.emitJob(id);
    } catch (err) {
      console.error(`job ${id}: could not report its state: ${errorMessage(err)}`);
    }
  }
}

/** A job kind's parameters as its schema reads them, or a one-line refusal naming each bad field. */
export function parseJobParams(kind: string, params: unknown): unknown {
  const def = findJobKind(kind);
  if (!def) throw new OcularError('invalid_request', `Unknown job kind '${kind}'.`);
  const parsed = def.params.safeParse(params);
  if (!parsed.success)
    throw new OcularError(
      'invalid_request',
      `Invalid parameters for ${kind}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}
