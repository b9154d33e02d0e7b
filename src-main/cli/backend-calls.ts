/** Contract calls from CLI commands: errors become usage errors; models and datasets registered once. */
import type { Job } from '../contract/contract.js';
import type { Backend } from '../core/backend/backend.js';
import { UsageError } from './args.js';

export function caller(backend: Backend) {
  return async <T>(channel: string, payload: unknown): Promise<T> => {
    const r = await backend.invoke(channel, payload);
    if (!r.ok) throw new UsageError(r.error.message);
    return r.result as T;
  };
}

/** The ids of a model and a dataset folder in the workspace, registering/importing them if new. */
export async function ensureModelAndDataset(
  backend: Backend,
  model: string,
  dataset: string,
): Promise<{ modelId: number; datasetId: number }> {
  const call = caller(backend);
  const modelId =
    (await call<Array<{ id: number; path: string }>>('models.list', {})).find((m) => m.path === model)?.id ??
    (await call<{ id: number }>('models.add', { path: model })).id;
  const datasetId =
    (await call<Array<{ id: number; path: string }>>('datasets.list', {})).find((d) => d.path === dataset)?.id ??
    (await call<{ id: number }>('datasets.import', { path: dataset })).id;
  return { modelId, datasetId };
}

/** Resolves with the job when it finishes, printing progress to stderr unless quiet. */
export function finished(backend: Backend, jobId: number, quiet: boolean): Promise<Job> {
  return new Promise<Job>((resolve) =>
    backend.onEvent((e) => {
      if (e.type !== 'job.updated' || e.job.id !== jobId) return;
      if (!quiet) process.stderr.write(`\r${(e.job.progress * 100).toFixed(0).padStart(3)}%  ${e.job.message ?? ''}`.padEnd(80));
      if (!['queued', 'running'].includes(e.job.state)) {
        if (!quiet) process.stderr.write('\n');
        resolve(e.job);
      }
    }),
  );
}
