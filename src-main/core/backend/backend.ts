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
  type ContractErrorPayload,
  type Channel,
  type Job,
  type ModelRecord,
  type RequestOf,
  type ResponseOf,
  type WorkspaceInfo,
} from '../../contract/contract.js';
import { OcularError, WorkspaceError, errorMessage } from '../errors.js';
import { faultMessage } from '../util/faults.js';
import { SessionPool } from '../runtime/session-pool.js';
import { runTask } from '../tasks/run-task.js';
import { jobKinds } from '../jobs/registry.js';
import { DB_FILE, Workspace } from '../store/workspace.js';
import { analysisHandlers } from './handlers/analysis-handlers.js';
import { autointerpHandlers } from './handlers/autointerp-handlers.js';
import { diffHandlers } from './handlers/diff-handlers.js';
import { experimentHandlers } from './handlers/experiment-handlers.js';
import { dataHandlers } from './handlers/data-handlers.js';
import { modelHandlers } from './handlers/model-handlers.js';
import { saeHandlers } from './handlers/sae-handlers.js';
import { circuitHandlers } from './handlers/circuits-handlers.js';
import { circuitViewHandlers } from './handlers/circuit-view-handlers.js';
import type { HandlerContext, Handlers } from './handlers/types.js';
import { workbenchHandlers } from './handlers/workbench-handlers.js';
import { startDemo } from './demo.js';
import { OpenWorkspace } from './open-workspace.js';
import { RecentWorkspaces } from './recent-workspaces.js';
import { VERSION } from '../version.js';
import { compareTaps, parseTap } from '../../contract/tap-names.js';

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
/** The decoder's residual-stream taps in layer order; the demo harvests them all and trains on the first one by default. */
/** A model's residual-stream taps of the decoder or the vision tower, in layer order. */
export function residPostTaps(model: ModelRecord, stream: 'decoder' | 'vision' = 'decoder'): string[] {
  const names = model.report.components
    .flatMap((c) => c.tower?.taps.map((t) => t.name) ?? [])
    .filter((n) => parseTap(n)?.stream === stream && parseTap(n)?.hook === 'hook_resid_post');
  return [...new Set(names)].sort(compareTaps);
}

export function defaultConfigDir(): string {
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? os.homedir(), 'Ocular');
  return path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'ocular');
}

