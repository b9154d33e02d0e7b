import fs from 'node:fs';
import path from 'node:path';
import { Backend, type BackendOptions } from '../../src-main/core/backend/backend';
import { startHttpServer, type RunningServer } from '../../src-main/transport/http-server';
import { sessionHostEntry, taskWorkerEntry, tmpDir, workerEntry } from './tmp';

/** A backend + HTTP server over a fake renderer folder; closed by the returned function. */
export async function startTestServer(options: Partial<BackendOptions> & { host?: string; token?: string } = {}) {
  const rendererDir = tmpDir('ocular-renderer-');
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Ocular</title>');
  const backend = new Backend({
    transport: 'http',
    workerEntry,
    taskWorkerEntry,
    sessionHostEntry,
    configDir: tmpDir('ocular-config-'),
    ...options,
  });
  backend.openPinnedIfPresent();
  const server: RunningServer = await startHttpServer({ backend, rendererDir, port: 0, host: options.host, token: options.token });
  return {
    backend,
    server,
    base: `http://127.0.0.1:${server.port}`,
    async close() {
      await server.close();
      await backend.close();
    },
  };
}

export async function post(base: string, channel: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/api/invoke/${channel}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { ok: boolean; result?: any; error?: { code: string; message: string } } };
}
