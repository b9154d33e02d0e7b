/**
 * The desktop app for e2e tests, without Electron's binary: the built main process
 * (out/main/index.js) runs under Node against the electron stand-in, with its backend a real
 * utility process (out/main/backend.js), and its one window is served to Chromium over loopback:
 *
 *   GET  /<path>                 the app's ocular://app/<path> protocol handler (renderer, CSP, /files/)
 *   POST /__electron/invoke      ipcRenderer.invoke from the page (renderer-bridge.ts), to ipcMain
 *   GET  /__electron/events      webContents.send to the page, and reload() (server-sent events)
 *   POST /__electron/dialog      the folder the next native folder dialog answers (test control)
 *   POST /__electron/emit        an event on the window's webContents, e.g. render-process-gone (test control)
 *
 * Bundled by the test global setup to out/test-electron/desktop-harness.mjs and started like
 * `ocular serve` (test/helpers/app.ts): `--workspace DIR` is the folder the user picks when creating
 * a workspace, or opens at once if it holds one. It prints the URL, and quits the app on SIGTERM.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { register } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeCloneable, encodeCloneable } from './clone-codec';

register('./hooks.mjs', import.meta.url);
const electron = (await import('electron')) as unknown as typeof import('./electron');
const { app, standin, BrowserWindow } = electron;

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const APP_FRAME = 'ocular://app/index.html';

function option(name: string): string | null {
  const i = process.argv.indexOf(name);
  return i === -1 ? null : (process.argv[i + 1] ?? null);
}
if (process.argv.includes('--read-only')) {
  console.error('The desktop app has no read-only mode (that is `ocular serve --read-only`).');
  process.exit(2);
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!condition()) {
    if (standin.exitCode !== null)
      throw new Error(`the app exited (${standin.exitCode}) while waiting for ${what}: ${JSON.stringify(standin.dialogs)}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-desktop-'));
standin.useSourceLayout(repoRoot, scratch);
await import(pathToFileURL(path.join(repoRoot, 'out', 'main', 'index.js')).href);
app.emitReady();
await until(() => BrowserWindow.getAllWindows().length > 0 && (standin.forks[0]?.pid ?? 0) > 0, 'the window and the backend');
const window = BrowserWindow.getAllWindows()[0]!;

let origin = '';
/** The page's URL as the main process sees its frame: the harness origin stands for ocular://app. */
function frameUrl(href: string): string {
  try {
    const url = new URL(href);
    return url.origin === origin ? `ocular://app${url.pathname}${url.search}` : href;
  } catch {
    return href;
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err: Error) => {
    if (!res.headersSent) json(res, 500, { ok: false, message: err.message });
    else res.end();
  });
});

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', origin);
  if (url.pathname === '/__electron/invoke' && req.method === 'POST') {
    if (req.headers.origin !== origin) return json(res, 403, { ok: false, message: 'cross-origin call refused' });
    const { frame, channel, args } = JSON.parse(await readBody(req)) as { frame: string; channel: string; args: any };
    try {
      const value = await standin.invoke(frameUrl(frame), channel, ...(decodeCloneable(args) as unknown[]));
      return json(res, 200, { ok: true, value: encodeCloneable(value) });
    } catch (err) {
      return json(res, 200, { ok: false, message: (err as Error).message });
    }
  }
  if (url.pathname === '/__electron/events') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
    const onSent = (channel: string, ...args: unknown[]) =>
      res.write(`data: ${JSON.stringify({ channel, args: encodeCloneable(args) })}\n\n`);
    const onReload = () => res.write('event: reload\ndata: {}\n\n');
    window.webContents.on('ipc-sent', onSent);
    window.webContents.on('reloaded', onReload);
    req.on('close', () => {
      window.webContents.off('ipc-sent', onSent);
      window.webContents.off('reloaded', onReload);
    });
    return;
  }
  if (url.pathname === '/__electron/emit' && req.method === 'POST') {
    const { event, args } = JSON.parse(await readBody(req)) as { event: string; args: unknown[] };
    window.webContents.emit(event, ...args);
    return json(res, 200, { ok: true });
  }
  if (url.pathname === '/__electron/dialog' && req.method === 'POST') {
    standin.openDialogAnswers.push((JSON.parse(await readBody(req)) as { path: string }).path);
    return json(res, 200, { ok: true });
  }
  const response = await standin.fetch(`ocular://app${url.pathname}${url.search}`, { method: req.method });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (response.body) Readable.fromWeb(response.body as never).pipe(res);
  else res.end();
}

const workspace = option('--workspace');
if (workspace) {
  const dir = path.resolve(workspace);
  if (fs.existsSync(path.join(dir, 'workspace.sqlite'))) {
    // As a user reopening the workspace they worked in last.
    const opened = (await standin.invoke(APP_FRAME, 'ocular:invoke', 'workspace.open', { path: dir })) as { ok: boolean };
    if (!opened.ok) throw new Error(`could not open ${dir}: ${JSON.stringify(opened)}`);
  } else standin.defaultOpenDialogAnswer = dir;
}

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
console.log(`Ocular desktop app (electron stand-in) is running at ${origin}/`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  app.quit();
  void until(() => standin.quitted, 'the app to quit', 15_000)
    .catch((err: Error) => console.error(err.message))
    .finally(() => {
      server.closeAllConnections();
      server.close();
      fs.rmSync(scratch, { recursive: true, force: true });
      process.exit(0);
    });
});
