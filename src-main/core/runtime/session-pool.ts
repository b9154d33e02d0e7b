/**
 * A pool of session-host processes. Sessions are placed on the least-loaded process and reused
 * across jobs (keyed by model file and device); releasing a model frees its memory in the host.
 * A host that dies is restarted; every call it had in flight fails with the cause, and sessions it
 * held are reported lost, so the job using them fails with a message instead of hanging.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { GenerateResult } from '../generation/generate.js';
import type {
  CarrySpec,
  Device,
  FromHost,
  HostGenerateOptions,
  LoadedSession,
  RuntimeDiagnostics,
  ToHost,
  WireTensor,
} from './pool-protocol.js';

export interface SessionPoolOptions {
  /** Path of the bundled session-host entry. */
  hostEntry: string;
  size?: number;
  /** Extra environment for hosts (e.g. ELECTRON_RUN_AS_NODE when the backend runs inside Electron). */
  env?: NodeJS.ProcessEnv;
}

export interface SessionHandle extends LoadedSession {
  modelPath: string;
  device: Device;
  host: number;
  /** Process the session lives in; a handle from before a crash no longer matches its host. */
  pid: number;
}

export class SessionCrashed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionCrashed';
  }
}

interface Host {
  slot: number;
  child: ChildProcess;
  ready: Promise<number>;
  pending: Map<number, { resolve(v: unknown): void; reject(e: Error): void }>;
  sessions: Set<string>;
}

