/**
 * Electron main process: a thin shell. It owns windows, the custom protocol and the IPC bridge;
 * the store, jobs and every contract handler run in the backend utility process (backend-host.ts).
 *
 * Security: contextIsolation + sandbox, no nodeIntegration, strict CSP, navigation and new windows
 * blocked, permissions denied, every IPC call checked against the app's own origin and channel list.
 */
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session, shell, type IpcMainInvokeEvent } from 'electron';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isChannel, type BackendEvent } from '../contract/contract.js';
import { contentSecurityPolicy } from '../core/util/csp.js';
import { resolveInside, resolveWorkspaceFile } from '../core/util/safe-path.js';
import { BackendHost } from './backend-host.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SCHEME = 'ocular';
const APP_ORIGIN = `${SCHEME}://app`;
const devServerUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
const rendererDir = path.join(here, '..', 'renderer');

protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

let workspaceDir: string | null = null;
const windows = new Set<BrowserWindow>();

/** The Electron-ABI build of better-sqlite3: packaged under resources/, or from `npm run rebuild:electron`. */
function sqliteBinding(): string {
  const candidates = app.isPackaged
    ? [path.join(process.resourcesPath, 'native', 'better_sqlite3.node')]
    : [path.join(app.getAppPath(), 'out', 'native-electron', 'better_sqlite3.node')];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) {
    throw new Error(
      `better-sqlite3 is not built for Electron ${process.versions.electron}. Run \`npm run rebuild:electron\` (npm start does this).`,
    );
  }
  return found;
}

const host = new BackendHost({
  entry: path.join(here, 'backend.js'),
  onEvent: (event: BackendEvent) => {
    for (const win of windows) if (!win.isDestroyed()) win.webContents.send('ocular:event', event);
  },
  onWorkspaceDir: (dir) => {
    workspaceDir = dir;
  },
});

function isTrustedSender(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url;
  if (!url) return false;
  try {
    const parsed = new URL(url);
    if (devServerUrl) return parsed.origin === new URL(devServerUrl).origin;
    // Node reports custom-scheme origins as "null", so compare scheme and host directly.
    return parsed.protocol === `${SCHEME}:` && parsed.host === 'app';
  } catch {
    return false;
  }
}

function registerIpc(): void {
  ipcMain.handle('ocular:invoke', async (event, channel: unknown, payload: unknown) => {
    if (!isTrustedSender(event)) return { ok: false, error: { code: 'unauthorized', message: 'IPC from an untrusted frame was refused.' } };
    if (!isChannel(channel))
      return { ok: false, error: { code: 'unknown_channel', message: `Unknown channel ${JSON.stringify(channel)}.` } };
    return host.invoke(channel, payload); // the backend validates the payload against the contract
  });
  // The one shell-only call: a native folder picker has no meaning in a browser.
  ipcMain.handle('ocular:pick-folder', async (event, purpose: unknown) => {
    if (!isTrustedSender(event) || (purpose !== 'create' && purpose !== 'open')) return null;
    const win = BrowserWindow.fromWebContents(event.sender);
    const options: Electron.OpenDialogOptions = {
      title: purpose === 'create' ? 'Choose a folder for the new workspace' : 'Open an Ocular workspace folder',
      properties: ['openDirectory', 'createDirectory'],
    };
    const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });
}

function registerProtocol(): void {
  protocol.handle(SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host === 'app') {
      const file = resolveInside(rendererDir, url.pathname === '/' ? 'index.html' : url.pathname);
      if (!file) return new Response('Not found', { status: 404 });
      const res = await net.fetch(pathToFileURL(file).toString());
      const headers = new Headers(res.headers);
      headers.set('Content-Security-Policy', contentSecurityPolicy({ img: [`${SCHEME}:`] }));
      headers.set('X-Content-Type-Options', 'nosniff');
      return new Response(res.body, { status: res.status, headers });
    }
    if (url.host === 'workspace') {
      const file = workspaceDir ? resolveWorkspaceFile(workspaceDir, url.pathname) : null;
      if (!file || !fs.statSync(file).isFile()) return new Response('Not found', { status: 404 });
      return net.fetch(pathToFileURL(file).toString());
    }
    return new Response('Not found', { status: 404 });
  });
}

function hardenSession(): void {
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  if (devServerUrl) {
    // The dev server injects an inline script for React refresh; production gets the strict policy above.
    session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
      callback({
        responseHeaders: {
          ...details.responseHeaders,
          'Content-Security-Policy': [
            contentSecurityPolicy({ img: [`${SCHEME}:`], connect: [new URL(devServerUrl).origin.replace('http', 'ws')] }).replace(
              "script-src 'self'",
              "script-src 'self' 'unsafe-inline'",
            ),
          ],
        },
      });
    });
  }
}

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    title: 'Ocular',
    show: false,
    webPreferences: {
      preload: path.join(here, '..', 'preload', 'index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  });
  windows.add(win);
  win.on('closed', () => windows.delete(win));
  win.once('ready-to-show', () => win.show());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (event, url) => {
    const allowed = devServerUrl ? url.startsWith(devServerUrl) : url.startsWith(`${APP_ORIGIN}/`);
    if (!allowed) event.preventDefault();
  });
  void win.loadURL(devServerUrl ?? `${APP_ORIGIN}/index.html`);
}

app.whenReady().then(() => {
  let binding: string;
  try {
    binding = sqliteBinding();
  } catch (err) {
    dialog.showErrorBox('Ocular cannot start', (err as Error).message);
    app.exit(1);
    return;
  }
  hardenSession();
  registerProtocol();
  registerIpc();
  const resources = app.isPackaged ? path.join(process.resourcesPath, 'resources') : path.join(app.getAppPath(), 'resources');
  host.start({ OCULAR_SQLITE_BINDING: binding, OCULAR_CONFIG_DIR: app.getPath('userData'), OCULAR_RESOURCES: resources });
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting) return;
  event.preventDefault();
  quitting = true;
  void host.stop().finally(() => app.quit());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
