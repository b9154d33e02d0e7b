import type { Job } from '../../src-main/contract/contract';
import type { JobRunner } from '../../src-main/core/jobs/job-runner';

/** Resolves with the job once it satisfies `predicate`, watching the runner's events. */
export function waitForJob(runner: JobRunner, id: number, predicate: (job: Job) => boolean, timeoutMs = 30_000): Promise<Job> {
  return new Promise((resolve, reject) => {
    const current = runner.get(id);
    if (predicate(current)) return resolve(current);
    const timer = setTimeout(() => {
      runner.off('updated', onUpdate);
      reject(new Error(`job ${id} did not reach the expected state in ${timeoutMs} ms (last: ${runner.get(id).state})`));
    }, timeoutMs);
    const onUpdate = (job: Job) => {
      if (job.id !== id || !predicate(job)) return;
      clearTimeout(timer);
      runner.off('updated', onUpdate);
      resolve(job);
    };
    runner.on('updated', onUpdate);
  });
}

export const isFinished = (job: Job) => !['queued', 'running'].includes(job.state);
