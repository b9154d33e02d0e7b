/**
 * Starts and supervises the backend utility process. Calls are forwarded with an id and resolved
 * when the backend answers. If the backend dies, pending calls fail with a clear message and a new
 * backend is started, so a crash in the store or a job never takes the window down.
 *
 * Restarts back off: a backend that dies soon after it started is restarted after a doubling delay,
 * and after a few such deaths in a row the host stops trying and reports the backend stopped, with
 * the reason (exit code, V8 fatal error, its last stderr lines). The renderer shows that state and
 * can ask for a fresh start. Electron's 'error' event (a V8 fatal error) is always listened to:
 * unheard, the EventEmitter would throw in the main process.
 */
import { utilityProcess, type UtilityProcess } from 'electron';
import type { BackendEvent } from '../contract/contract.js';
import type { Envelope } from '../core/backend/backend.js';
import { OutputTail } from '../core/util/output-tail.js';
import type { BackendStatus, FromBackend, ToBackend } from './backend-messages.js';

export interface RestartPolicy {
  /** Delay before restarting a backend that died soon after starting; doubles with each such death. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** Deaths in a row, each within `stableAfterMs` of its start, after which the host gives up. */
  maxQuickDeaths: number;
  /** A backend that ran this long before dying counts as having worked: restart at once. */
  stableAfterMs: number;
}

const DEFAULT_RESTART: RestartPolicy = { firstDelayMs: 500, maxDelayMs: 8000, maxQuickDeaths: 5, stableAfterMs: 30_000 };

export interface BackendHostOptions {
  entry: string;
  onEvent(event: BackendEvent): void;
  onWorkspaceDir(dir: string | null): void;
  /** The backend started, died and is restarting, or stopped for good. */
  onStatus?(status: BackendStatus): void;
  restart?: Partial<RestartPolicy>;
}

export class BackendHost {
  private child: UtilityProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (envelope: Envelope) => void>();
  private stopping = false;
  private env: Record<string, string> = {};
  private readonly restart: RestartPolicy;
  private quickDeaths = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private current: BackendStatus = { state: 'starting' };
  private started = false;

  constructor(private readonly options: BackendHostOptions) {
    this.restart = { ...DEFAULT_RESTART, ...options.restart };
  }

  status(): BackendStatus {
    return this.current;
  }

  /** Start the backend with these extra environment variables (kept for restarts). */
  start(env: Record<string, string> = this.env): void {
    this.env = env;
    this.stopping = false;
    this.clearRestartTimer();
    const startedAt = Date.now();
    const isRestart = this.started;
    this.started = true;
    const stderr = new OutputTail();
    let fatal: string | null = null;
    const child = utilityProcess.fork(this.options.entry, [], {
      serviceName: 'Ocular backend',
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      process.stderr.write(chunk);
    });
    child.on('spawn', () => {
      this.setStatus({ state: 'running', pid: child.pid ?? null });
      // The window asks again what is open (nothing, in a fresh backend) instead of showing stale errors.
      if (isRestart) this.options.onEvent({ type: 'workspace.changed', workspace: null });
    });
    child.on('message', (msg: FromBackend) => this.onMessage(msg));
    // A V8 fatal error; Electron emits 'exit' after it whether or not anyone listens here.
    child.on('error', (type, location) => {
      fatal = `${type} at ${location}`;
    });
    child.on('exit', (code) => {
      if (this.child !== child) return;
      this.child = null;
      this.options.onWorkspaceDir(null);
      const reason = `${fatal ? `a V8 ${fatal}, exit code ${code}` : `exit code ${code}`}${stderr.suffix()}`;
      this.failPending(`The Ocular backend stopped (${reason}) while handling this request.`);
      if (this.stopping) return;
      this.options.onEvent({ type: 'workspace.changed', workspace: null });
      this.afterDeath(reason, Date.now() - startedAt);
    });
    this.child = child;
  }

  /** A fresh start after the host gave up (the renderer's "Restart" button). */
  restartNow(): void {
    if (this.child || this.stopping) return;
    this.quickDeaths = 0;
    this.setStatus({ state: 'starting' });
    this.start();
  }

  invoke(channel: string, payload: unknown): Promise<Envelope> {
    const child = this.child;
    if (!child) return Promise.resolve({ ok: false, error: { code: 'internal', message: this.unavailableMessage() } });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      child.postMessage({ type: 'invoke', id, channel, payload } satisfies ToBackend);
    });
  }

  /** Ask the backend to close the workspace cleanly (jobs become interrupted), then stop it. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    this.clearRestartTimer();
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill();
        resolve();
      }, timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.on('message', (msg: FromBackend) => {
        if (msg.type === 'closed') child.kill();
      });
      child.postMessage({ type: 'shutdown' } satisfies ToBackend);
    });
  }

  private afterDeath(reason: string, ranForMs: number): void {
    this.quickDeaths = ranForMs >= this.restart.stableAfterMs ? 0 : this.quickDeaths + 1;
    if (this.quickDeaths >= this.restart.maxQuickDeaths) {
      this.setStatus({ state: 'stopped', reason: `${reason}\n(it stopped ${this.quickDeaths} times in a row soon after starting)` });
      return;
    }
    const delayMs = this.quickDeaths === 0 ? 0 : Math.min(this.restart.firstDelayMs * 2 ** (this.quickDeaths - 1), this.restart.maxDelayMs);
    this.setStatus({ state: 'restarting', reason, delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping) this.start();
    }, delayMs);
  }

  private unavailableMessage(): string {
    const s = this.current;
    if (s.state === 'stopped') return `The Ocular backend stopped and was not restarted: ${s.reason}`;
    if (s.state === 'restarting') return `The Ocular backend stopped (${s.reason}) and is restarting; try again in a moment.`;
    return 'The Ocular backend is not running.';
  }

  private failPending(message: string): void {
    for (const [id, resolve] of this.pending) {
      resolve({ ok: false, error: { code: 'internal', message } });
      this.pending.delete(id);
    }
  }

  private setStatus(status: BackendStatus): void {
    this.current = status;
    this.options.onStatus?.(status);
  }

  private clearRestartTimer(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  private onMessage(msg: FromBackend): void {
    switch (msg.type) {
      case 'result': {
        const resolve = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        resolve?.(msg.envelope);
        break;
      }
      case 'event':
        this.options.onEvent(msg.event);
        break;
      case 'workspace-dir':
        this.options.onWorkspaceDir(msg.dir);
        break;
      case 'closed':
        break;
    }
  }
}
