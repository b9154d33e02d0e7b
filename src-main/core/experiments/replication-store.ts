/** Replications: experiments grouped as one spec over SAEs of different seeds; results computed on read from theirs. */
import type { ReplicationRecord } from '../../contract/contract.js';
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';
import type { ExperimentStore } from './experiment-store.js';
import { checkReplicates, replicatedEffects } from './replication.js';

interface Row {
  id: number;
  name: string;
  experiment_ids_json: string;
  created_at: string;
}

export class ReplicationStore {
  constructor(
    private readonly db: Db,
    private readonly experiments: ExperimentStore,
    /** An SAE's training seed (null for an import). */
    private readonly saeSeed: (saeId: number) => number | null,
  ) {}

  /** Group experiments (checked to be one spec over different SAEs). */
  create(name: string, experimentIds: number[]): ReplicationRecord {
    checkReplicates(experimentIds.map((id) => this.experiments.get(id).spec));
    const info = this.db
      .prepare('INSERT INTO experiment_replications (name, experiment_ids_json, created_at) VALUES (?, ?, ?)')
      .run(name, JSON.stringify(experimentIds), new Date().toISOString());
    return this.get(Number(info.lastInsertRowid));
  }

  get(id: number): ReplicationRecord {
    const r = this.db.prepare('SELECT * FROM experiment_replications WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new OcularError('not_found', `No replication with id ${id}.`);
    return this.toRecord(r);
  }

  list(): ReplicationRecord[] {
    return (this.db.prepare('SELECT * FROM experiment_replications ORDER BY id DESC').all() as Row[]).map((r) => this.toRecord(r));
  }

  private toRecord(r: Row): ReplicationRecord {
    const experimentIds = JSON.parse(r.experiment_ids_json) as number[];
    const runs = experimentIds.map((id) => {
      const experiment = this.experiments.get(id);
      return { experiment, saeSeed: this.saeSeed(experiment.spec.saeId) };
    });
    const effects = replicatedEffects(runs);
    return {
      id: r.id,
      name: r.name,
      experimentIds,
      results: effects && { seeds: runs.length, ciMethod: 'student-t', effects },
      createdAt: r.created_at,
    };
  }
}
