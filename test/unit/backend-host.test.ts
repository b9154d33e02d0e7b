/**
 * The backend's supervisor in the Electron main process (src-main/electron/backend-host.ts), run
 * under Node against the `electron` stand-in (test/electron/electron.ts): utility processes are real
 * child processes, with Electron's event semantics. A backend that dies at start is restarted with
 * a growing delay and then reported stopped with its stderr; a V8 fatal error is heard, not thrown;
 * calls round-trip structured-cloned and fail with the cause when the backend dies; stop() waits for
 * a clean close and kills a backend that does not answer. The real out/main/backend.js answers calls.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendEvent } from '../../src-main/contract/contract';
import { BackendHost, type BackendHostOptions } from '../../src-main/electron/backend-host';
import type { BackendStatus } from '../../src-main/electron/backend-messages';
import { repoRoot, tmpDir } from '../helpers/tmp';
import { standin } from '../electron/electron';

const hosts: BackendHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop(1000);
});

/** A backend entry script: `body` runs with `port` (process.parentPort) in scope. */
function entry(body: string): string {
  const file = path.join(tmpDir(), 'backend-entry.mjs');
  fs.writeFileSync(file, `const port = process.parentPort;\n${body}\n`);
  return file;
}

/** Answers each call with its payload, exits on 'crash', closes on 'shutdown'. */
const ECHO = `
port.on('message', ({ data }) => {
  if (data.type === 'shutdown') return port.postMessage({ type: 'closed' });
  if (data.channel === 'crash') { process.stderr.write('Error: the store hit a bug\\n'); process.exit(9); }
  port.postMessage({ type: 'result', id: data.id, envelope: { ok: true, result: data.payload } });
});`;

