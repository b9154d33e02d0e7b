/** Messages between the job runner and a job's worker thread. */
export interface WorkerStart {
  jobId: number;
  kind: string;
  params: unknown;
  checkpoint: unknown;
  workspaceDir: string;
}

export type ToWorker =
  | { type: 'cancel' }
  | { type: 'pool-result'; callId: number; ok: true; value: unknown }
  | { type: 'pool-result'; callId: number; ok: false; error: string };

export type FromWorker =
  | { type: 'progress'; progress: number; message?: string }
  | { type: 'checkpoint'; state: unknown }
  | { type: 'done'; result: unknown }
  | { type: 'failed'; error: string }
  | { type: 'cancelled' }
  | { type: 'pool'; callId: number; method: string; args: unknown[] };
