/**
 * The built main process (out/main/index.js) under Node, with `electron` replaced by the stand-in
 * (test/electron/electron.ts) and its backend a real utility process running out/main/backend.js.
 * What only the desktop app does: the ocular:// protocol (renderer with its CSP, workspace files
 * under the same origin, traversal refused), IPC only from the app's frames, one instance per user,
 * a crashed renderer reloaded, a crashed backend restarted and shown, and a clean backend shutdown
 * on quit and when Windows ends the session.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { repoRoot } from '../helpers/tmp';

type StandInModule = typeof import('../electron/electron');
const APP_FRAME = 'ocular://app/index.html';
const MAIN_BUNDLE = path.join(repoRoot, 'out', 'main', 'index.js');

/** Folders that live as long as a booted app (helpers/tmp's folders go after each test). */
const roots: string[] = [];
function folder(name: string): string {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), `ocular-main-${name}-`));
  roots.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of roots.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Import a fresh copy of the stand-in and of the main bundle, as if Electron had just started it. */
async function bootMain(options: { lock?: boolean } = {}): Promise<StandInModule> {
  vi.resetModules();
  const electron = await import('../electron/electron');
  const { standin, app } = electron;
  standin.singleInstanceLock = options.lock ?? true;
  standin.useSourceLayout(repoRoot, folder('app'));
  await import(/* @vite-ignore */ MAIN_BUNDLE);
  app.emitReady();
  return electron;
}

async function call(e: StandInModule, channel: string, payload: unknown, frame = APP_FRAME) {
  return (await e.standin.invoke(frame, 'ocular:invoke', channel, payload)) as { ok: boolean; result?: any; error?: any };
}

async function quit(e: StandInModule): Promise<void> {
  e.app.quit();
  await vi.waitFor(() => expect(e.standin.quitted).toBe(true), { timeout: 15_000 });
}

