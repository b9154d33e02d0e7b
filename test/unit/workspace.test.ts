import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { contract } from '../../src-main/contract/contract';
import { EvalStore } from '../../src-main/core/eval/eval-store';
import { openSqlite } from '../../src-main/core/store/sqlite';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src-main/core/store/migrations';
import { APPLICATION_ID, DB_FILE, LOCK_FILE, Workspace } from '../../src-main/core/store/workspace';
import { tmpDir } from '../helpers/tmp';

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('workspace create/open', () => {
  it('creates a folder with workspace.sqlite in WAL mode, foreign keys on, and blobs/', () => {
    const dir = path.join(tmpDir(), 'ws');
    const ws = Workspace.create(dir);
    expect(fs.existsSync(path.join(dir, DB_FILE))).toBe(true);
    expect(fs.statSync(path.join(dir, 'blobs')).isDirectory()).toBe(true);
    expect(ws.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(ws.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(ws.db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(ws.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    expect(ws.meta('created_at')).toMatch(/^\d{4}-/);
    ws.close();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    const again = Workspace.open(dir);
    expect(again.recoveredFromUncleanShutdown).toBe(false);
    again.close();
  });

  it('refuses to create over an existing workspace and to open a folder that is not one', () => {
    const dir = tmpDir();
    Workspace.create(dir).close();
    expect(() => Workspace.create(dir)).toThrow(/already holds a workspace/);
    expect(() => Workspace.open(tmpDir())).toThrow(/not an Ocular workspace: it has no workspace.sqlite/);
    expect(() => Workspace.open(path.join(dir, 'missing'))).toThrow(/folder does not exist/);
    expect(() => Workspace.open(path.join(dir, DB_FILE))).toThrow(/is a file, not a workspace folder/);
  });
});

describe('migrations', () => {
  for (const older of MIGRATIONS.slice(0, -1)) {
    it(`upgrades a v${older.version} workspace to v${LATEST_SCHEMA_VERSION}, keeping its data`, () => {
      const dir = tmpDir();
      const upTo = MIGRATIONS.filter((m) => m.version <= older.version);
      const ws = Workspace.create(dir, { migrations: upTo });
      expect(ws.schemaVersion()).toBe(older.version);
      ws.db
        .prepare("INSERT INTO jobs (kind, params_json, state, created_at) VALUES ('selftest', '{\"steps\":3}', 'succeeded', '2026-01-01')")
        .run();
      ws.close();

      const upgraded = Workspace.open(dir);
      expect(upgraded.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
      const row = upgraded.db.prepare('SELECT kind, params_json, state, attempts FROM jobs').get();
      expect(row).toEqual({ kind: 'selftest', params_json: '{"steps":3}', state: 'succeeded', attempts: 0 });
      expect(upgraded.meta('created_at')).not.toBeNull();
      upgraded.close();
    });
  }

  it('reads an evaluation from a v4 workspace with the summary naming its Wilson intervals (was `bootstrap`)', () => {
    // Summaries are computed from stored predictions on each read, so renaming `bootstrap {resamples, seed}`
    // to `intervals {method, level}` needs no SQL: an evaluation written by the first schema with one reads
    // back in the new shape, and its 4-of-4 group has a Wilson interval, not a point.
    const dir = tmpDir();
    const ws = Workspace.create(dir, { migrations: MIGRATIONS.filter((m) => m.version <= 4) });
    const run = (sql: string) => ws.db.prepare(sql).run();
    run("INSERT INTO datasets (id, name, path, source, created_at) VALUES (1, 'd', '/d', 'synth', '2026-01-01')");
    for (let i = 1; i <= 4; i++) {
      run(
        `INSERT INTO dataset_items (id, dataset_id, item_key, image, question, answer_type, answer_json, task, difficulty) VALUES (${i}, 1, 'k${i}', 'i.png', 'How many?', 'integer', '3', 'count', 1)`,
      );
    }
    const params = JSON.stringify({ maxNewTokens: 8, promptTemplate: '{question}', batchSize: 4, limit: null, device: 'cpu' });
    run(`INSERT INTO evals (id, model_path, dataset_id, params_json, created_at) VALUES (1, '/m', 1, '${params}', '2026-01-01')`);
    for (let i = 1; i <= 4; i++) {
      run(`INSERT INTO predictions VALUES (1, ${i}, '3', '3', 'whole', 1, 0, 2)`);
    }
    ws.close();

    const upgraded = Workspace.open(dir);
    const summary = contract['evals.get'].response.parse(new EvalStore(upgraded.db).summary(1));
    expect(summary.intervals).toEqual({ method: 'wilson', level: 0.95 });
    expect('bootstrap' in summary).toBe(false);
    expect(summary.overall).toMatchObject({ n: 4, correct: 4, accuracy: 1 });
    expect(summary.overall.ci95[0]).toBeCloseTo(0.51, 2); // Wilson at 4/4: [0.510, 1]
    expect(summary.overall.ci95[1]).toBe(1);
    upgraded.close();
  });

  it('rolls back a failing migration and leaves the workspace at its old version', () => {
    const dir = tmpDir();
    Workspace.create(dir, { migrations: MIGRATIONS.slice(0, 1) }).close();
    const broken = [...MIGRATIONS.slice(0, 1), { version: 2, name: 'broken', sql: 'ALTER TABLE jobs ADD COLUMN x TEXT; THIS IS NOT SQL;' }];
    expect(() => Workspace.open(dir, { migrations: broken })).toThrow(/from v1 failed and was rolled back/);
    const db = openSqlite(path.join(dir, DB_FILE), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect((db.prepare('PRAGMA table_info(jobs)').all() as Array<{ name: string }>).map((c) => c.name)).not.toContain('x');
    db.close();
  });

  it('refuses a workspace written by a newer Ocular and leaves the file byte-for-byte unchanged', () => {
    const dir = tmpDir();
    Workspace.create(dir).close();
    const db = openSqlite(path.join(dir, DB_FILE));
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    db.pragma('journal_mode = DELETE');
    db.close();
    const before = sha(path.join(dir, DB_FILE));
    const filesBefore = fs.readdirSync(dir).sort();
    expect(() => Workspace.open(dir)).toThrow(new RegExp(`written by a newer version of Ocular \\(schema v${LATEST_SCHEMA_VERSION + 1}`));
    expect(sha(path.join(dir, DB_FILE))).toBe(before);
    expect(fs.readdirSync(dir).sort()).toEqual(filesBefore);
  });
});

describe('damaged and foreign files', () => {
  it('refuses a file that is not SQLite', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, DB_FILE), 'these are not the bytes you are looking for'.repeat(100));
    expect(() => Workspace.open(dir)).toThrow(/is not a SQLite database/);
  });

  it('refuses an empty database file', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, DB_FILE), '');
    expect(() => Workspace.open(dir)).toThrow(/is empty/);
  });

  it('refuses a corrupt SQLite file (valid header, garbage pages)', () => {
    const dir = tmpDir();
    Workspace.create(dir).close();
    const file = path.join(dir, DB_FILE);
    const bytes = fs.readFileSync(file);
    // Keep the 100-byte header, scramble everything after it.
    const garbage = crypto.randomBytes(bytes.length - 100);
    fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, 100), garbage]));
    expect(() => Workspace.open(dir)).toThrow(/corrupt|not an Ocular workspace|malformed/);
  });

  it("refuses another program's SQLite database", () => {
    const dir = tmpDir();
    const db = openSqlite(path.join(dir, DB_FILE));
    db.exec('CREATE TABLE songs (title TEXT)');
    db.close();
    expect(() => Workspace.open(dir)).toThrow(/SQLite database but not an Ocular workspace/);
  });
});