export class Backend {
  private current: OpenWorkspace | null = null;
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
    const ctx: HandlerContext = {
      options,
      open: () => this.open(),
      startedPool: () => this.pool,
      sessionPool: () => this.sessionPool(),
      changed: () => this.emit({ type: 'workspace.changed', workspace: this.current?.info() ?? null }),
    };
    this.handlers = {
      ...this.lifecycleHandlers(),
      ...modelHandlers(ctx),
      ...dataHandlers(ctx),
      ...saeHandlers(ctx),
      ...circuitHandlers(ctx),
      ...circuitViewHandlers(ctx),
      ...analysisHandlers(ctx),
      ...experimentHandlers(ctx),
      ...autointerpHandlers(ctx),
      ...diffHandlers(ctx),
      ...workbenchHandlers(ctx),
    };
  }

  onEvent(listener: (event: BackendEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * One contract call typed by its channel, for the CLI and tests: the same validation as invoke(),
   * with an error envelope thrown as an OcularError carrying its code and message.
   */
  async call<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
    const r = await this.invoke(channel, request);
    if (!r.ok) throw new OcularError(r.error.code, r.error.message);
    return r.result as ResponseOf<C>;
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
      const fault = faultMessage(err);
      return fail('internal', `'${channelName}' failed: ${fault ?? errorMessage(err)}`);
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
   * The demo pipeline on the bundled model (or one given), one job after another: generate the
   * benchmark, evaluate the model on it, harvest every decoder layer, train a TopK SAE on one, analyse
   * its features, probe the layers, run an ablation experiment with controls (the stages: demo.ts). Each
   * stage starts when the previous one succeeds; the returned job is the first.
   *
   * The SAE defaults to the first decoder layer's residual stream: in the bundled model that is where
   * image tokens still carry per-patch colour and shape (colour- and shape-pure SAE features exist
   * there, none at blocks.1 or blocks.2), and layer 1's attention reads the question's referents from
   * it, so ablating features there changes answers (measured; docs/ARCHITECTURE.md). Deeper models
   * want a deeper tap: pass `saeTap`.
   */
  async startDemo(
    perCell: number,
    modelPath = this.demoModelPath(),
    saeTapName?: string,
    seeds = 1,
  ): Promise<{ model: ModelRecord; job: Job }> {
    if (!modelPath) throw new OcularError('not_found', `This installation has no bundled demo model (resources/${DEMO_MODEL_DIR}).`);
    const open = this.open();
    const { models } = open;
    const model =
      models.list().find((m) => m.path === path.resolve(modelPath)) ??
      models.add(await runTask(this.options.taskWorkerEntry, 'inspectModel', modelPath), 'ocular-demo-vlm');
    const decoderTaps = residPostTaps(model);
    if (decoderTaps.length === 0) throw new OcularError('invalid_request', `${model.name} has no decoder residual-stream taps to harvest.`);
    const known = [...decoderTaps, ...residPostTaps(model, 'vision')];
    if (saeTapName !== undefined && !known.includes(saeTapName))
      throw new OcularError(
        'invalid_request',
        `${model.name} has no tap '${saeTapName}'; its residual-stream taps are ${known.join(', ')}.`,
      );
    const saeTap = saeTapName ?? decoderTaps[0]!;
    // A vision-tower SAE: that tap is harvested too (demo.ts picks its features by their image-patch means).
    const taps = saeTap.startsWith('vision.') ? [...decoderTaps, saeTap] : decoderTaps;
    const job = startDemo(open, { model, taps, saeTap, perCell, seeds }, () => this.current === open);
    return { model, job };
  }

  /** Start any job kind with any params: for trusted local callers (the CLI), never a transport. */
  startTrustedJob(kind: string, params: unknown): Job {
    return this.open().runner.start(kind, params);
  }

  /** The open workspace's folder, for transports that serve its files. */
  workspaceDir(): string | null {
    return this.current?.dir ?? null;
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

  private open(): OpenWorkspace {
    if (!this.current) throw new WorkspaceError('No workspace is open. Create or open one first.');
    return this.current;
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
    const current = new OpenWorkspace(ws, {
      workerEntry: this.options.workerEntry,
      maxConcurrent: this.options.maxConcurrentJobs,
      pool: () => this.sessionPool(),
    });
    current.runner.on('updated', (job) => this.emit({ type: 'job.updated', job }));
    this.current = current;
    this.workspaceError = null;
    try {
      this.recent.remember(ws.dir);
    } catch {
      /* the recent list is a convenience; never fail an open over it */
    }
    const info = current.info();
    this.emit({ type: 'workspace.changed', workspace: info });
    return info;
  }

  private async closeWorkspace(): Promise<boolean> {
    if (!this.current) return false;
    const closing = this.current;
    this.current = null;
    await closing.close();
    this.emit({ type: 'workspace.changed', workspace: null });
    return true;
  }

  /** Channels that open, close and describe the workspace, run jobs and report on the runtime. */
  private lifecycleHandlers(): Pick<
    Handlers,
    | 'app.info'
    | 'workspace.create'
    | 'workspace.open'
    | 'workspace.close'
    | 'workspace.recent'
    | 'jobs.list'
    | 'jobs.get'
    | 'jobs.start'
    | 'jobs.cancel'
    | 'jobs.resume'
    | 'runtime.diagnostics'
    | 'demo.start'
  > {
    return {
      'app.info': (): AppInfo => ({
        version: VERSION,
        transport: this.options.transport,
        readOnly: this.readOnly,
        pinnedWorkspace: this.pinnedWorkspace,
        workspace: this.current?.info() ?? null,
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
      'jobs.list': (req) => this.open().runner.store.list(req.limit),
      'jobs.get': (req) => this.open().runner.get(req.id),
      'jobs.start': (req) => {
        const kind = jobKinds().find((k) => k.kind === req.kind);
        if (kind && !kind.startFromUi)
          throw new OcularError('invalid_request', `Jobs of kind '${req.kind}' are started by their own command, not by jobs.start.`);
        return this.open().runner.start(req.kind, req.params);
      },
      'jobs.cancel': (req) => this.open().runner.cancel(req.id),
      'jobs.resume': (req) => this.open().runner.resume(req.id),
      'runtime.diagnostics': () => this.sessionPool().diagnostics(),
      'demo.start': (req) => this.startDemo(req.perCell, undefined, undefined, req.seeds),
    };
  }
}

function fail(code: ContractErrorPayload['code'], message: string): Envelope {
  return { ok: false, error: { code, message } };
}
