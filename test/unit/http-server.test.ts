import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { BackendEvent, Job } from '../../src-main/contract/contract';
import { startHttpServer } from '../../src-main/transport/http-server';
import { Backend } from '../../src-main/core/backend/backend';
import { post, startTestServer } from '../helpers/server';
import { taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';
import { jobResult } from '../../src-main/contract/job-results';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});
async function serve(options: Parameters<typeof startTestServer>[0] = {}) {
  const s = await startTestServer(options);
  closers.push(s.close);
  return s;
}

function events(base: string): { received: BackendEvent[]; ready: Promise<void>; close(): void } {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/api/events`);
  const received: BackendEvent[] = [];
  ws.on('message', (data) => received.push(JSON.parse(String(data))));
  return { received, ready: new Promise((r) => ws.once('open', () => r())), close: () => ws.close() };
}

describe('HTTP + WebSocket transport', () => {
  it('serves the renderer with a strict CSP and carries contract calls', async () => {
    const { base } = await serve({ pinnedWorkspace: path.join(tmpDir(), 'ws') });
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("object-src 'none'");
    const info = await post(base, 'app.info', {});
    expect(info.status).toBe(200);
    expect(info.body.result.transport).toBe('http');
    expect(info.body.result.workspace).toBeNull();
    const created = await post(base, 'workspace.create', {});
    expect(created.body.ok).toBe(true);
    const bad = await post(base, 'jobs.get', { id: -3 });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe('invalid_request');
  });

  it('pushes job progress over the WebSocket', async () => {
    const { base } = await serve({ pinnedWorkspace: path.join(tmpDir(), 'ws') });
    await post(base, 'workspace.create', {});
    const ev = events(base);
    await ev.ready;
    const started = await post(base, 'jobs.start', { kind: 'selftest', params: { steps: 3, stepMs: 20 } });
    const id = started.body.result.id as number;
    await expect
      .poll(() => ev.received.some((e) => e.type === 'job.updated' && e.job.id === id && e.job.state === 'succeeded'), { timeout: 20_000 })
      .toBe(true);
    const progress = ev.received
      .filter((e): e is Extract<BackendEvent, { type: 'job.updated' }> => e.type === 'job.updated')
      .map((e) => e.job.progress);
    expect(progress.at(-1)).toBe(1);
    ev.close();
  });

  it("does a job's work off the thread that serves IPC: calls are answered while the job computes", async () => {
    const { base } = await serve({ pinnedWorkspace: path.join(tmpDir(), 'ws') });
    await post(base, 'workspace.create', {});
    const ev = events(base);
    await ev.ready;
    // Each step spins the CPU synchronously for 3 s; if that ran on the serving thread, nothing
    // could be answered until the spin ended.
    const started = await post(base, 'jobs.start', { kind: 'selftest', params: { steps: 2, stepMs: 0, spinMs: 3000 } });
    const id = started.body.result.id as number;
    await expect
      .poll(() => ev.received.some((e) => e.type === 'job.updated' && e.job.id === id && (e.job.message ?? '').includes('computing')), {
        timeout: 20_000,
      })
      .toBe(true);
    const during = await post(base, 'jobs.get', { id });
    expect(during.body.result.state).toBe('running');
    expect(during.body.result.progress).toBeLessThan(1);
    await expect
      .poll(async () => (await post(base, 'jobs.get', { id })).body.result.state, { timeout: 30_000, interval: 250 })
      .toBe('succeeded');
    const done = (await post(base, 'jobs.get', { id })).body.result as Job;
    expect(jobResult(done, 'selftest').isMainThread).toBe(false);
    expect(jobResult(done, 'selftest').threadId).not.toBe(threadId);
    ev.close();
  });

  it('refuses mutating calls in read-only mode with a clear message', async () => {
    const dir = path.join(tmpDir(), 'ws');
    const writer = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, pinnedWorkspace: dir, configDir: tmpDir() });
    await writer.invoke('workspace.create', {});
    await writer.close();
    const { base } = await serve({ pinnedWorkspace: dir, readOnly: true });
    const res = await post(base, 'jobs.start', { kind: 'selftest', params: {} });
    expect(res.status).toBe(403);
    expect(res.body.error).toEqual({
      code: 'read_only',
      message: "This workspace is open read-only: 'jobs.start' would change it and was refused.",
    });
    expect((await post(base, 'jobs.list', {})).status).toBe(200);
  });

  it('rejects cross-origin calls and unexpected Host headers', async () => {
    const { base, server } = await serve();
    const crossOrigin = await post(base, 'app.info', {}, { Origin: 'http://evil.example' });
    expect(crossOrigin.status).toBe(403);
    // fetch() will not send a forged Host header, so use a raw request as a rebinding page would.
    const rebindingStatus = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          path: '/api/invoke/app.info',
          method: 'POST',
          headers: { Host: `evil.example:${server.port}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(rebindingStatus).toBe(421);
    const sameOrigin = await post(base, 'app.info', {}, { Origin: `http://127.0.0.1:${server.port}` });
    expect(sameOrigin.status).toBe(200);
  });

  it('serves workspace files but nothing outside the workspace', async () => {
    const dir = path.join(tmpDir(), 'ws');
    const { base } = await serve({ pinnedWorkspace: dir });
    await post(base, 'workspace.create', {});
    fs.writeFileSync(path.join(dir, 'blobs', 'patch.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    fs.writeFileSync(path.join(path.dirname(dir), 'secret.txt'), 'secret');
    fs.symlinkSync(path.join(path.dirname(dir), 'secret.txt'), path.join(dir, 'blobs', 'link.txt'));
    const ok = await fetch(`${base}/files/blobs/patch.png`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/png');
    // A dataset's HTML is a download here, never a page that runs on this origin.
    fs.writeFileSync(path.join(dir, 'blobs', 'note.html'), '<script>fetch("/api/invoke/labels.set")</script>');
    const html = await fetch(`${base}/files/blobs/note.html`);
    expect(html.headers.get('content-type')).toBe('application/octet-stream');
    expect(html.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(html.headers.get('content-security-policy')).toMatch(/sandbox/);
    for (const evil of [
      '/files/../secret.txt',
      '/files/%2e%2e/secret.txt',
      '/files/blobs/..%2f..%2fsecret.txt',
      '/files/blobs/link.txt',
      '/files/%00',
      '/files/workspace.sqlite',
      '/files/workspace.lock',
    ]) {
      const res = await fetch(`${base}${evil}`);
      expect(res.status, evil).toBe(404);
    }
  });

  it('requires a token for a non-loopback host and honours it', async () => {
    const backend = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, configDir: tmpDir() });
    await expect(startHttpServer({ backend, rendererDir: tmpDir(), host: '0.0.0.0', port: 0 })).rejects.toThrow(/without --token/);
    const token = 'a-long-enough-test-token';
    const { server } = await serve({ host: '0.0.0.0', token });
    const base = `http://127.0.0.1:${server.port}`;
    expect((await post(base, 'app.info', {})).status).toBe(401);
    expect((await post(base, 'app.info', {}, { Authorization: `Bearer ${token}` })).status).toBe(200);
    const login = await fetch(`${base}/?token=${token}`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await post(base, 'app.info', {}, { Cookie: cookie.split(';')[0]! })).status).toBe(200);
  });
});
