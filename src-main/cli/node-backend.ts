import { Backend, type BackendOptions } from '../core/backend/backend.js';
import { nodeBundlePaths } from './paths.js';

/** A backend for the CLI under plain Node, wired to the bundles in out/node and to resources/. */
export function nodeBackend(options: Pick<BackendOptions, 'pinnedWorkspace' | 'readOnly'>): Backend {
  return new Backend({
    transport: 'http',
    workerEntry: nodeBundlePaths.jobWorker,
    taskWorkerEntry: nodeBundlePaths.taskWorker,
    sessionHostEntry: nodeBundlePaths.sessionHost,
    resourcesDir: nodeBundlePaths.resources,
    ...options,
  });
}
