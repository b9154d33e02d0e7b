/**
 * Every record store over one workspace connection, in one bundle handed alike to the backend's
 * handlers (over the backend's connection) and to jobs (over their worker's own connection). Each
 * store is made on first use, so a job pays only for what it touches.
 */
import { AnalysisStore } from '../analysis/analysis-store.js';
import { LabelStore } from '../analysis/label-store.js';
import { ExplanationStore } from '../autointerp/explanation-store.js';
import { DatasetStore } from '../datasets/dataset-store.js';
import { EvalStore } from '../eval/eval-store.js';
import { ExperimentStore } from '../experiments/experiment-store.js';
import { ReplicationStore } from '../experiments/replication-store.js';
import { JobStore } from '../jobs/job-store.js';
import { HarvestStore } from '../harvest/harvest-store.js';
import { ModelRegistry } from '../model/registry.js';
import { ProbeStore } from '../probes/probe-store.js';
import { SaeStore } from '../sae/sae-store.js';
import { TrainMetricsStore } from '../sae/train-metrics.js';
import { WorkspaceLayout } from './layout.js';
import { openWorkerDb, type Db } from './sqlite.js';

export class Stores {
  readonly layout: WorkspaceLayout;
  private readonly made = new Map<string, unknown>();

  constructor(
    readonly db: Db,
    readonly dir: string,
  ) {
    this.layout = new WorkspaceLayout(dir);
  }

  private once<T>(name: string, make: () => T): T {
    if (!this.made.has(name)) this.made.set(name, make());
    return this.made.get(name) as T;
  }

  get models(): ModelRegistry {
    return this.once('models', () => new ModelRegistry(this.db));
  }
  get datasets(): DatasetStore {
    return this.once('datasets', () => new DatasetStore(this.db));
  }
  get evals(): EvalStore {
    return this.once('evals', () => new EvalStore(this.db));
  }
  get harvests(): HarvestStore {
    return this.once('harvests', () => new HarvestStore(this.db, this.dir));
  }
  get saes(): SaeStore {
    return this.once('saes', () => new SaeStore(this.db, this.dir));
  }
  get trainMetrics(): TrainMetricsStore {
    return this.once('trainMetrics', () => new TrainMetricsStore(this.db));
  }
  get analyses(): AnalysisStore {
    return this.once('analyses', () => new AnalysisStore(this.db));
  }
  get labels(): LabelStore {
    return this.once('labels', () => new LabelStore(this.db));
  }
  get experiments(): ExperimentStore {
    return this.once('experiments', () => new ExperimentStore(this.db));
  }
  get replications(): ReplicationStore {
    return this.once('replications', () => new ReplicationStore(this.db, this.experiments, (saeId) => this.saeSeed(saeId)));
  }
  /** A trained SAE's seed, from its training job's params (null for an import). */
  saeSeed(saeId: number): number | null {
    const jobId = this.saes.get(saeId).jobId;
    const seed = jobId === null ? undefined : (new JobStore(this.db).get(jobId)?.params as { seed?: unknown } | undefined)?.seed;
    return typeof seed === 'number' ? seed : null;
  }
  get explanations(): ExplanationStore {
    return this.once('explanations', () => new ExplanationStore(this.db));
  }
  get probes(): ProbeStore {
    return this.once('probes', () => new ProbeStore(this.db));
  }
}

/**
 * Run `use` with the stores over a job worker's own connection to the workspace at `dir`, closed
 * afterwards whatever happens.
 */
export async function withWorkerStores<T>(dir: string, use: (stores: Stores) => Promise<T> | T): Promise<T> {
  const db = openWorkerDb(new WorkspaceLayout(dir).db);
  try {
    return await use(new Stores(db, dir));
  } finally {
    db.close();
  }
}
