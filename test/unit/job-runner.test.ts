import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { JobRunner } from '../../src-main/core/jobs/job-runner';
import { Workspace } from '../../src-main/core/store/workspace';
import { isFinished, waitForJob } from '../helpers/jobs';
import { tmpDir, workerEntry } from '../helpers/tmp';
import { jobResult } from '../../src-main/contract/job-results';

const open: Array<{ ws: Workspace; runner: JobRunner }> = [];

function setup(dir = tmpDir(), create = true) {
  const ws = create ? Workspace.create(dir) : Workspace.open(dir);
  const runner = new JobRunner(ws, { workerEntry, progressIntervalMs: 0, cancelGraceMs: 2000 });
  open.push({ ws, runner });
  return { ws, runner, dir };
}

afterEach(async () => {
  for (const { ws, runner } of open.splice(0)) {
    await runner.shutdown();
    ws.close();
  }
});

describe('JobRunner', () => {
  it('runs a self-test in a worker thread, reporting progress to success', async () => {
    const { runner } = setup();
    const progress: number[] = [];
    runner.on('updated', (job) => progress.push(job.progress));
    const job = runner.start('selftest', { steps: 5, stepMs: 10 });
    expect(['queued', 'running']).toContain(job.state);
    const done = await waitForJob(runner, job.id, isFinished);
    expect(done.state).toBe('succeeded');
    expect(done.progress).toBe(1);
    expect(done.attempts).toBe(1);
    const result = jobResult(done, 'selftest');
    expect(result.isMainThread).toBe(false);
    expect(result.threadId).not.toBe(threadId);
    expect(result.workspace).toEqual({ integrity: 'ok', blobRoundTrip: true });
    expect(progress.some((p) => p > 0 && p < 1)).toBe(true);
  });

  it('validates params against the job kind', () => {
    const { runner } = setup();
    expect(() => runner.start('selftest', { steps: -1 })).toThrow(/Invalid parameters for selftest: steps/);
    expect(() => runner.start('nope', {})).toThrow(/Unknown job kind 'nope'/);
  });

  it('cancels a running job', async () => {
    const { runner } = setup();
    const job = runner.start('selftest', { steps: 1000, stepMs: 20 });
    await waitForJob(runner, job.id, (j) => j.progress > 0);
    runner.cancel(job.id);
    const done = await waitForJob(runner, job.id, isFinished);
    expect(done.state).toBe('cancelled');
    expect(done.progress).toBeLessThan(1);
  });

  it('cancels a queued job without starting it', async () => {
    const { ws } = setup();
    const runner = new JobRunner(ws, { workerEntry, maxConcurrent: 1 });
    open.push({ ws, runner });
    const first = runner.start('selftest', { steps: 1000, stepMs: 20 });
    const second = runner.start('selftest', { steps: 2 });
    expect(runner.get(second.id).state).toBe('queued');
    expect(runner.cancel(second.id).state).toBe('cancelled');
    expect(runner.get(second.id).startedAt).toBeNull();
    runner.cancel(first.id);
    await waitForJob(runner, first.id, isFinished);
  });

  it('records the error of a failing job', async () => {
    const { runner } = setup();
    const job = runner.start('selftest', { steps: 5, stepMs: 1, failAtStep: 3 });
    const done = await waitForJob(runner, job.id, isFinished);
    expect(done.state).toBe('failed');
    expect(done.error).toBe('self-test failed on purpose at step 3');
  });

  it('marks jobs interrupted when the workspace closes mid-run, and resumes them from the checkpoint', async () => {
    const { runner, ws, dir } = setup();
    const job = runner.start('selftest', { steps: 400, stepMs: 10 });
    await waitForJob(runner, job.id, (j) => j.progress >= 0.05);
    await runner.shutdown();
    open.length = 0;
    expect(runner.get(job.id).state).toBe('interrupted');
    ws.close();

    const reopened = setup(dir, false);
    const interrupted = reopened.runner.get(job.id);
    expect(interrupted.state).toBe('interrupted');
    const resumed = reopened.runner.resume(job.id);
    expect(['queued', 'running']).toContain(resumed.state);
    const done = await waitForJob(reopened.runner, job.id, isFinished, 60_000);
    expect(done.state).toBe('succeeded');
    expect(done.attempts).toBe(2);
    expect(jobResult(done, 'selftest').resumedFromStep).toBeGreaterThanOrEqual(20);
  });

  it('marks jobs left running by a crashed process as interrupted on recovery', () => {
    const { ws, runner } = setup();
    ws.db
      .prepare("INSERT INTO jobs (kind, params_json, state, created_at, started_at) VALUES ('selftest', '{}', 'running', 'x', 'x')")
      .run();
    expect(runner.recover()).toBe(1);
    const job = runner.store.list(10)[0]!;
    expect(job.state).toBe('interrupted');
    expect(job.error).toMatch(/stopped while this job was running/);
  });

  it('refuses to resume a job that is still running or succeeded', async () => {
    const { runner } = setup();
    const job = runner.start('selftest', { steps: 1, stepMs: 0 });
    await waitForJob(runner, job.id, isFinished);
    expect(() => runner.resume(job.id)).toThrow(/only interrupted, failed or cancelled/);
  });
});
