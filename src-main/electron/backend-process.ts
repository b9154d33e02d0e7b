/**
 * Entry of the backend utility process (Electron's utilityProcess). It runs the same Backend that
 * `ocular serve` runs, so the store and every handler live off the Electron main thread. The main
 * process forwards contract calls here over the process's message port and relays events back.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Backend } from '../core/backend/backend.js';
import { errorMessage } from '../core/errors.js';
import { faultMessage } from '../core/util/faults.js';
import type { FromBackend, ToBackend } from './backend-messages.js';

// A fault nothing caught (a full disk in an event handler) is logged; the backend keeps serving the window.
for (const event of ['uncaughtException', 'unhandledRejection'] as const)
  process.on(event, (err: unknown) => console.error(`ocular backend: ${faultMessage(err) ?? errorMessage(err)} (kept running)`));

const here = path.dirname(fileURLToPath(import.meta.url));

// Electron gives utility processes a `parentPort` on process; typed loosely to keep this file
// free of Electron imports.
const port = (
  process as unknown as { parentPort: { on(e: 'message', l: (m: { data: ToBackend }) => void): void; postMessage(m: FromBackend): void } }
).parentPort;

const backend = new Backend({
  transport: 'electron',
  configDir: process.env.OCULAR_CONFIG_DIR,
  workerEntry: path.join(here, 'job-worker.js'),
  taskWorkerEntry: path.join(here, 'task-worker.js'),
  // Pool processes are children of this backend: only the main process may create utility
  // processes, and the main process stays a thin shell. The Electron binary runs them as Node.
  sessionHostEntry: path.join(here, 'session-host.js'),
  sessionHostEnv: { ELECTRON_RUN_AS_NODE: '1' },
  resourcesDir: process.env.OCULAR_RESOURCES,
});

backend.onEvent((event) => {
  port.postMessage({ type: 'event', event });
  if (event.type === 'workspace.changed') port.postMessage({ type: 'workspace-dir', dir: event.workspace?.path ?? null });
});

port.on('message', ({ data }) => {
  if (data.type === 'invoke') {
    backend.invoke(data.channel, data.payload).then(
      (envelope) => port.postMessage({ type: 'result', id: data.id, envelope }),
      (err) =>
        port.postMessage({ type: 'result', id: data.id, envelope: { ok: false, error: { code: 'internal', message: errorMessage(err) } } }),
    );
  } else if (data.type === 'shutdown') {
    void backend.close().finally(() => port.postMessage({ type: 'closed' }));
  }
});
