/**
 * A pool of session-host processes. Sessions are placed on the least-loaded process and reused
 * across jobs (keyed by model file and device); releasing a model frees its memory in the host.
 * A slot's process starts when the slot is first needed, not with the pool: a run that uses one
 * session (`ocular train`) never pays for an idle ONNX Runtime process (~57 MB, bench:memory).
 * A host that dies is restarted; every call it had in flight fails with the cause, and sessions it
 * held are reported lost, so the job using them fails with a message instead of hanging.
 *
 * A host that exits before it is ready (onnxruntime's native library failing to load, say) fails
 * the calls waiting for it with its last stderr lines; the slot is retried with a doubling delay
 * and given up after a few failed starts, so a broken install never turns into a fork loop.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { GenerateResult } from '../generation/generate.js';
import { OutputTail } from '../util/output-tail.js';
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
import { compactFeeds } from './pool-protocol.js';

export interface SessionPoolOptions {
  /** Path of the bundled session-host entry. */
  hostEntry: string;
  size?: number;
  /** Extra environment for hosts (e.g. ELECTRON_RUN_AS_NODE when the backend runs inside Electron). */
  env?: NodeJS.ProcessEnv;
  /** Restart policy for hosts that exit before they are ready. */
  restart?: Partial<RestartPolicy>;
}

export interface RestartPolicy {
  /** Delay before the first restart of a slot whose host died before it was ready; doubles each time. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** Consecutive failed starts after which the slot is given up. */
  maxFailedStarts: number;
}

const DEFAULT_RESTART: RestartPolicy = { firstDelayMs: 250, maxDelayMs: 4000, maxFailedStarts: 5 };

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

/** A pool process could not be started: the calls that needed it fail with this. */
export class SessionHostFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionHostFailed';
  }
}

interface Host {
  slot: number;
  child: ChildProcess;
  /** The host's pid once it said it is ready; rejects if it exits first. */
  ready: Promise<number>;
  pending: Map<number, { resolve(v: unknown): void; reject(e: Error): void }>;
  sessions: Set<string>;
  stderr: OutputTail;
}

