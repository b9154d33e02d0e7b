/**
 * Entry of a short-lived worker thread for one-off CPU work a handler must not do on the thread
 * that serves IPC (parsing a large graph file, say). Bundled as out/node/task-worker.mjs and
 * out/main/task-worker.js. Tasks are plain functions of JSON-cloneable arguments.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OcularError, errorMessage } from '../errors.js';
import { TASKS, type TaskName } from './tasks.js';

const { name, args } = workerData as { name: TaskName; args: unknown[] };
try {
  const result = await (TASKS[name] as (...a: unknown[]) => unknown)(...args);
  parentPort!.postMessage({ ok: true, result });
} catch (err) {
  parentPort!.postMessage({ ok: false, code: err instanceof OcularError ? err.code : 'internal', message: errorMessage(err) });
}