describe('unclean shutdown and concurrent use', () => {
  it('runs an integrity check when the previous session left a stale lock', () => {
    const dir = tmpDir();
    Workspace.create(dir).close();
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname(), openedAt: 'x' }));
    const ws = Workspace.open(dir);
    expect(ws.recoveredFromUncleanShutdown).toBe(true);
    ws.close();
  });

  it('refuses read-write open while another live process holds the workspace, but allows read-only', async () => {
    const dir = tmpDir();
    Workspace.create(dir).close();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: child.pid, host: os.hostname(), openedAt: 'x' }));
      expect(() => Workspace.open(dir)).toThrow(new RegExp(`already open in another Ocular process \\(pid ${child.pid}`));
      const ro = Workspace.open(dir, { readOnly: true });
      expect(ro.readOnly).toBe(true);
      expect(() => ro.db.prepare("INSERT INTO meta (key, value) VALUES ('a','b')").run()).toThrow(/readonly/);
      ro.close();
      expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true); // a read-only reader never touches the lock
    } finally {
      child.kill();
    }
  });

  it('refuses read-only open of a workspace that needs a schema upgrade', () => {
    const dir = tmpDir();
    Workspace.create(dir, { migrations: MIGRATIONS.slice(0, 1) }).close();
    expect(() => Workspace.open(dir, { readOnly: true })).toThrow(
      new RegExp(`uses schema v1 and needs upgrading to v${LATEST_SCHEMA_VERSION}`),
    );
  });
});
