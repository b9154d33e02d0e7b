/**
 * The backend: the open workspace, the job runner and the contract's handlers. It imports nothing
 * from Electron. Both transports hand it (channel, payload) pairs and forward its events; it is the
 * single place where requests are validated and read-only mode is enforced.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  contract,
  isChannel,
  type AppInfo,
  type BackendEvent,
  type Channel,
  type ContractErrorPayload,
  type Job,
  type ModelRecord,
  type ParsedRequestOf,
  type ResponseOf,
  type WorkspaceInfo,
} from '../../contract/contract.js';
import { OcularError, WorkspaceError, errorMessage } from '../errors.js';
import { JobRunner } from '../jobs/job-runner.js';
import { ModelRegistry } from '../model/registry.js';
import { DatasetStore } from '../datasets/dataset-store.js';
import { EvalStore } from '../eval/eval-store.js';
import { HarvestStore } from '../harvest/harvest-store.js';
import { estimateHarvest, freeDiskBytes } from '../harvest/estimate.js';
import { SessionPool } from '../runtime/session-pool.js';
import { runTask } from '../tasks/run-task.js';
import { jobKinds } from '../jobs/registry.js';
import { DB_FILE, Workspace } from '../store/workspace.js';
import { RecentWorkspaces } from './recent-workspaces.js';
import { VERSION } from '../version.js';

export type Envelope<T = unknown> = { ok: true; result: T } | { ok: false; error: ContractErrorPayload };

export interface BackendOptions {
  transport: 'electron' | 'http';
  readOnly?: boolean;
  /** Pin the backend to one workspace folder (serve mode): create/open act on it alone. */
  pinnedWorkspace?: string;
  /** Folder for per-user state such as the recent-workspaces list. */
  configDir?: string;
  workerEntry: string;
  /** Entry of the one-off task worker (graph parsing and other work kept off the serving thread). */
  taskWorkerEntry: string;
  /** Session-pool host entry; the pool starts on first use. */
  sessionHostEntry?: string;
  /** Environment for pool processes (ELECTRON_RUN_AS_NODE inside the app). */
  sessionHostEnv?: NodeJS.ProcessEnv;
  maxConcurrentJobs?: number;
  /** resources/ folder: the bundled demo model lives in resources/models/ocular-demo-vlm. */
  resourcesDir?: string;
}

export const DEMO_MODEL_DIR = path.join('models', 'ocular-demo-vlm');

type Handlers = { [C in Channel]: (req: ParsedRequestOf<C>) => Promise<ResponseOf<C>> | ResponseOf<C> };

export function defaultConfigDir(): string {
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? os.homedir(), 'Ocular');
  return path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'ocular');
}

export class Backend {
  private workspace: Workspace | null = null;
  private runner: JobRunner | null = null;
  private models: ModelRegistry | null = null;
  private datasets: DatasetStore | null = null;
  private evals: EvalStore | null = null;
  private harvests: HarvestStore | null = null;
  private pool: SessionPool | null = null;
  private workspaceError: string | null = null;
  private readonly listeners = new Set<(event: BackendEvent) => void>();
  private readonly recent: RecentWorkspaces;
  private readonly handlers: Handlers;
  readonly readOnly: boolean;
  readonly pinnedWorkspace: string | null;

  constructor(private readonly options: BackendOptions) {
    this.readOnly = options.readOnly ?? false;
    this.pinnedWorkspace = options.pinnedWorkspace ? path.resolve(options.pinnedWorkspace) : null;
    this.recent = new RecentWorkspaces(options.configDir ?? defaultConfigDir());
    this.handlers = this.createHandlers();
  }