export class SessionPool extends EventEmitter<{
  crash: [{ slot: number; pid: number | undefined; cause: string; lostSessions: string[] }];
}> {
  private readonly hosts: Host[] = [];
  private readonly sessions = new Map<string, Promise<SessionHandle>>();
  private nextId = 1;
  private closed = false;
  /** Sessions that asked for a GPU and got the CPU, with why. */
  private readonly fallbacks: Array<{ modelPath: string; reason: string }> = [];

  constructor(private readonly options: SessionPoolOptions) {
    super();
    const size = options.size ?? 2;
    for (let slot = 0; slot < size; slot++) this.hosts.push(this.spawn(slot));
  }

  /** Process ids of the hosts, in slot order (for diagnostics and tests). */
  async pids(): Promise<number[]> {
    return Promise.all(this.hosts.map((h) => h.ready));
  }

  /** Load (or reuse) a session for a model file on the least-loaded host, or on `slot` when given. */
  load(modelPath: string, device: Device = 'auto', slot?: number): Promise<SessionHandle> {
    const key = `${device}:${modelPath}`;
    const existing = this.sessions.get(key);
    if (existing) return existing;
    const host =
      slot !== undefined ? this.hosts[slot % this.hosts.length]! : [...this.hosts].sort((a, b) => a.sessions.size - b.sessions.size)[0]!;
    host.sessions.add(key);
    const loading = this.call<LoadedSession>(host, { type: 'load', id: 0, modelPath, device }).then(
      async (loaded) => {
        if (loaded.fallbackReason) this.fallbacks.push({ modelPath, reason: loaded.fallbackReason });
        return { ...loaded, modelPath, device, host: host.slot, pid: await host.ready };
      },
      (err: Error) => {
        this.sessions.delete(key);
        host.sessions.delete(key);
        throw err;
      },
    );
    this.sessions.set(key, loading);
    return loading;
  }

  async run(
    handle: SessionHandle,
    feeds: Record<string, WireTensor>,
    outputs?: string[],
    carry?: CarrySpec,
  ): Promise<Record<string, WireTensor>> {
    const host = this.hosts[handle.host]!;
    if ((await host.ready) !== handle.pid) {
      throw new SessionCrashed(`The session for ${handle.modelPath} was lost when its ONNX Runtime process crashed; load the model again.`);
    }
    return this.call(host, { type: 'run', id: 0, sessionId: handle.sessionId, feeds, outputs, carry });
  }

  async dropCarry(handle: SessionHandle, key: string): Promise<void> {
    const host = this.hosts[handle.host]!;
    if ((await host.ready) !== handle.pid) return;
    await this.call(host, { type: 'drop-carry', id: 0, key });
  }

  /**
   * Load several graphs into one host (a decoder and its token embedding, say) so work that needs
   * them together can run inside that process. Reuses them when they already share a host.
   */
  async loadTogether(modelPaths: string[], device: Device = 'auto'): Promise<SessionHandle[]> {
    const existing = await Promise.all(
      modelPaths.map((p) => this.sessions.get(`${device}:${p}`)).filter((s): s is Promise<SessionHandle> => s !== undefined),
    );
    const slot = existing[0]?.host ?? [...this.hosts].sort((a, b) => a.sessions.size - b.sessions.size)[0]!.slot;
    if (existing.some((h) => h.host !== slot)) {
      for (const p of modelPaths) await this.releaseModel(p);
    }
    return Promise.all(modelPaths.map((p) => this.load(p, device, slot)));
  }

  /** Generate inside the host holding both sessions: the KV cache never crosses processes. */
  async generate(decoder: SessionHandle, embed: SessionHandle, options: HostGenerateOptions): Promise<GenerateResult> {
    if (decoder.host !== embed.host)
      throw new Error('internal: the decoder and its embedding must share a pool process (use loadTogether).');
    const host = this.hosts[decoder.host]!;
    if ((await host.ready) !== decoder.pid) {
      throw new SessionCrashed(
        `The session for ${decoder.modelPath} was lost when its ONNX Runtime process crashed; load the model again.`,
      );
    }
    return this.call(host, { type: 'generate', id: 0, decoder: decoder.sessionId, embed: embed.sessionId, options });
  }

  /** Free a model's sessions (all devices) in their hosts. */
  async releaseModel(modelPath: string): Promise<void> {
    for (const [key, loading] of [...this.sessions]) {
      if (!key.endsWith(`:${modelPath}`)) continue;
      this.sessions.delete(key);
      const handle = await loading.catch(() => null);
      if (!handle) continue;
      const host = this.hosts[handle.host]!;
      host.sessions.delete(key);
      await this.call(host, { type: 'release', id: 0, sessionId: handle.sessionId }).catch(() => undefined);
    }
  }

  async diagnostics(): Promise<RuntimeDiagnostics> {
    const d = await this.call<RuntimeDiagnostics>(this.hosts[0]!, { type: 'diagnostics', id: 0 });
    return { ...d, fallbacks: [...this.fallbacks] };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.hosts.map(
        (h) =>
          new Promise<void>((resolve) => {
            if (h.child.exitCode !== null || h.child.signalCode !== null) return resolve();
            h.child.once('exit', () => resolve());
            h.child.kill();
          }),
      ),
    );
  }

  private spawn(slot: number): Host {
    const child = fork(this.options.hostEntry, [], {
      serialization: 'advanced',
      env: { ...process.env, ...this.options.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
    let markReady: (pid: number) => void;
    const ready = new Promise<number>((resolve) => (markReady = resolve));
    const host: Host = { slot, child, ready, pending, sessions: new Set() };
    child.on('message', (msg: FromHost) => {
      if (msg.type === 'ready') return markReady(msg.pid);
      const waiter = pending.get(msg.id);
      if (!waiter) return;
      pending.delete(msg.id);
      if (msg.ok) waiter.resolve(msg.value);
      else waiter.reject(new Error(msg.error));
    });
    child.on('exit', (code, signal) => {
      if (this.closed) return;
      const cause = signal ? `the ONNX Runtime process was killed by ${signal}` : `the ONNX Runtime process exited with code ${code}`;
      for (const waiter of pending.values()) waiter.reject(new SessionCrashed(`${cause} while running a model; it has been restarted.`));
      pending.clear();
      const lost = [...host.sessions];
      for (const key of lost) this.sessions.delete(key);
      this.emit('crash', { slot, pid: child.pid, cause, lostSessions: lost.map((k) => k.slice(k.indexOf(':') + 1)) });
      this.hosts[slot] = this.spawn(slot);
    });
    return host;
  }

  private async call<T>(host: Host, msg: ToHost): Promise<T> {
    if (this.closed) throw new Error('The session pool is closed.');
    await host.ready;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      host.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      host.child.send({ ...msg, id }, (err) => {
        if (err) {
          host.pending.delete(id);
          reject(new SessionCrashed(`Could not reach the ONNX Runtime process: ${err.message}`));
        }
      });
    });
  }
}
