/** Everything that exists while a workspace is open: the store, its job runner and the stores over it. */
import type { WorkspaceInfo } from '../../contract/contract.js';
import { DatasetStore } from '../datasets/dataset-store.js';
import { EvalStore } from '../eval/eval-store.js';
import { HarvestStore } from '../harvest/harvest-store.js';
import { JobRunner, type JobRunnerOptions } from '../jobs/job-runner.js';
import { ModelRegistry } from '../model/registry.js';
import type { Workspace } from '../store/workspace.js';

export class OpenWorkspace {
  readonly runner: JobRunner;
  readonly models: ModelRegistry;
  readonly datasets: DatasetStore;
  readonly evals: EvalStore;
  readonly harvests: HarvestStore;

  constructor(
    readonly ws: Workspace,
    runnerOptions: JobRunnerOptions,
  ) {
    this.runner = new JobRunner(ws, runnerOptions);
    if (!ws.readOnly) this.runner.recover();
    this.models = new ModelRegistry(ws.db);
    this.datasets = new DatasetStore(ws.db);
    this.evals = new EvalStore(ws.db);
    this.harvests = new HarvestStore(ws.db, ws.dir);
  }

  get dir(): string {
    return this.ws.dir;
  }

  info(): WorkspaceInfo {
    return {
      path: this.ws.dir,
      schemaVersion: this.ws.schemaVersion(),
      createdAt: this.ws.meta('created_at') ?? '',
      recoveredFromUncleanShutdown: this.ws.recoveredFromUncleanShutdown,
      counts: { jobs: this.runner.store.count(), models: this.models.count(), datasets: this.datasets.list().length },
    };
  }

  async close(): Promise<void> {
    await this.runner.shutdown();
    this.ws.close();
  }
}
