/**
 * Entry point of a job's worker thread. Bundled on its own (out/node/job-worker.mjs for Node,
 * out/main/job-worker.js for Electron) so the runner can start it by path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { jobErrorText } from '../util/faults.js';
import { JobCancelled } from './job-kind.js';
import { findJobKind } from './registry.js';
import type { FromWorker, ToWorker, WorkerStart } from './worker-protocol.js';
import { POOL_METHODS, type PoolClient } from '../runtime/pool-client.js';
import { ownedFeeds, type WireTensor } from '../runtime/pool-protocol.js';

async function main(): Promise<void> {
  if (!parentPort) throw new Error('job worker must run in a worker thread');
  const port = parentPort;
  const start = workerData as WorkerStart;
  const post = (msg: FromWorker) => port.postMessage(msg);
  const abort = new AbortController();
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextCall = 1;
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'cancel') abort.abort();
    if (msg.type === 'pool-result') {
      const waiter = pending.get(msg.callId);
      pending.delete(msg.callId);
      if (msg.ok) waiter?.resolve(msg.value);
      else waiter?.reject(new Error(msg.error));
    }
  });
  const pool = Object.fromEntries(
    POOL_METHODS.map((method) => [
      method,
      (...args: unknown[]) =>
        new Promise((resolve, reject) => {
          const callId = nextCall++;
          pending.set(callId, { resolve, reject });
          // A run's feeds may be views into large buffers (chunks of a shard): send copies of the
          // views and move (transfer) those copies, so no further copy of a chunk waits for GC here.
          let transfer: ArrayBuffer[] = [];
          if (method === 'run') [args[1], transfer] = ownedFeeds(args[1] as Record<string, WireTensor>);
          port.postMessage({ type: 'pool', callId, method, args } satisfies FromWorker, transfer);
        }),
    ]),
  ) as unknown as PoolClient;

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
      pool,
    });
    // A result that is not what the kind declares fails the job rather than reaching readers untyped.
    const checked = kind.result.safeParse(result);
    if (!checked.success) throw new Error(`${start.kind} returned a result that does not match its schema: ${checked.error.message}`);
    post({ type: 'done', result: result ?? null });
  } catch (err) {
    if (err instanceof JobCancelled || abort.signal.aborted) post({ type: 'cancelled' });
    else post({ type: 'failed', error: jobErrorText(err) }); // a full disk reads "disk full: …"
  } finally {
    port.close();
  }
}

void main();
