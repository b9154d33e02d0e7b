/**
 * SAEs kept in the workspace: each in blobs/saes/<id>/ as a SAELens folder (cfg.json +
 * sae_weights.safetensors), so any SAE in a workspace can be handed to Python as it is.
 */
import path from 'node:path';
import { OcularError } from '../errors.js';
import type { SaeEvaluation, SaeRecord } from '../../contract/contract.js';
import type { Db } from '../store/sqlite.js';
import { exportSae, importSae, writeSaeFolder, type SaeFile } from './sae-io.js';
import { rel } from '../store/layout.js';

export type { SaeEvaluation, SaeRecord };

interface SaeRow {
  id: number;
  name: string;
  folder: string;
  architecture: string;
  d_in: number;
  d_sae: number;
  k: number | null;
  hook_name: string | null;
  model_name: string | null;
  source: 'import' | 'trained';
  created_at: string;
  job_id: number | null;
  hook_name_out: string | null;
  d_out: number | null;
  eval_json: string | null;
}

const toRecord = (r: SaeRow): SaeRecord => ({
  id: r.id,
  name: r.name,
  folder: r.folder,
  architecture: r.architecture,
  dIn: r.d_in,
  dSae: r.d_sae,
  k: r.k,
  hookName: r.hook_name,
  modelName: r.model_name,
  source: r.source,
  createdAt: r.created_at,
  jobId: r.job_id,
  hookNameOut: r.hook_name_out,
  dOut: r.d_out,
  evaluation: r.eval_json ? (JSON.parse(r.eval_json) as SaeEvaluation) : null,
});

export class SaeStore {
  constructor(
    private readonly db: Db,
    private readonly workspaceDir: string,
  ) {}

  list(): SaeRecord[] {
    return (this.db.prepare('SELECT * FROM saes ORDER BY id').all() as SaeRow[]).map(toRecord);
  }

  get(id: number): SaeRecord {
    const row = this.db.prepare('SELECT * FROM saes WHERE id = ?').get(id) as SaeRow | undefined;
    if (!row) throw new OcularError('not_found', `No SAE with id ${id}.`);
    return toRecord(row);
  }

  /** Stores an SAE (from a file in any supported format) in the workspace. */
  add(sae: Omit<SaeFile, 'format'>, name: string, source: 'import' | 'trained', jobId: number | null = null): SaeRecord {
    const insert = this.db.transaction(() => {
      const info = this.db
        .prepare(
          'INSERT INTO saes (name, folder, architecture, d_in, d_sae, k, hook_name, model_name, source, created_at, job_id, hook_name_out, d_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          name,
          '',
          sae.architecture,
          sae.dIn,
          sae.dSae,
          sae.k ?? null,
          sae.hookName,
          sae.modelName,
          source,
          new Date().toISOString(),
          jobId,
          sae.hookNameOut ?? null,
          sae.dOut ?? null,
        );
      const id = Number(info.lastInsertRowid);
      const folder = rel.sae(id);
      // Write the files inside the transaction: if writing fails (a full disk), the row is rolled back.
      // The folder appears whole or not at all; one left by a rolled-back insert of the same id is replaced.
      writeSaeFolder(sae, path.join(this.workspaceDir, folder), { replace: true });
      this.db.prepare('UPDATE saes SET folder = ? WHERE id = ?').run(folder, id);
      return id;
    });
    return this.get(insert());
  }

  /** The SAE a training job stored (null until it finishes). */
  byJob(jobId: number): SaeRecord | null {
    const row = this.db.prepare('SELECT * FROM saes WHERE job_id = ?').get(jobId) as SaeRow | undefined;
    return row ? toRecord(row) : null;
  }

  /** Every SAE a job stored (a transcoder set stores one per layer), in id order. */
  allByJob(jobId: number): SaeRecord[] {
    return (this.db.prepare('SELECT * FROM saes WHERE job_id = ? ORDER BY id').all(jobId) as SaeRow[]).map(toRecord);
  }

  setEvaluation(id: number, evaluation: SaeEvaluation): void {
    this.get(id);
    this.db.prepare('UPDATE saes SET eval_json = ? WHERE id = ?').run(JSON.stringify(evaluation), id);
  }

  load(id: number): SaeFile {
    return importSae(path.join(this.workspaceDir, this.get(id).folder));
  }

  /** Writes a folder SAELens 6 loads for an SAE in the workspace (a new or empty folder only). */
  export(id: number, dir: string): string {
    return exportSae(this.load(id), dir);
  }
}
