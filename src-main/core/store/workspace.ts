/**
 * A workspace is a folder: workspace.sqlite (the experiment store) + blobs/ (large binary artifacts).
 *
 * Opening is careful because lab members share workspaces: a file that is not SQLite, a SQLite file
 * that is not Ocular's, or one written by a newer Ocular is refused before anything is written to it.
 * A lock file records which process has the workspace open; finding a stale one means the last
 * session did not close cleanly, and then a full quick_check runs before the workspace is used.
 * A clean open runs a time-bounded quick_check (table by table, stopping after
 * QUICK_CHECK_BUDGET_MS) on the read-only inspection connection, so a corrupt file is refused before
 * anything writes to it; `ocular workspace check --full` runs SQLite's full integrity_check.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkspaceError, errorMessage } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations.js';
import { openSqlite, type Db } from './sqlite.js';
import { BLOBS_DIR, DB_FILE, LOCK_FILE } from './layout.js';

export { BLOBS_DIR, DB_FILE, LOCK_FILE } from './layout.js';
/** 'OCUL' — marks a SQLite file as an Ocular workspace. */
export const APPLICATION_ID = 0x4f43554c;
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** How long a clean open may spend checking the database's structure. */
export const QUICK_CHECK_BUDGET_MS = 1500;

export interface OpenOptions {
  readOnly?: boolean;
  /** For tests of older schemas: stop migrating at this version. */
  migrations?: readonly Migration[];
}

interface LockInfo {
  pid: number;
  host: string;
  openedAt: string;
}

export class Workspace {
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly db: Db,
    readonly readOnly: boolean,
    readonly recoveredFromUncleanShutdown: boolean,
    private readonly ownsLock: boolean,
  ) {}

  get dbPath(): string {
    return path.join(this.dir, DB_FILE);
  }

  get blobsDir(): string {
    return path.join(this.dir, BLOBS_DIR);
  }

  /** Create a new workspace in `dir` (created if missing; must not already hold a workspace). */
  static create(dir: string, options: OpenOptions = {}): Workspace {
    const abs = path.resolve(dir);
    if (fs.existsSync(path.join(abs, DB_FILE))) {
      throw new WorkspaceError(`${abs} already holds a workspace (${DB_FILE} exists). Open it instead.`);
    }
    if (fs.existsSync(abs) && !fs.statSync(abs).isDirectory()) {
      throw new WorkspaceError(`${abs} is a file, not a folder: a workspace must be a folder.`);
    }
    try {
      fs.mkdirSync(path.join(abs, BLOBS_DIR), { recursive: true });
    } catch (err) {
      throw new WorkspaceError(`Could not create the workspace folder ${abs}: ${errorMessage(err)}`);
    }
    const db = openSqlite(path.join(abs, DB_FILE));
    try {
      db.pragma(`application_id = ${APPLICATION_ID}`);
      configure(db);
      migrate(db, options.migrations ?? MIGRATIONS);
      const now = new Date().toISOString();
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)').run('created_at', now, 'created_by', 'ocular');
    } catch (err) {
      db.close();
      throw err;
    }
    db.close();
    return Workspace.open(abs, options);
  }

  /** Open an existing workspace, migrating it to the current schema. */
  static open(dir: string, options: OpenOptions = {}): Workspace {
    const abs = path.resolve(dir);
    const readOnly = options.readOnly ?? false;
    const migrations = options.migrations ?? MIGRATIONS;
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (!fs.existsSync(abs)) throw new WorkspaceError(`No workspace at ${abs}: the folder does not exist.`);
    if (!fs.statSync(abs).isDirectory()) throw new WorkspaceError(`${abs} is a file, not a workspace folder.`);
    const file = path.join(abs, DB_FILE);
    if (!fs.existsSync(file)) throw new WorkspaceError(`${abs} is not an Ocular workspace: it has no ${DB_FILE}.`);
    checkHeader(file);

    // Inspect read-only first: a foreign or newer file must be refused without being touched
    // (even switching to WAL would rewrite its header).
    const version = inspect(file, latest);

    const lock = readLock(abs);
    const heldElsewhere = lock !== null && lockIsLive(lock);
    if (heldElsewhere && !readOnly) {
      throw new WorkspaceError(
        `The workspace ${abs} is already open in another Ocular process (pid ${lock!.pid} on ${lock!.host}). ` +
          'Close it there, or browse it with `ocular serve --read-only`.',
      );
    }
    const unclean = lock !== null && !heldElsewhere;

    if (readOnly && version < latest) {
      throw new WorkspaceError(
        `The workspace ${abs} uses schema v${version} and needs upgrading to v${latest}; open it once read-write to upgrade it.`,
      );
    }

    const db = openSqlite(file, { readonly: readOnly, fileMustExist: true });
    try {
      if (unclean) quickCheck(db, abs);
      if (!readOnly) {
        configure(db);
        migrate(db, migrations);
      } else {
        db.pragma('foreign_keys = ON');
      }
    } catch (err) {
      db.close();
      throw err;
    }
    if (!readOnly) {
      writeFileAtomic(
        path.join(abs, LOCK_FILE),
        JSON.stringify({ pid: process.pid, host: os.hostname(), openedAt: new Date().toISOString() } satisfies LockInfo),
      );
      fs.mkdirSync(path.join(abs, BLOBS_DIR), { recursive: true });
    }
    return new Workspace(abs, db, readOnly, unclean, !readOnly);
  }

  schemaVersion(): number {
    return Number(this.db.pragma('user_version', { simple: true }));
  }

  meta(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.readOnly) {
      // Fold the WAL back into the main file so a copied workspace folder is self-contained, and
      // leave it in rollback-journal mode: a closed workspace is then one file that a read-only
      // inspection (the next open, a check of a corrupt file) reads without creating -wal / -shm
      // beside it. The next read-write open switches back to WAL.
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
        this.db.pragma('journal_mode = DELETE');
      } catch {
        /* busy (another connection still open) or a full disk: WAL stays, which is as safe */
      }
    }
    this.db.close();
    if (this.ownsLock) {
      const lock = readLock(this.dir);
      if (lock && lock.pid === process.pid && lock.host === os.hostname()) fs.rmSync(path.join(this.dir, LOCK_FILE), { force: true });
    }
  }
}

