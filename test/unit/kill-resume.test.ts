/**
 * kill -9 at seeded random points while `ocular selftest` runs as a child process, then
 * `ocular jobs resume`: the job resumes from the last checkpoint the database holds (nothing
 * repeated), which is at or past the last step whose progress was recorded (nothing lost), and
 * finishes every step. sae-train.test.ts does the same for a training run.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../src-main/contract/contract';
import { mulberry32 } from '../../src-main/core/util/random';
import { ocularBin, runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';

interface Row {
  id: number;
  state: string;
  message: string | null;
  checkpoint_json: string | null;
}

function jobRow(ws: string, id: number | null): Row | undefined {
  try {
    const db = new Database(path.join(ws, 'workspace.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return (
        id === null
          ? db.prepare("SELECT id, state, message, checkpoint_json FROM jobs WHERE state = 'running' ORDER BY id DESC LIMIT 1").get()
          : db.prepare('SELECT id, state, message, checkpoint_json FROM jobs WHERE id = ?').get(id)
      ) as Row | undefined;
    } finally {
      db.close();
    }
  } catch {
    return undefined; // not created yet
  }
}

describe('kill -9 during a job, then resume', () => {
  it('self-test: 10 seeded kill points; each resume starts at the stored checkpoint, loses no recorded step and finishes', async () => {
    const ws = path.join(tmpDir(), 'ws');
    const random = mulberry32(14);
    const steps = 30;
    for (let round = 0; round < 10; round++) {
      const child = spawn(process.execPath, [ocularBin, 'selftest', '--workspace', ws, '--steps', String(steps), '--json'], {
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let running: Row | undefined;
      await expect.poll(() => (running = jobRow(ws, null)) !== undefined, { timeout: 30_000, interval: 20 }).toBe(true);
      await new Promise((r) => setTimeout(r, Math.floor(random() * steps * 50)));
      child.kill('SIGKILL');
      await exited;

      const killed = jobRow(ws, running!.id)!;
      expect(killed.state).toBe('running'); // nobody closed it: an orphan the next open marks interrupted
      const checkpoint = killed.checkpoint_json ? (JSON.parse(killed.checkpoint_json) as { step: number }).step : 0;
      const recorded = Number(/^step (\d+)\//.exec(killed.message ?? '')?.[1] ?? 0);
      expect(checkpoint, `round ${round}`).toBeGreaterThanOrEqual(recorded);

      const res = await runCli(['jobs', 'resume', String(killed.id), '--workspace', ws, '--json'], 60_000);
      expect(res.code, res.stderr).toBe(0);
      const job = JSON.parse(res.stdout) as Job;
      expect(job).toMatchObject({ state: 'succeeded', attempts: 2 });
      expect(job.result).toMatchObject({ steps, resumedFromStep: checkpoint });
    }
  }, 240_000);
});
