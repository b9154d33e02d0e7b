import path from 'node:path';
import { afterEach } from 'vitest';
import type { Job } from '../../src-main/contract/contract';
import { Backend } from '../../src-main/core/backend/backend';
import { repoRoot, sessionHostEntry, taskWorkerEntry, tmpDir, workerEntry } from './tmp';

export const TINY_LLAVA = path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-llava');

const backends: Backend[] = [];
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
});

export const isDone = (j: Job) => !['queued', 'running'].includes(j.state);

/** Resolves with the job once an update for it satisfies `predicate`. */
export function untilJob(b: Backend, id: number, predicate: (j: Job) => boolean): Promise<Job> {
  return new Promise<Job>((resolve) => {
    const off = b.onEvent((e) => {
      if (e.type === 'job.updated' && e.job.id === id && predicate(e.job)) {
        off();
        resolve(e.job);
      }
    });
  });
}

/** A backend pinned to a fresh workspace folder (created), closed after the test. */
export async function backendWithWorkspace(): Promise<Backend> {
  const b = new Backend({
    transport: 'http',
    workerEntry,
    taskWorkerEntry,
    sessionHostEntry,
    configDir: tmpDir(),
    pinnedWorkspace: path.join(tmpDir(), 'ws'),
  });
  backends.push(b);
  await b.invoke('workspace.create', {});
  return b;
}

/**
 * A backend on a fresh workspace with the synthetic benchmark generated into it (seed, per cell)
 * and the tiny LLaVA registered: what evaluation and harvest tests start from.
 */
export async function backendWithBenchmark(seed: number, perCell: number) {
  const b = await backendWithWorkspace();
  const ws = b.pinnedWorkspace!;
  const call = b.call.bind(b);
  const until = (id: number, predicate: (j: Job) => boolean) => untilJob(b, id, predicate);
  const synth = await call('datasets.synth', { seed, perCell });
  const generated = await until(synth.id, isDone);
  if (generated.state !== 'succeeded') throw new Error(`benchmark generation ${generated.state}: ${generated.error}`);
  const [dataset] = await call('datasets.list', {});
  const model = await call('models.add', { path: TINY_LLAVA });
  return { b, ws, call, until, done: isDone, dataset: dataset!, datasetId: dataset!.id, modelId: model.id };
}
