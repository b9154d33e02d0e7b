/**
 * Entry point of a job's worker thread. Bundled on its own (out/node/job-worker.mjs for Node,
 * out/main/job-worker.js for Electron) so the runner can start it by path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import { JobCancelled } from './job-kind.js';
import { findJobKind } from './registry.js';
import type { FromWorker, ToWorker, WorkerStart } from './worker-protocol.js';

async function main(): Promise<void> {
  if (!parentPort) throw new Error('job worker must run in a worker thread');
  const port = parentPort;
  const start = workerData as WorkerStart;
  const post = (msg: FromWorker) => port.postMessage(msg);
  const abort = new AbortController();
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'cancel') abort.abort();
  });

  const kind = findJobKind(start.kind);
  if (!kind) {
    post({ type: 'failed', error: `unknown job kind '${start.kind}'` });
    return;
  }
  try {
    const result = await kind.run({
      jobId: start.jobId,
      params: kind.params.parse(start.params),
      checkpoint: start.checkpoint,
      workspaceDir: start.workspaceDir,
      signal: abort.signal,
      progress: (progress, message) => post({ type: 'progress', progress: Math.min(1, Math.max(0, progress)), message }),
      saveCheckpoint: (state) => post({ type: 'checkpoint', state }),
    });
    post({ type: 'done', result: result ?? null });
  } catch (err) {
    if (err instanceof JobCancelled || abort.signal.aborted) post({ type: 'cancelled' });
    else post({ type: 'failed', error: errorMessage(err) });
  } finally {
    port.close();
  }
}

void main();
