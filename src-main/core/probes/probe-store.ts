/** Probe runs: spec and per-layer results. */
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';
import type { ProbeRecord, ProbeSpec, probeResultsSchema } from '../../contract/contract.js';
import type { z } from 'zod';

interface Row {
  id: number;
  job_id: number | null;
  harvest_id: number;
  spec_json: string;
  results_json: string | null;
  created_at: string;
}
const toRecord = (r: Row): ProbeRecord => ({
  id: r.id,
  jobId: r.job_id,
  harvestId: r.harvest_id,
  spec: JSON.parse(r.spec_json) as ProbeSpec,
  results: r.results_json ? JSON.parse(r.results_json) : null,
  createdAt: r.created_at,
});

export class ProbeStore {
  constructor(private readonly db: Db) {}
  create(spec: ProbeSpec): ProbeRecord {
    const info = this.db
      .prepare('INSERT INTO probes (harvest_id, spec_json, created_at) VALUES (?, ?, ?)')
      .run(spec.harvestId, JSON.stringify(spec), new Date().toISOString());
    return this.get(Number(info.lastInsertRowid));
  }
  attachJob(id: number, jobId: number): void {
    this.db.prepare('UPDATE probes SET job_id = ? WHERE id = ?').run(jobId, id);
  }
  list(): ProbeRecord[] {
    return (this.db.prepare('SELECT * FROM probes ORDER BY id DESC').all() as Row[]).map(toRecord);
  }
  get(id: number): ProbeRecord {
    const r = this.db.prepare('SELECT * FROM probes WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new OcularError('not_found', `No probe run with id ${id}.`);
    return toRecord(r);
  }
  saveResults(id: number, results: z.infer<typeof probeResultsSchema>): void {
    this.db.prepare('UPDATE probes SET results_json = ? WHERE id = ?').run(JSON.stringify(results), id);
  }
}