export class SessionPool extends EventEmitter<{
  crash: [{ slot: number; pid: number | undefined; cause: string; lostSessions: string[] }];
}> {
  /** One entry per slot; null until the slot is first needed. */
  private readonly hosts: Array<Host | null> = [];
  private readonly sessions = new Map<string, Promise<SessionHandle>>();
  private nextId = 1;
  private closed = false;
  private readonly restart: RestartPolicy;
  /** Consecutive failed starts per slot; reset when a host becomes ready. */
  private readonly failedStarts: number[] = [];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  /** Sessions that asked for a GPU and got the CPU, with why. */
  private readonly fallbacks: Array<{ modelPath: string; reason: string }> = [];

  constructor(private readonly options: SessionPoolOptions) {
    super();
    this.restart = { ...DEFAULT_RESTART, ...options.restart };
    const size = options.size ?? 2;
    for (let slot = 0; slot < size; slot++) {
      this.failedStarts.push(0);
      this.hosts.push(null);
    }
  }

  /** The slot's host, started on first use. */
  private host(slot: number): Host {
    if (this.closed) throw new Error('The session pool is closed.');
    return (this.hosts[slot] ??= this.spawn(slot));
  }

  /** The slot with the fewest sessions (the lowest such slot, so a second process starts only for a second session). */
  private leastLoaded(): number {
    const load = (slot: number) => this.hosts[slot]?.sessions.size ?? 0;
    return this.hosts.reduce((best, _, slot) => (load(slot) < load(best) ? slot : best), 0);
  }

  /** Process ids of the hosts, in slot order (for diagnostics and tests); starts every slot. */
  async pids(): Promise<number[]> {
    return Promise.all(this.hosts.map((_, slot) => this.host(slot).ready));
  }

  /** Load (or reuse) a session for a model file on the least-loaded host, or on `slot` when given. */
  load(modelPath: string, device: Device = 'auto', slot?: number): Promise<SessionHandle> {
    const key = `${device}:${modelPath}`;
    const existing = this.sessions.get(key);
    if (existing) return existing;
    if (this.closed) return Promise.reject(new Error('The session pool is closed.'));
    const host = this.host(slot !== undefined ? slot % this.hosts.length : this.leastLoaded());
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
    const host = this.host(handle.host);
    if ((await host.ready) !== handle.pid) {
      throw new SessionCrashed(`The session for ${handle.modelPath} was lost when its ONNX Runtime process crashed; load the model again.`);
    }
    return this.call(host, { type: 'run', id: 0, sessionId: handle.sessionId, feeds: compactFeeds(feeds), outputs, carry });
  }

  async dropCarry(handle: SessionHandle, key: string): Promise<void> {
    const host = this.host(handle.host);
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
    const slot = existing[0]?.host ?? this.leastLoaded();
    if (existing.some((h) => h.host !== slot)) {
      for (const p of modelPaths) await this.releaseModel(p);
    }
    return Promise.all(modelPaths.map((p) => this.load(p, device, slot)));
  }

  /** Generate inside the host holding both sessions: the KV cache never crosses processes. */
  async generate(decoder: SessionHandle, embed: SessionHandle, options: HostGenerateOptions): Promise<GenerateResult> {
    if (decoder.host !== embed.host)
      throw new Error('internal: the decoder and its embedding must share a pool process (use loadTogether).');
    const host = this.host(decoder.host);
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
      const host = this.host(handle.host);
      host.sessions.delete(key);
      await this.call(host, { type: 'release', id: 0, sessionId: handle.sessionId }).catch(() => undefined);
    }
  }

  async diagnostics(): Promise<RuntimeDiagnostics> {
    const d = await this.call<RuntimeDiagnostics>(this.host(0), { type: 'diagnostics', id: 0 });
    return { ...d, fallbacks: [...this.fallbacks] };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    await Promise.all(
      this.hosts.map(
        (h) =>
          h &&
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
      // glibc raises its mmap threshold after the first large free, so the 8 MB feed buffers this
      // process receives per call then land in the heap and stay resident after being freed; a fixed
      // 1 MB threshold keeps them mmapped and returned on free (bench:memory). Scoped to pool processes.
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '1048576', ...this.options.env },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const stderr = new OutputTail();
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      process.stderr.write(chunk);
    });
    const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
    let started = false;
    let markReady!: (pid: number) => void;
    let failStart!: (err: Error) => void;
    const ready = new Promise<number>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    ready.catch(() => undefined); // observed by whoever calls; a host nobody used must not raise an unhandled rejection
    const host: Host = { slot, child, ready, pending, sessions: new Set(), stderr };
    child.on('message', (msg: FromHost) => {
      if (msg.type === 'ready') {
        started = true;
        this.failedStarts[slot] = 0;
        return markReady(msg.pid);
      }
      const waiter = pending.get(msg.id);
      if (!waiter) return;
      pending.delete(msg.id);
      if (msg.ok) waiter.resolve(msg.value);
      else waiter.reject(new Error(msg.error));
    });
    let startFailed = false;
    const failedToStart = (how: string) => {
      if (startFailed) return;
      startFailed = true;
      this.onStartFailed(host, how, failStart);
    };
    // 'error' without a pid: the process could not be spawned at all, and 'exit' may not follow.
    child.on('error', (err) => {
      if (child.pid === undefined) failedToStart(`could not be started: ${err.message}`);
    });
    // 'close', not 'exit': it comes after stderr has drained, so the tail holds the last words.
    child.on('close', (code, signal) => {
      if (this.closed) return;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (!started) return failedToStart(`${how} before it was ready`);
      const cause = `the ONNX Runtime process ${how}`;
      for (const waiter of pending.values())
        waiter.reject(new SessionCrashed(`${cause} while running a model; it has been restarted${stderr.suffix()}`));
      pending.clear();
      const lost = [...host.sessions];
      for (const key of lost) this.sessions.delete(key);
      this.emit('crash', { slot, pid: child.pid, cause, lostSessions: lost.map((k) => k.slice(k.indexOf(':') + 1)) });
      this.hosts[slot] = this.spawn(slot);
    });
    return host;
  }

  /** A host died before it was ready: fail what waits for it, then retry the slot later or give it up. */
  private onStartFailed(host: Host, how: string, failStart: (err: Error) => void): void {
    if (this.closed || this.hosts[host.slot] !== host) return;
    const failures = ++this.failedStarts[host.slot]!;
    const givingUp = failures >= this.restart.maxFailedStarts;
    const retry = givingUp ? `; gave up after ${failures} failed starts` : `; retrying in ${this.restartDelay(failures) / 1000} s`;
    failStart(new SessionHostFailed(`The ONNX Runtime process ${how}${retry}${host.stderr.suffix()}`));
    if (givingUp) return;
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (!this.closed) this.hosts[host.slot] = this.spawn(host.slot);
    }, this.restartDelay(failures));
    this.restartTimers.add(timer);
  }

  private restartDelay(failures: number): number {
    return Math.min(this.restart.firstDelayMs * 2 ** (failures - 1), this.restart.maxDelayMs);
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
