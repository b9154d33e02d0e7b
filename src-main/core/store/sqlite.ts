/**
 * Opens better-sqlite3 with the native binding that matches the running ABI.
 *
 * Plain Node (tests, CLI) uses the binding npm built in node_modules. Electron needs a build against
 * Electron's ABI; `npm run rebuild:electron` writes it to out/native-electron/ (or the packager puts it
 * in resources/), and the Electron shell passes its path in OCULAR_SQLITE_BINDING. Keeping the two
 * builds apart means running the app never breaks the tests and vice versa.
 */
import Database from 'better-sqlite3';

export type Db = Database.Database;

export function openSqlite(file: string, options: { readonly?: boolean; fileMustExist?: boolean } = {}): Db {
  const nativeBinding = process.env.OCULAR_SQLITE_BINDING || undefined;
  return new Database(file, {
    readonly: options.readonly ?? false,
    fileMustExist: options.fileMustExist ?? false,
    nativeBinding,
  });
}

/**
 * A job worker's own connection to its workspace database (WAL lets it write beside the backend):
 * waits on locks instead of failing, and enforces foreign keys like every other connection.
 */
export function openWorkerDb(file: string): Db {
  const db = openSqlite(file, { fileMustExist: true });
  db.pragma('busy_timeout = 10000');
  db.pragma('foreign_keys = ON');
  return db;
}