describe('the desktop main process', () => {
  let e: StandInModule;
  let ws: string;
  beforeAll(async () => {
    e = await bootMain();
    await vi.waitFor(() => expect(e.standin.forks).toHaveLength(1));
    ws = folder('ws');
  });
  afterAll(async () => {
    if (e && !e.standin.quitted) await quit(e);
  });

  it('makes ocular:// privileged before ready and loads a sandboxed window from it', () => {
    expect(e.standin.lockRequests).toBe(1);
    expect(e.standin.privilegedSchemes).toEqual([
      { scheme: 'ocular', privileges: { standard: true, secure: true, supportFetchAPI: true } },
    ]);
    const [win] = e.BrowserWindow.getAllWindows();
    expect(win!.webContents.getURL()).toBe(APP_FRAME);
    expect(win!.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
    expect(fs.existsSync(win!.options.webPreferences.preload)).toBe(true);
  });

  it('serves the renderer with the strict CSP, and nothing outside it', async () => {
    const page = await e.standin.fetch('ocular://app/index.html');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'; script-src 'self';/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toMatch(/<div id="root">/);
    expect((await e.standin.fetch('ocular://app/')).status).toBe(200);
    for (const url of [
      'ocular://app/..%2f..%2fpackage.json',
      'ocular://app/%2e%2e/%2e%2e/package.json',
      'ocular://app/..%5c..%5cpackage.json',
      'ocular://app/assets/nothing-here.js',
      'ocular://app/%00index.html',
      'ocular://workspace/index.html',
      'ocular://other/index.html',
    ])
      expect((await e.standin.fetch(url)).status, url).toBe(404);
    expect((await e.standin.fetch('ocular://app/index.html', { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('answers IPC from the app frame through the backend process, and refuses other frames', async () => {
    expect(await call(e, 'app.info', {})).toMatchObject({ ok: true, result: { transport: 'electron', workspace: null } });
    for (const frame of ['https://evil.example/', 'ocular://workspace/x.html', 'file:///etc/passwd', '', 'not a url'])
      expect(await call(e, 'app.info', {}, frame), frame).toEqual({
        ok: false,
        error: { code: 'unauthorized', message: 'IPC from an untrusted frame was refused.' },
      });
    expect(await call(e, 'fs.readFile', {})).toMatchObject({ ok: false, error: { code: 'unknown_channel' } });
    // NaN survives IPC's structured clone (JSON would have sent null); the contract refuses it either way.
    expect(await call(e, 'jobs.list', { limit: NaN })).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    e.standin.openDialogAnswers.push('/chosen/folder');
    expect(await e.standin.invoke(APP_FRAME, 'ocular:pick-folder', 'open')).toBe('/chosen/folder');
    expect(await e.standin.invoke('https://evil.example/', 'ocular:pick-folder', 'open')).toBeNull();
    expect(await e.standin.invoke(APP_FRAME, 'ocular:backend-status')).toMatchObject({ state: 'running' });
  });

  it('serves workspace files under the app origin, never as active content', async () => {
    expect((await e.standin.fetch('ocular://app/files/a.png')).status).toBe(404); // no workspace open yet
    expect(await call(e, 'workspace.create', { path: ws })).toMatchObject({ ok: true });
    fs.mkdirSync(path.join(ws, 'images'));
    fs.writeFileSync(path.join(ws, 'images', 'a b.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    fs.writeFileSync(path.join(ws, 'note.html'), '<script>alert(1)</script>');
    fs.symlinkSync(path.join(repoRoot, 'package.json'), path.join(ws, 'escape.json'));
    const image = await e.standin.fetch('ocular://app/files/images/a%20b.png');
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer())).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const html = await e.standin.fetch('ocular://app/files/note.html');
    expect(html.headers.get('content-type')).toBe('application/octet-stream');
    expect(html.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(html.headers.get('content-security-policy')).toMatch(/sandbox/);
    expect(html.headers.get('x-content-type-options')).toBe('nosniff');
    for (const url of [
      'ocular://app/files/workspace.sqlite',
      'ocular://app/files/workspace.lock',
      'ocular://app/files/escape.json',
      'ocular://app/files/..%2f..%2fetc%2fpasswd',
      'ocular://app/files/images/..%2f..%2f..%2fetc%2fpasswd',
      'ocular://app/files/',
      'ocular://workspace/images/a%20b.png',
    ])
      expect((await e.standin.fetch(url)).status, url).toBe(404);
  });

  it('brings its window forward when a second instance starts', () => {
    const [win] = e.BrowserWindow.getAllWindows();
    win!.minimize();
    const focused = win!.focusCount;
    e.app.emit('second-instance', {}, ['ocular'], '/home/user', {});
    expect(win!.isMinimized()).toBe(false);
    expect(win!.focusCount).toBe(focused + 1);
    expect(e.BrowserWindow.getAllWindows()).toHaveLength(1);
  });

  it('reloads a crashed renderer, and asks before reloading one that keeps crashing', async () => {
    const [win] = e.BrowserWindow.getAllWindows();
    const gone = (reason: string) => win!.webContents.emit('render-process-gone', {}, { reason, exitCode: 139 });
    gone('clean-exit');
    expect(win!.webContents.reloads).toBe(0);
    gone('crashed');
    gone('oom');
    gone('crashed');
    expect(win!.webContents.reloads).toBe(3);
    e.standin.messageBoxAnswers.push(0); // "Reload"
    gone('crashed');
    await expect.poll(() => win!.webContents.reloads).toBe(4);
    const asked = e.standin.dialogs.find((d) => d.kind === 'message');
    expect(asked?.args[1]).toMatchObject({ message: 'The Ocular window keeps crashing.', buttons: ['Reload', 'Quit'] });
  });

  it('restarts a crashed backend, tells the window, and answers again', async () => {
    const [win] = e.BrowserWindow.getAllWindows();
    const sent = win!.webContents.sent.length;
    process.kill(e.standin.forks.at(-1)!.pid!, 'SIGKILL');
    await expect.poll(() => e.standin.forks.length, { timeout: 10_000 }).toBe(2);
    await expect.poll(async () => (await call(e, 'app.info', {})).ok, { timeout: 10_000 }).toBe(true);
    const after = win!.webContents.sent.slice(sent);
    expect(after).toContainEqual({ channel: 'ocular:event', args: [{ type: 'workspace.changed', workspace: null }] });
    const statuses = after.filter((m) => m.channel === 'ocular:backend-status').map((m) => m.args[0] as { state: string; reason?: string });
    expect(statuses.map((s) => s.state)).toEqual(['restarting', 'running']);
    expect(statuses[0]!.reason).toBe('exit code 137');
  });

  it('closes the workspace and stops the backend when Windows ends the session', async () => {
    expect(await call(e, 'workspace.open', { path: ws })).toMatchObject({ ok: true });
    const backend = e.standin.forks.at(-1)!;
    const exited = new Promise<number>((resolve) => backend.once('exit', resolve));
    e.BrowserWindow.getAllWindows()[0]!.emit('session-end', { reasons: ['shutdown'] });
    await exited;
    expect(fs.existsSync(path.join(ws, 'workspace.lock'))).toBe(false);
    await new Promise((r) => setTimeout(r, 700));
    expect(e.standin.forks).toHaveLength(2); // not restarted
  });
});

describe('quitting the desktop app', () => {
  it('holds the quit until the backend has closed the workspace', async () => {
    const e = await bootMain();
    const ws = path.join(folder('ws'), 'ws');
    expect(await call(e, 'workspace.create', { path: ws })).toMatchObject({ ok: true });
    e.app.quit();
    expect(e.standin.quitted).toBe(false); // before-quit was held
    await expect.poll(() => e.standin.quitted, { timeout: 15_000 }).toBe(true);
    expect(fs.existsSync(path.join(ws, 'workspace.lock'))).toBe(false);
    expect(e.standin.forks.at(-1)!.pid).toBeUndefined();
  });
});

describe('a second launch', () => {
  it('quits at once when another instance holds the lock: no backend, no window, no handlers', async () => {
    const e = await bootMain({ lock: false });
    expect(e.standin.quitted).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(e.standin.forks).toHaveLength(0);
    expect(e.BrowserWindow.getAllWindows()).toHaveLength(0);
    expect(e.standin.ipcHandlers.size).toBe(0);
  });
});
