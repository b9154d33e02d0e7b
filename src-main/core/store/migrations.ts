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
  {
    version: 4,
    name: 'datasets, evaluations and predictions',
    sql: `
      CREATE TABLE datasets (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        path       TEXT NOT NULL,
        source     TEXT NOT NULL CHECK (source IN ('synth', 'import')),
        meta_json  TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE dataset_items (
        id          INTEGER PRIMARY KEY,
        dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        item_key    TEXT NOT NULL,
        image       TEXT NOT NULL,
        question    TEXT NOT NULL,
        answer_type TEXT NOT NULL CHECK (answer_type IN ('integer', 'float', 'text')),
        answer_json TEXT NOT NULL,
        task        TEXT,
        difficulty  INTEGER,
        scene_json  TEXT,
        UNIQUE (dataset_id, item_key)
      ) STRICT;
      CREATE TABLE evals (
        id          INTEGER PRIMARY KEY,
        job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        model_path  TEXT NOT NULL,
        dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        params_json TEXT NOT NULL,
        created_at  TEXT NOT NULL
      ) STRICT;
      CREATE TABLE predictions (
        eval_id        INTEGER NOT NULL REFERENCES evals(id) ON DELETE CASCADE,
        item_id        INTEGER NOT NULL REFERENCES dataset_items(id) ON DELETE CASCADE,
        raw            TEXT NOT NULL,
        extracted_json TEXT,
        method         TEXT NOT NULL,
        correct        INTEGER NOT NULL,
        hit_limit      INTEGER NOT NULL,
        tokens         INTEGER NOT NULL,
        PRIMARY KEY (eval_id, item_id)
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'SAE registry',
    sql: `
      CREATE TABLE saes (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL,
        folder       TEXT NOT NULL,
        architecture TEXT NOT NULL,
        d_in         INTEGER NOT NULL,
        d_sae        INTEGER NOT NULL,
        k            INTEGER,
        hook_name    TEXT,
        model_name   TEXT,
        source       TEXT NOT NULL CHECK (source IN ('import', 'trained')),
        created_at   TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 6,
    name: 'activation harvests',
    sql: `
      CREATE TABLE harvests (
        id          INTEGER PRIMARY KEY,
        job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        model_path  TEXT NOT NULL,
        dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        params_json TEXT NOT NULL,
        stats_json  TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL
      ) STRICT;
      CREATE TABLE harvest_shards (
        harvest_id INTEGER NOT NULL REFERENCES harvests(id) ON DELETE CASCADE,
        tap        TEXT NOT NULL,
        shard      INTEGER NOT NULL,
        file       TEXT NOT NULL,
        first_row  INTEGER NOT NULL,
        rows       INTEGER NOT NULL,
        PRIMARY KEY (harvest_id, tap, shard)
      ) STRICT;
      CREATE TABLE harvest_rows (
        harvest_id INTEGER NOT NULL REFERENCES harvests(id) ON DELETE CASCADE,
        stream     TEXT NOT NULL CHECK (stream IN ('decoder', 'vision')),
        row        INTEGER NOT NULL,
        item_id    INTEGER NOT NULL,
        position   INTEGER NOT NULL,
        modality   TEXT NOT NULL CHECK (modality IN ('image', 'text', 'generated')),
        image      INTEGER,
        patch_row  INTEGER,
        patch_col  INTEGER,
        token_id   INTEGER,
        PRIMARY KEY (harvest_id, stream, row)
      ) STRICT;
      CREATE TABLE harvest_items (
        harvest_id INTEGER NOT NULL REFERENCES harvests(id) ON DELETE CASCADE,
        item_id    INTEGER NOT NULL,
        PRIMARY KEY (harvest_id, item_id)
      ) STRICT;
    `,
  },
  {
    version: 7,
    name: 'training metrics and SAE provenance',
    sql: `
      CREATE TABLE train_metrics (
        job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        step         INTEGER NOT NULL,
        metrics_json TEXT NOT NULL,
        PRIMARY KEY (job_id, step)
      ) STRICT;
      ALTER TABLE saes ADD COLUMN job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL;
      ALTER TABLE saes ADD COLUMN hook_name_out TEXT;
      ALTER TABLE saes ADD COLUMN d_out INTEGER;
      ALTER TABLE saes ADD COLUMN eval_json TEXT;
    `,
  },
  {
    version: 8,
    name: 'feature analyses and labels',
    sql: `
      CREATE INDEX harvest_rows_by_item ON harvest_rows (harvest_id, stream, item_id, position);
      CREATE TABLE analyses (
        id           INTEGER PRIMARY KEY,
        sae_id       INTEGER NOT NULL REFERENCES saes(id) ON DELETE CASCADE,
        harvest_id   INTEGER NOT NULL REFERENCES harvests(id) ON DELETE CASCADE,
        job_id       INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        params_json  TEXT NOT NULL,
        summary_json TEXT,
        created_at   TEXT NOT NULL
      ) STRICT;
      CREATE TABLE features (
        analysis_id    INTEGER NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,
        feature        INTEGER NOT NULL,
        density        REAL NOT NULL,
        max_act        REAL NOT NULL,
        mean_act       REAL NOT NULL,
        image_share    REAL,
        cross_modal    REAL,
        quantiles_json TEXT NOT NULL,
        hist_json      TEXT NOT NULL,
        logits_json    TEXT,
        PRIMARY KEY (analysis_id, feature)
      ) STRICT;
      CREATE TABLE feature_examples (
        analysis_id INTEGER NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,
        feature     INTEGER NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('top', 'image', 'text')),
        rank        INTEGER NOT NULL,
        row         INTEGER NOT NULL,
        activation  REAL NOT NULL,
        PRIMARY KEY (analysis_id, feature, kind, rank)
      ) STRICT;
      CREATE TABLE feature_labels (
        sae_id     INTEGER NOT NULL REFERENCES saes(id) ON DELETE CASCADE,
        feature    INTEGER NOT NULL,
        label      TEXT NOT NULL,
        tags_json  TEXT NOT NULL,
        confidence REAL,
        status     TEXT NOT NULL CHECK (status IN ('unlabelled', 'labelled', 'needs-review', 'uninterpretable')),
        annotator  TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (sae_id, feature)
      ) STRICT;
      CREATE TABLE feature_label_history (
        id         INTEGER PRIMARY KEY,
        sae_id     INTEGER NOT NULL REFERENCES saes(id) ON DELETE CASCADE,
        feature    INTEGER NOT NULL,
        label      TEXT NOT NULL,
        tags_json  TEXT NOT NULL,
        confidence REAL,
        status     TEXT NOT NULL,
        annotator  TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        source     TEXT NOT NULL
      ) STRICT;
      CREATE INDEX feature_label_history_by_feature ON feature_label_history (sae_id, feature, id);
    `,
  },
  {
    version: 9,
    name: 'per-task feature means and experiments',
    sql: `
      ALTER TABLE features ADD COLUMN task_means_json TEXT;
      CREATE TABLE experiments (
        id           INTEGER PRIMARY KEY,
        job_id       INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        name         TEXT NOT NULL,
        spec_json    TEXT NOT NULL,
        results_json TEXT,
        created_at   TEXT NOT NULL
      ) STRICT;
      CREATE TABLE experiment_outputs (
        experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        condition     TEXT NOT NULL,
        item_id       INTEGER NOT NULL,
        output_json   TEXT NOT NULL,
        PRIMARY KEY (experiment_id, condition, item_id)
      ) STRICT;
      CREATE TABLE probes (
        id           INTEGER PRIMARY KEY,
        job_id       INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        harvest_id   INTEGER NOT NULL REFERENCES harvests(id) ON DELETE CASCADE,
        spec_json    TEXT NOT NULL,
        results_json TEXT,
        created_at   TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 10,
    name: 'harvest rows: tile and box',
    // Dynamic resolution: which tile of its image a token shows, and its box in the original image's pixels.
    sql: `
      ALTER TABLE harvest_rows ADD COLUMN tile INTEGER;
      ALTER TABLE harvest_rows ADD COLUMN box_x0 REAL;
      ALTER TABLE harvest_rows ADD COLUMN box_y0 REAL;
      ALTER TABLE harvest_rows ADD COLUMN box_x1 REAL;
      ALTER TABLE harvest_rows ADD COLUMN box_y1 REAL;
    `,
  },
  {
    version: 11,
    name: 'feature explanations (auto-interpretation suggestions)',
    // Suggestions with their provenance and scores; an annotator's decision turns one into a label.
    sql: `
      CREATE TABLE feature_explanations (
        id              INTEGER PRIMARY KEY,
        sae_id          INTEGER NOT NULL REFERENCES saes(id) ON DELETE CASCADE,
        analysis_id     INTEGER REFERENCES analyses(id) ON DELETE SET NULL,
        job_id          INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        feature         INTEGER NOT NULL,
        explanation     TEXT NOT NULL,
        explainer       TEXT NOT NULL CHECK (explainer IN ('ground-truth', 'llm')),
        provenance_json TEXT NOT NULL,
        confidence      REAL,
        scores_json     TEXT,
        status          TEXT NOT NULL CHECK (status IN ('suggested', 'accepted', 'edited', 'rejected')),
        decided_by      TEXT,
        decided_at      TEXT,
        created_at      TEXT NOT NULL
      ) STRICT;
      CREATE INDEX feature_explanations_by_feature ON feature_explanations (sae_id, feature, id);
    `,
  },
  {
    version: 12,
    name: 'experiment replications across SAE seeds',
    // One experiment spec over SAEs of different seeds; the effects' distribution is computed from the experiments' results.
    sql: `
      CREATE TABLE experiment_replications (
        id                  INTEGER PRIMARY KEY,
        name                TEXT NOT NULL,
        experiment_ids_json TEXT NOT NULL,
        created_at          TEXT NOT NULL
      ) STRICT;
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
