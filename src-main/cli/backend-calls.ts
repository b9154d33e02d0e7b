/** Contract calls from CLI commands (Backend.call, typed by channel); models and datasets registered once. */
import type { Job } from '../contract/contract.js';
import type { Backend } from '../core/backend/backend.js';

/** The ids of a model and a dataset folder in the workspace, registering/importing them if new. */
export async function ensureModelAndDataset(
  backend: Backend,
  model: string,
  dataset: string,
): Promise<{ modelId: number; datasetId: number }> {
  const call = backend.call.bind(backend);
  const modelId = (await call('models.list', {})).find((m) => m.path === model)?.id ?? (await call('models.add', { path: model })).id;
  const datasetId =
    (await call('datasets.list', {})).find((d) => d.path === dataset)?.id ?? (await call('datasets.import', { path: dataset })).id;
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
