/**
 * Machine faults during work: a full disk fails the job, never the process. The full database is
 * real — SQLite's `PRAGMA max_page_count` caps the file, so writes that need a new page get a
 * genuine SQLITE_FULL ("database or disk is full"), the error a full disk gives. ENOSPC is real too:
 * writing to /dev/full fails with it.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobRunner } from '../../src-main/core/jobs/job-runner';
import { DB_FILE, Workspace, integrityCheck } from '../../src-main/core/store/workspace';
import { faultMessage, isDiskFull, jobErrorText } from '../../src-main/core/util/faults';
import { hashTree } from '../helpers/hash-tree';
import { isFinished, waitForJob } from '../helpers/jobs';
import { tmpDir, workerEntry } from '../helpers/tmp';

const open: Array<{ ws: Workspace; runner: JobRunner }> = [];
afterEach(async () => {
  for (const { ws, runner } of open.splice(0)) {
    await runner.shutdown();
    ws.close();
  }
});

function sqliteFull(run: () => void): boolean {
  try {
    run();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_FULL') return true;
    throw err;
  }
}

/**
 * Leaves `ws` with no free page and the row of job `id` filling its page exactly, so any write that
 * grows that row (a progress message, an error) fails with SQLITE_FULL.
 */
function fillAround(ws: Workspace, id: number): void {
  const db = ws.db;
  db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true })) + 8}`);
  const filler = db.prepare("INSERT INTO jobs (kind, params_json, state, created_at) VALUES ('f', '{}', 'succeeded', 't')");
  while (!sqliteFull(() => filler.run()));
  const base = (db.prepare('SELECT params_json FROM jobs WHERE id = ?').get(id) as { params_json: string }).params_json;
  const pad = db.prepare('UPDATE jobs SET params_json = ? WHERE id = ?');
  for (let n = 1; n < 4096; n++) if (sqliteFull(() => pad.run(base + ' '.repeat(n), id))) return;
  throw new Error('the padding never filled the page');
}

describe('a full disk during a job', () => {
  it("fails the job with 'disk full' when the runner's progress write gets SQLITE_FULL, and the process and workspace carry on", async () => {
    const dir = tmpDir();
    const ws = Workspace.create(dir);
    const runner = new JobRunner(ws, { workerEntry, progressIntervalMs: 0, cancelGraceMs: 2000 });
    open.push({ ws, runner });
    const startedAt = new Date().toISOString();
    const id = Number(
      ws.db
        .prepare("INSERT INTO jobs (kind, params_json, state, created_at, started_at) VALUES ('selftest', ?, 'interrupted', ?, ?)")
        .run(JSON.stringify({ steps: 100_000, stepMs: 1, spinMs: 1 }), startedAt, startedAt).lastInsertRowid,
    );
    fillAround(ws, id);
    // The mechanism is real: the first progress write (spinMs reports before the checkpoint) cannot
    // be stored (a failed statement changes nothing).
    expect(sqliteFull(() => runner.store.setProgress(id, 0, 'step 1/100000: computing'))).toBe(true);

    runner.resume(id);
    const failed = await waitForJob(runner, id, isFinished);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/disk full: database or disk is full/);
    expect(failed.error).not.toContain('\n');
    expect(runner.isBusy()).toBe(false);

    // Space comes back: the runner and the database work on, and the file is intact.
    ws.db.pragma('max_page_count = 1073741823');
    expect(ws.db.pragma('quick_check', { simple: true })).toBe('ok');
    const next = runner.start('selftest', { steps: 2, stepMs: 1 });
    expect((await waitForJob(runner, next.id, isFinished)).state).toBe('succeeded');

    // The failure could not be written, so the row still says running: the next open marks it
    // interrupted, and it can be resumed from its checkpoint.
    await runner.shutdown();
    ws.close();
    open.pop();
    const again = Workspace.open(dir);
    const runner2 = new JobRunner(again, { workerEntry, progressIntervalMs: 0 });
    open.push({ ws: again, runner: runner2 });
    runner2.recover();
    expect(runner2.get(id)).toMatchObject({ state: 'interrupted', resumable: true });
  });

  it('fails the job and keeps the process when a checkpoint or the final state cannot be written', async () => {
    const ws = Workspace.create(tmpDir());
    const runner = new JobRunner(ws, { workerEntry, progressIntervalMs: 60_000 });
    open.push({ ws, runner });
    const startedAt = new Date().toISOString();
    // Progress is throttled away (one write a minute), so the first growing write is the checkpoint.
    const id = Number(
      ws.db
        .prepare("INSERT INTO jobs (kind, params_json, state, created_at, started_at) VALUES ('selftest', ?, 'interrupted', ?, ?)")
        .run(JSON.stringify({ steps: 3, stepMs: 1 }), startedAt, startedAt).lastInsertRowid,
    );
    fillAround(ws, id);
    runner.resume(id);
    const failed = await waitForJob(runner, id, isFinished);
    expect(failed).toMatchObject({ state: 'failed' });
    expect(failed.error).toMatch(/^Could not record this job's state: disk full/);
  });
});

describe('fault messages', () => {
  it('name a full disk, a port in use and a read-only database in one line', async () => {
    let enospc: unknown;
    try {
      fs.writeFileSync('/dev/full', 'x');
    } catch (err) {
      enospc = err;
    }
    expect(isDiskFull(enospc)).toBe(true);
    expect(jobErrorText(enospc)).toMatch(/^disk full: ENOSPC: no space left on device/);

    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const clash = net.createServer();
    const err = await new Promise<unknown>((r) => {
      clash.once('error', r);
      clash.listen(port, '127.0.0.1');
    });
    server.close();
    expect(faultMessage(err)).toBe(
      `port ${port} on 127.0.0.1 is already in use (another \`ocular serve\`?): choose another with --port N, or --port 0 for any free port.`,
    );

    const ws = Workspace.create(tmpDir());
    ws.close();
    const ro = Workspace.open(ws.dir, { readOnly: true });
    let readonly: unknown;
    try {
      ro.db.prepare("INSERT INTO meta (key, value) VALUES ('x', 'y')").run();
    } catch (e) {
      readonly = e;
    }
    ro.close();
    expect(faultMessage(readonly)).toMatch(/^read-only: the workspace database cannot be written/);
    expect(faultMessage(new Error('a bug'))).toBeNull();
  });
});