  onEvent(listener: (event: BackendEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Validate and run one contract call. Never throws: errors come back in the envelope. */
  async invoke(channelName: unknown, payload: unknown): Promise<Envelope> {
    if (!isChannel(channelName)) {
      return fail('unknown_channel', `Unknown channel ${JSON.stringify(channelName)}.`);
    }
    const def = contract[channelName];
    if (def.mutates && this.readOnly) {
      return fail('read_only', `This workspace is open read-only: '${channelName}' would change it and was refused.`);
    }
    const parsed = def.request.safeParse(payload ?? {});
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ');
      return fail('invalid_request', `Invalid request for '${channelName}': ${detail}`);
    }
    try {
      const handler = this.handlers[channelName] as (req: unknown) => unknown;
      const result = await handler(parsed.data);
      return { ok: true, result };
    } catch (err) {
      if (err instanceof OcularError) return fail(err.code, err.message);
      return fail('internal', `'${channelName}' failed: ${errorMessage(err)}`);
    }
  }

  /** Open the pinned workspace if it exists; an error is kept for app.info rather than thrown. */
  openPinnedIfPresent(): void {
    // A folder with no database yet is the expected first run: the UI offers to create it.
    if (!this.pinnedWorkspace || !fs.existsSync(path.join(this.pinnedWorkspace, DB_FILE))) return;
    try {
      this.openWorkspace(this.pinnedWorkspace);
    } catch (err) {
      this.workspaceError = errorMessage(err);
    }
  }

  /** The bundled demo model folder, when this installation has one. */
  demoModelPath(): string | null {
    if (!this.options.resourcesDir) return null;
    const dir = path.join(this.options.resourcesDir, DEMO_MODEL_DIR);
    return fs.existsSync(path.join(dir, 'onnx', 'decoder_model_merged.onnx')) ? dir : null;
  }

  /**
   * Demo: register a model (the bundled one unless given), generate the benchmark, and evaluate the
   * model on it as soon as the benchmark job succeeds. Returns the benchmark job.
   */
  async startDemo(perCell: number, modelPath = this.demoModelPath()): Promise<{ model: ModelRecord; job: Job }> {
    if (!modelPath) throw new OcularError('not_found', `This installation has no bundled demo model (resources/${DEMO_MODEL_DIR}).`);
    const { models, runner, dir, evals, datasets } = this.requireStores();
    const model = models.list().find((m) => m.path === path.resolve(modelPath)) ?? models.add(await runTask(this.options.taskWorkerEntry, 'inspectModel', modelPath), 'ocular-demo-vlm');
    const name = `benchmark seed 0 x${perCell}`;
    const job = runner.start('dataset-synth', { seed: 0, perCell, imageSize: 96, dest: path.join(dir, 'datasets', `demo-seed0-n${perCell}`), name });
    const onUpdate = (updated: Job) => {
      if (updated.id !== job.id || ['queued', 'running'].includes(updated.state)) return;
      runner.off('updated', onUpdate);
      if (updated.state !== 'succeeded') return;
      const datasetId = (updated.result as { datasetId: number }).datasetId;
      datasets.get(datasetId);
      const record = evals.create(model.path, datasetId, { maxNewTokens: 8, promptTemplate: '{question}', batchSize: 16, limit: null, device: 'auto' });
      evals.attachJob(record.id, runner.start('evaluate', { evalId: record.id }).id);
    };
    runner.on('updated', onUpdate);
    return { model, job };
  }

  /** Start any job kind with any params: for trusted local callers (the CLI), never a transport. */
  startTrustedJob(kind: string, params: unknown): Job {
    return this.requireRunner().start(kind, params);
  }

  /** The open workspace's folder, for transports that serve its files. */
  workspaceDir(): string | null {
    return this.workspace?.dir ?? null;
  }

  async close(): Promise<void> {
    await this.closeWorkspace();
    await this.pool?.close();
    this.pool = null;
  }

  /** The ONNX Runtime session pool, started on first use (it costs processes). */
  sessionPool(): SessionPool {
    if (!this.options.sessionHostEntry) throw new OcularError('internal', 'This Ocular build has no ONNX Runtime session host.');
    this.pool ??= new SessionPool({ hostEntry: this.options.sessionHostEntry, env: this.options.sessionHostEnv, size: 2 });
    return this.pool;
  }

  private emit(event: BackendEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private resolveTarget(requested: string | undefined): string {
    if (this.pinnedWorkspace) {
      if (requested && path.resolve(requested) !== this.pinnedWorkspace) {
        throw new OcularError('conflict', `This server is pinned to the workspace ${this.pinnedWorkspace}; it cannot open ${requested}.`);
      }
      return this.pinnedWorkspace;
    }
    if (!requested) throw new OcularError('invalid_request', 'A workspace folder path is required.');
    return path.resolve(requested);
  }

  private openWorkspace(dir: string, create = false): WorkspaceInfo {
    const ws = create ? Workspace.create(dir) : Workspace.open(dir, { readOnly: this.readOnly });
    const runner = new JobRunner(ws, {
      workerEntry: this.options.workerEntry,
      maxConcurrent: this.options.maxConcurrentJobs,
      pool: () => this.sessionPool(),
    });
    if (!ws.readOnly) runner.recover();
    runner.on('updated', (job) => this.emit({ type: 'job.updated', job }));
    this.workspace = ws;
    this.runner = runner;
    this.models = new ModelRegistry(ws.db);
    this.datasets = new DatasetStore(ws.db);
    this.evals = new EvalStore(ws.db);
    this.harvests = new HarvestStore(ws.db, ws.dir);
    this.workspaceError = null;
    try {
      this.recent.remember(ws.dir);
    } catch {
      /* the recent list is a convenience; never fail an open over it */
    }
    const info = this.workspaceInfo()!;
    this.emit({ type: 'workspace.changed', workspace: info });
    return info;
  }

  private async closeWorkspace(): Promise<boolean> {
    if (!this.workspace) return false;
    await this.runner?.shutdown();
    this.workspace.close();
    this.workspace = null;
    this.runner = null;
    this.models = null;
    this.datasets = null;
    this.evals = null;
    this.harvests = null;
    this.emit({ type: 'workspace.changed', workspace: null });
    return true;
  }

  private workspaceInfo(): WorkspaceInfo | null {
    const ws = this.workspace;
    if (!ws || !this.runner) return null;
    return {
      path: ws.dir,
      schemaVersion: ws.schemaVersion(),
      createdAt: ws.meta('created_at') ?? '',
      recoveredFromUncleanShutdown: ws.recoveredFromUncleanShutdown,
      counts: { jobs: this.runner.store.count(), models: this.models?.count() ?? 0, datasets: this.datasets?.list().length ?? 0 },
    };
  }

  private requireStores(): { datasets: DatasetStore; evals: EvalStore; harvests: HarvestStore; models: ModelRegistry; runner: JobRunner; dir: string } {
    if (!this.datasets || !this.evals || !this.harvests || !this.models || !this.runner || !this.workspace) throw new WorkspaceError('No workspace is open. Create or open one first.');
    return { datasets: this.datasets, evals: this.evals, harvests: this.harvests, models: this.models, runner: this.runner, dir: this.workspace.dir };
  }

  private requireModels(): ModelRegistry {
    if (!this.models) throw new WorkspaceError('No workspace is open. Create or open one first.');
    return this.models;
  }

  private requireRunner(): JobRunner {
    if (!this.runner) throw new WorkspaceError('No workspace is open. Create or open one first.');
    return this.runner;
  }

  private createHandlers(): Handlers {
    return {
      'app.info': (): AppInfo => ({
        version: VERSION,
        transport: this.options.transport,
        readOnly: this.readOnly,
        pinnedWorkspace: this.pinnedWorkspace,
        workspace: this.workspaceInfo(),
        workspaceError: this.workspaceError,
        demoAvailable: this.demoModelPath() !== null,
        jobKinds: jobKinds().map((k) => ({ kind: k.kind, title: k.title, resumable: k.resumable, startFromUi: k.startFromUi })),
      }),
      'workspace.create': async (req) => {
        const target = this.resolveTarget(req.path);
        await this.closeWorkspace();
        return this.openWorkspace(target, true);
      },
      'workspace.open': async (req) => {
        const target = this.resolveTarget(req.path);
        await this.closeWorkspace();
        try {
          return this.openWorkspace(target);
        } catch (err) {
          this.workspaceError = errorMessage(err);
          throw err;
        }
      },
      'workspace.close': async () => ({ closed: await this.closeWorkspace() }),
      'workspace.recent': () => this.recent.list(),
      'jobs.list': (req) => this.requireRunner().store.list(req.limit),
      'jobs.get': (req) => this.requireRunner().get(req.id),
      'jobs.start': (req) => {
        const kind = jobKinds().find((k) => k.kind === req.kind);
        if (kind && !kind.startFromUi) throw new OcularError('invalid_request', `Jobs of kind '${req.kind}' are started by their own command, not by jobs.start.`);
        return this.requireRunner().start(req.kind, req.params);
      },
      'jobs.cancel': (req) => this.requireRunner().cancel(req.id),
      'jobs.resume': (req) => this.requireRunner().resume(req.id),
      'runtime.diagnostics': () => this.sessionPool().diagnostics(),
      'demo.start': (req) => this.startDemo(req.perCell),
      'datasets.list': () => this.requireStores().datasets.list(),
      'datasets.import': async (req) => {
        const { datasets } = this.requireStores();
        const folder = await runTask(this.options.taskWorkerEntry, 'readDatasetFolder', req.path, {});
        const record = datasets.insert(folder, req.name ?? path.basename(folder.dir));
        this.emit({ type: 'workspace.changed', workspace: this.workspaceInfo() });
        return record;
      },
      'datasets.synth': (req) => {
        const { runner, dir } = this.requireStores();
        const name = `benchmark seed ${req.seed} x${req.perCell}`;
        const dest = path.join(dir, 'datasets', `synth-seed${req.seed}-n${req.perCell}-${req.imageSize}px`);
        return runner.start('dataset-synth', { ...req, dest, name });
      },
      'datasets.remove': (req) => {
        const removed = this.requireStores().datasets.remove(req.id);
        this.emit({ type: 'workspace.changed', workspace: this.workspaceInfo() });
        return { removed };
      },
      'evals.start': (req) => {
        const { models, datasets, evals, runner } = this.requireStores();
        const model = models.get(req.modelId);
        datasets.get(req.datasetId);
        const record = evals.create(model.path, req.datasetId, { maxNewTokens: req.maxNewTokens, promptTemplate: req.promptTemplate, batchSize: req.batchSize, limit: req.limit, device: req.device });
        const job = runner.start('evaluate', { evalId: record.id });
        evals.attachJob(record.id, job.id);
        return { eval: evals.get(record.id), job };
      },
      'harvests.start': (req) => {
        const { models, datasets, harvests, runner, dir } = this.requireStores();
        const model = models.get(req.modelId);
        const dataset = datasets.get(req.datasetId);
        const estimate = estimateHarvest(model, dataset.items, req);
        const freeBytes = freeDiskBytes(dir);
        if (freeBytes !== null && estimate > freeBytes) {
          throw new OcularError('workspace', `This harvest needs about ${(estimate / 1e9).toFixed(2)} GB but the workspace disk has ${(freeBytes / 1e9).toFixed(2)} GB free. Harvest fewer items, taps or token kinds, or use fp16.`);
        }
        const { modelId: _m, datasetId: _d, ...params } = req;
        const harvest = harvests.create(model.path, dataset.id, params);
        const job = runner.start('harvest', { harvestId: harvest.id });
        harvests.attachJob(harvest.id, job.id);
        return { harvest: harvests.get(harvest.id), job, estimate: { bytes: estimate, freeBytes } };
      },
      'harvests.estimate': (req) => {
        const { models, datasets, dir } = this.requireStores();
        return { bytes: estimateHarvest(models.get(req.modelId), datasets.get(req.datasetId).items, req), freeBytes: freeDiskBytes(dir) };
      },
      'harvests.list': () => this.requireStores().harvests.list(),
      'evals.list': () => this.requireStores().evals.list(),
      'evals.get': (req) => this.requireStores().evals.summary(req.id),
      'evals.predictions': (req) => this.requireStores().evals.predictions(req.id, req),
      'evals.export': (req) => this.requireStores().evals.export(req.id, req.format),
      'models.list': () => this.requireModels().list(),
      'models.add': async (req) => {
        const models = this.requireModels();
        const report = await runTask(this.options.taskWorkerEntry, 'inspectModel', req.path);
        const record = models.add(report, req.name);
        this.emit({ type: 'workspace.changed', workspace: this.workspaceInfo() });
        return record;
      },
      'models.download': (req) => {
        const runner = this.requireRunner();
        const dest = path.join(this.workspace!.dir, 'models', ...req.repo.split('/'));
        return runner.start('model-download', { ...req, dest });
      },
      'models.get': (req) => this.requireModels().get(req.id),
      'models.remove': async (req) => {
        const models = this.requireModels();
        const record = models.get(req.id);
        // Free the sessions its graphs hold in the pool, so removing a model releases its memory.
        if (this.pool) for (const c of record.report.components) await this.pool.releaseModel(path.join(record.path, c.file));
        const removed = models.remove(req.id);
        this.emit({ type: 'workspace.changed', workspace: this.workspaceInfo() });
        return { removed };
      },
    };
  }
}

function fail(code: ContractErrorPayload['code'], message: string): Envelope {
  return { ok: false, error: { code, message } };
}
