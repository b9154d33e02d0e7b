/**
 * Starts and supervises the backend utility process. Calls are forwarded with an id and resolved
 * when the backend answers. If the backend dies, pending calls fail with a clear message and a
 * new backend is started, so a crash in the store or a job never takes the window down.
 */
import { utilityProcess, type UtilityProcess } from 'electron';
import type { BackendEvent } from '../contract/contract.js';
import type { Envelope } from '../core/backend/backend.js';
import type { FromBackend, ToBackend } from './backend-messages.js';

export interface BackendHostOptions {
  entry: string;
  onEvent(event: BackendEvent): void;
  onWorkspaceDir(dir: string | null): void;
}

export class BackendHost {
  private child: UtilityProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (envelope: Envelope) => void>();
  private stopping = false;
  private env: Record<string, string> = {};

  constructor(private readonly options: BackendHostOptions) {}

  /** Start the backend with these extra environment variables (kept for restarts). */
  start(env: Record<string, string> = this.env): void {
    this.env = env;
    const child = utilityProcess.fork(this.options.entry, [], {
      serviceName: 'Ocular backend',
      env: { ...process.env, ...env },
      stdio: 'inherit',
    });
    child.on('message', (msg: FromBackend) => this.onMessage(msg));
    child.on('exit', (code) => {
      this.child = null;
      this.options.onWorkspaceDir(null);
      for (const [id, resolve] of this.pending) {
        resolve({
          ok: false,
          error: { code: 'internal', message: `The Ocular backend stopped (exit code ${code}) while handling this request.` },
        });
        this.pending.delete(id);
      }
      if (!this.stopping) {
        this.options.onEvent({ type: 'workspace.changed', workspace: null });
        this.start();
      }
    });
    this.child = child;
  }

  invoke(channel: string, payload: unknown): Promise<Envelope> {
    const child = this.child;
    if (!child) return Promise.resolve({ ok: false, error: { code: 'internal', message: 'The Ocular backend is restarting; try again.' } });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      child.postMessage({ type: 'invoke', id, channel, payload } satisfies ToBackend);
    });
  }

  /** Ask the backend to close the workspace cleanly (jobs become interrupted), then stop it. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
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
