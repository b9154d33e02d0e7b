/** Everything that exists while a workspace is open: the store, its job runner and the stores over it. */
import type { WorkspaceInfo } from '../../contract/contract.js';
import type { DatasetStore } from '../datasets/dataset-store.js';
import type { EvalStore } from '../eval/eval-store.js';
import type { HarvestStore } from '../harvest/harvest-store.js';
import { JobRunner, type JobRunnerOptions } from '../jobs/job-runner.js';
import type { ModelRegistry } from '../model/registry.js';
import type { WorkspaceLayout } from '../store/layout.js';
import { Stores } from '../store/stores.js';
import type { Workspace } from '../store/workspace.js';

export class OpenWorkspace {
  readonly runner: JobRunner;
  /** Every record store over the backend's connection (jobs get the same bundle over their own). */
  readonly stores: Stores;

  constructor(
    readonly ws: Workspace,
    runnerOptions: JobRunnerOptions,
  ) {
    this.runner = new JobRunner(ws, runnerOptions);
    if (!ws.readOnly) this.runner.recover();
    this.stores = new Stores(ws.db, ws.dir);
  }

  get layout(): WorkspaceLayout {
    return this.stores.layout;
  }
  get models(): ModelRegistry {
    return this.stores.models;
  }
  get datasets(): DatasetStore {
    return this.stores.datasets;
  }
  get evals(): EvalStore {
    return this.stores.evals;
  }
  get harvests(): HarvestStore {
    return this.stores.harvests;
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