function host(entryFile: string, options: Partial<BackendHostOptions> = {}) {
  const events: BackendEvent[] = [];
  const statuses: BackendStatus[] = [];
  const h = new BackendHost({
    entry: entryFile,
    onEvent: (e) => events.push(e),
    onWorkspaceDir: () => undefined,
    onStatus: (s) => statuses.push(s),
    ...options,
  });
  hosts.push(h);
  return { h, events, statuses };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('BackendHost', () => {
  it('restarts a backend that dies at start with growing delays, then reports it stopped with its stderr', async () => {
    const file = entry(`process.stderr.write('Error: Cannot find module better-sqlite3\\n'); process.exit(3);`);
    const before = standin.forks.length;
    const { h, events, statuses } = host(file, { restart: { firstDelayMs: 50, maxDelayMs: 200, maxQuickDeaths: 4 } });
    h.start();
    await expect.poll(() => h.status().state, { timeout: 10_000 }).toBe('stopped');
    await sleep(500);
    expect(standin.forks.length - before).toBe(4); // no fork loop
    expect(statuses.filter((s) => s.state === 'restarting').map((s) => (s as { delayMs: number }).delayMs)).toEqual([50, 100, 200]);
    const stopped = h.status() as { state: 'stopped'; reason: string };
    expect(stopped.reason).toMatch(
      /^exit code 3\. Its last output:\nError: Cannot find module better-sqlite3\n\(it stopped 4 times in a row/,
    );
    expect(events.filter((e) => e.type === 'workspace.changed').length).toBeLessThanOrEqual(2 * 4);
    const call = await h.invoke('app.info', {});
    expect(call).toEqual({
      ok: false,
      error: { code: 'internal', message: expect.stringMatching(/stopped and was not restarted: exit code 3/) },
    });

    h.restartNow(); // the window's "Restart backend"
    await expect.poll(() => standin.forks.length - before, { timeout: 10_000 }).toBe(5);
  });

  it('hears a V8 fatal error in the backend instead of throwing in the main process, and names it', async () => {
    const file = entry(`const a = []; for (;;) a.push(new Array(10000).fill({ x: Math.random() }));`);
    const { h } = host(file, { restart: { maxQuickDeaths: 1 } });
    h.start({ NODE_OPTIONS: '--max-old-space-size=16' });
    await expect.poll(() => h.status().state, { timeout: 20_000 }).toBe('stopped');
    expect((h.status() as { reason: string }).reason).toMatch(/^a V8 FatalError at Reached heap limit.*exit code 134/);
  });

  it('round-trips calls structured-cloned, fails a call with the cause when the backend dies, and restarts it', async () => {
    const { h, events, statuses } = host(entry(ECHO), { restart: { firstDelayMs: 20 } });
    h.start();
    const payload = {
      missing: undefined,
      nan: NaN,
      big: 2n ** 70n,
      floats: new Float32Array([1.5, -0]),
      when: new Date(0),
      tags: new Set(['a']),
    };
    expect(await h.invoke('echo', payload)).toEqual({ ok: true, result: payload });
    const echoed = (await h.invoke('echo', payload)) as { ok: true; result: typeof payload };
    expect('missing' in echoed.result).toBe(true);
    expect(echoed.result.floats).toBeInstanceOf(Float32Array);

    const crashed = await h.invoke('crash', {});
    expect(crashed).toEqual({
      ok: false,
      error: {
        code: 'internal',
        message: 'The Ocular backend stopped (exit code 9. Its last output:\nError: the store hit a bug) while handling this request.',
      },
    });
    await expect.poll(() => h.status().state).toBe('running');
    expect(statuses.map((s) => s.state)).toEqual(['running', 'restarting', 'running']);
    expect(await h.invoke('echo', { again: 1 })).toEqual({ ok: true, result: { again: 1 } });
    // Once for the death, once when the new backend is up (the window asks what is open again).
    expect(events).toEqual([
      { type: 'workspace.changed', workspace: null },
      { type: 'workspace.changed', workspace: null },
    ]);
  });

  it('stop() waits for the backend to close cleanly and does not restart it', async () => {
    const { h, statuses } = host(entry(ECHO));
    h.start();
    await expect.poll(() => h.status().state).toBe('running');
    const child = standin.forks.at(-1)!;
    const exited = new Promise<number>((resolve) => child.once('exit', resolve));
    const t0 = Date.now();
    await h.stop(5000);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await exited).toBe(128 + 15); // killed with SIGTERM once it said 'closed'
    await sleep(300);
    expect(statuses.map((s) => s.state)).toEqual(['running']);
  });

  it('stop() kills a backend that never answers the shutdown once the timeout passes', async () => {
    const { h } = host(entry(`port.on('message', () => undefined);`));
    h.start();
    await expect.poll(() => h.status().state).toBe('running');
    const count = standin.forks.length;
    const t0 = Date.now();
    await h.stop(400);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    await sleep(300);
    expect(standin.forks.length).toBe(count);
    expect(standin.forks.at(-1)!.pid).toBeUndefined();
  });
});

describe('out/main/backend.js (the built utility-process entry) under Node', () => {
  it('answers contract calls, opens a workspace, relays events and closes it on shutdown', async () => {
    const binding = path.join(repoRoot, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    const dirs: Array<string | null> = [];
    const { h, events } = host(path.join(repoRoot, 'out', 'main', 'backend.js'), { onWorkspaceDir: (d) => dirs.push(d) });
    h.start({ OCULAR_SQLITE_BINDING: binding, OCULAR_CONFIG_DIR: tmpDir(), OCULAR_RESOURCES: path.join(repoRoot, 'resources') });
    const info = await h.invoke('app.info', {});
    expect(info).toMatchObject({ ok: true, result: { transport: 'electron', workspace: null, readOnly: false } });
    const ws = path.join(tmpDir(), 'ws');
    expect(await h.invoke('workspace.create', { path: ws })).toMatchObject({ ok: true });
    expect(dirs).toEqual([ws]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'workspace.changed', workspace: expect.objectContaining({ path: ws }) }));
    expect(await h.invoke('no.such.channel', {})).toMatchObject({ ok: false, error: { code: 'unknown_channel' } });
    // Structured clone keeps NaN, which JSON would have turned into null: the contract still refuses it.
    expect(await h.invoke('jobs.list', { limit: NaN })).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    await h.stop(10_000);
    expect(fs.existsSync(path.join(ws, 'workspace.lock'))).toBe(false); // closed cleanly
  });
});
