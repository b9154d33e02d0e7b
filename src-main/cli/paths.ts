/**
 * Where the bundled pieces live relative to the CLI bundle (out/node/cli.mjs):
 * the job worker and session host beside it, the renderer in out/renderer.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const nodeBundlePaths = {
  jobWorker: path.join(here, 'job-worker.mjs'),
  taskWorker: path.join(here, 'task-worker.mjs'),
  sessionHost: path.join(here, 'session-host.mjs'),
  renderer: path.resolve(here, '..', 'renderer'),
  /** Bundled models and icons (resources/ at the repository root). */
  resources: path.resolve(here, '..', '..', 'resources'),
};
