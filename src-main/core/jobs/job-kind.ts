import type { z } from 'zod';
import type { PoolClient } from '../runtime/pool-client.js';

/** What a job's code sees while it runs in its worker thread. */
export interface JobContext<P> {
  jobId: number;
  params: P;
  /** The last checkpoint saved by an earlier attempt of this job, or null on a fresh start. */
  checkpoint: unknown;
  workspaceDir: string;
  /** Aborted when the user cancels; long loops must check it between units of work. */
  signal: AbortSignal;
  /** Report progress in [0, 1] with an optional human-readable message. */
  progress(fraction: number, message?: string): void;
  /** Persist resumable state; an interrupted job restarts from the last one saved. */
  saveCheckpoint(state: unknown): void;
  /** The backend's ONNX Runtime session pool, shared by every job. */
  pool: PoolClient;
}

/** A job kind taking params P and returning R; both checked by their schemas at the worker's boundary. */
export interface JobKind<P = unknown, R = unknown> {
  kind: string;
  title: string;
  resumable: boolean;
  /**
   * Whether `jobs.start` may start it from a renderer. Kinds whose params name places on disk are
   * started by a dedicated channel that fixes those places inside the workspace instead.
   */
  startFromUi: boolean;
  params: z.ZodType<P>;
  /** What run() returns, checked before the result is stored (see contract/job-results.ts). */
  result: z.ZodType<R>;
  run(ctx: JobContext<P>): Promise<R>;
}

export class JobCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'JobCancelled';
  }
}

export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new JobCancelled();
}

/** Resolves after `ms`, or rejects with JobCancelled as soon as the job is cancelled. */
export function cancellableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new JobCancelled());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new JobCancelled());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
