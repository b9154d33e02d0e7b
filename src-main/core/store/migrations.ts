/**
 * Versioned schema migrations. `PRAGMA user_version` holds the version a workspace is at; every
 * pending migration is applied inside one transaction on open, so a failure leaves the file as it was.
 * Append only: never edit a migration that has shipped, add a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'meta and jobs',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
      CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,
        params_json TEXT NOT NULL DEFAULT '{}',
        state       TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled','interrupted')),
        progress    REAL NOT NULL DEFAULT 0,
        message     TEXT,
        error       TEXT,
        created_at  TEXT NOT NULL,
        started_at  TEXT,
        finished_at TEXT
      ) STRICT;
      CREATE INDEX jobs_state ON jobs(state);
    `,
  },
  {
    version: 2,
    name: 'job checkpoints, results and attempts; settings',
    sql: `
      ALTER TABLE jobs ADD COLUMN result_json TEXT;
      ALTER TABLE jobs ADD COLUMN checkpoint_json TEXT;
      ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value_json TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'model registry',
    sql: `
      CREATE TABLE models (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL,
        path         TEXT NOT NULL UNIQUE,
        report_json  TEXT NOT NULL,
        added_at     TEXT NOT NULL,
        inspected_at TEXT NOT NULL
      ) STRICT;
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