describe('a corrupt workspace', () => {
  /** A workspace whose meta table spans many pages, with one leaf page's type byte destroyed. */
  function corruptWorkspace(): { dir: string; file: string } {
    const ws = Workspace.create(tmpDir());
    const insert = ws.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    for (let i = 0; i < 400; i++) insert.run(`filler-${i}`, 'x'.repeat(200));
    const leaf = ws.db
      .prepare("SELECT pageno FROM dbstat WHERE name = 'meta' AND pagetype = 'leaf' ORDER BY pageno DESC LIMIT 1")
      .pluck()
      .get() as number;
    const pageSize = Number(ws.db.pragma('page_size', { simple: true }));
    ws.close();
    const file = path.join(ws.dir, DB_FILE);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0x00]), 0, 1, (leaf - 1) * pageSize); // page type 0: not a b-tree page
    fs.closeSync(fd);
    return { dir: ws.dir, file };
  }

  it('is refused on a clean open, untouched, and `workspace check --full` reports it', () => {
    const { dir, file } = corruptWorkspace();
    const before = hashTree(dir);
    expect(() => Workspace.open(dir)).toThrow(/is corrupt \(.*\); it was left untouched\. Run `ocular workspace check --full`/);
    expect(() => Workspace.open(dir, { readOnly: true })).toThrow(/is corrupt/);
    expect(hashTree(dir)).toEqual(before);
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    const problems = integrityCheck(dir);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => !p.includes('\n'))).toBe(true);
    expect(hashTree(dir)).toEqual(before);
  });
});