function configure(db: Db): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
}

function checkHeader(file: string): void {
  const fd = fs.openSync(file, 'r');
  const header = Buffer.alloc(SQLITE_HEADER.length);
  let read: number;
  try {
    read = fs.readSync(fd, header, 0, header.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (read === 0) throw new WorkspaceError(`${file} is empty: the workspace database is missing its contents (corrupt or truncated).`);
  if (read < header.length || !header.equals(SQLITE_HEADER)) {
    throw new WorkspaceError(`${file} is not a SQLite database: the workspace is corrupt or this is not an Ocular workspace.`);
  }
}

/** Returns the schema version after checking the file is Ocular's and not from a newer Ocular. */
function inspect(file: string, latest: number): number {
  let db: Db;
  try {
    db = openSqlite(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new WorkspaceError(`Cannot open ${file}: ${errorMessage(err)}`);
  }
  try {
    let appId: number;
    let version: number;
    try {
      appId = Number(db.pragma('application_id', { simple: true }));
      version = Number(db.pragma('user_version', { simple: true }));
      // Touch the schema so a damaged first page is detected here, not later.
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      boundedQuickCheck(db, file);
    } catch (err) {
      if (err instanceof WorkspaceError) throw err;
      throw new WorkspaceError(`${file} is corrupt: ${errorMessage(err)}. Restore it from a backup.`);
    }
    if (appId !== APPLICATION_ID) {
      throw new WorkspaceError(`${file} is a SQLite database but not an Ocular workspace (application id ${appId}).`);
    }
    if (version > latest) {
      throw new WorkspaceError(
        `This workspace was written by a newer version of Ocular (schema v${version}; this version understands up to v${latest}). ` +
          'Update Ocular to open it; the file was left untouched.',
      );
    }
    return version;
  } finally {
    db.close();
  }
}

/**
 * quick_check table by table (each with its indexes) until the budget is spent: a damaged b-tree
 * in a small workspace is found on every open, and a huge one still opens in bounded time.
 */
function boundedQuickCheck(db: Db, file: string, budgetMs = QUICK_CHECK_BUDGET_MS): void {
  const started = Date.now();
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rootpage").pluck().all() as string[];
  for (const table of tables) {
    let problems: string[];
    try {
      const rows = db.pragma(`quick_check("${table.replace(/"/g, '""')}")`) as Array<{ quick_check: string }>;
      problems = rows.map((r) => oneLine(r.quick_check)).filter((r) => r !== 'ok');
    } catch (err) {
      problems = [errorMessage(err)]; // a page so damaged the check itself stops: SQLITE_CORRUPT
    }
    if (problems.length > 0)
      throw new WorkspaceError(
        `${file} is corrupt (${problems.slice(0, 2).join('; ')}); it was left untouched. Run \`ocular workspace check --full\` for the full report and restore it from a backup.`,
      );
    if (Date.now() - started > budgetMs) return;
  }
}

/** SQLite's full integrity_check of a workspace's database, read-only: the problems found, [] when sound. */
export function integrityCheck(dir: string): string[] {
  const file = path.join(path.resolve(dir), DB_FILE);
  if (!fs.existsSync(file)) throw new WorkspaceError(`${path.resolve(dir)} is not an Ocular workspace: it has no ${DB_FILE}.`);
  checkHeader(file);
  let db: Db;
  try {
    db = openSqlite(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new WorkspaceError(`Cannot open ${file}: ${errorMessage(err)}`);
  }
  try {
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    return rows.map((r) => oneLine(r.integrity_check)).filter((r) => r !== 'ok');
  } catch (err) {
    return [errorMessage(err)];
  } finally {
    db.close();
  }
}

/** SQLite's check lines, as one line each ("*** in database main ***" is noise here). */
function oneLine(problem: string): string {
  return problem.replace('*** in database main ***', '').replace(/\s+/g, ' ').trim();
}

function quickCheck(db: Db, dir: string): void {
  let rows: Array<{ quick_check: string }>;
  try {
    rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
  } catch (err) {
    throw new WorkspaceError(`The workspace ${dir} was not closed cleanly and its database is corrupt: ${errorMessage(err)}`);
  }
  const problems = rows.map((r) => oneLine(r.quick_check)).filter((r) => r !== 'ok');
  if (problems.length > 0) {
    throw new WorkspaceError(
      `The workspace ${dir} was not closed cleanly and its integrity check failed: ${problems.slice(0, 3).join('; ')}. Restore it from a backup.`,
    );
  }
}

function migrate(db: Db, migrations: readonly Migration[]): void {
  const current = Number(db.pragma('user_version', { simple: true }));
  const pending = migrations.filter((m) => m.version > current);
  if (pending.length === 0) return;
  const apply = db.transaction(() => {
    for (const m of pending) {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(
      'migrated_at',
      new Date().toISOString(),
    );
  });
  try {
    apply();
  } catch (err) {
    throw new WorkspaceError(`Upgrading the workspace schema from v${current} failed and was rolled back: ${errorMessage(err)}`);
  }
}

function readLock(dir: string): LockInfo | null {
  const file = path.join(dir, LOCK_FILE);
  if (!fs.existsSync(file)) return null;
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return parsed;
  } catch {
    /* an unreadable lock is a stale lock */
  }
  return { pid: -1, host: os.hostname(), openedAt: '' };
}

function lockIsLive(lock: LockInfo): boolean {
  if (lock.host !== os.hostname()) return true; // cannot check another machine's processes: assume live
  if (lock.pid === process.pid) return false; // our own stale lock (e.g. a test reopening)
  if (lock.pid <= 0) return false;
  try {
    process.kill(lock.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export { LATEST_SCHEMA_VERSION };
