/**
 * Electron main process: a thin shell. It owns windows, the custom protocol and the IPC bridge;
 * the store, jobs and every contract handler run in the backend utility process (backend-host.ts).
 *
 * Security: contextIsolation + sandbox, no nodeIntegration, strict CSP, navigation and new windows
 * blocked, permissions denied, every IPC call checked against the app's own origin and channel list.
 *
 * Lifecycle: one instance per user (a second launch focuses the first one's window, since two
 * backends would share userData), a crashed renderer is reloaded, and the backend is shut down
 * cleanly on quit and when Windows ends the session (a window's session-end; before-quit is skipped).
 */
import { app, BrowserWindow, dialog, ipcMain, protocol, session, shell, type IpcMainInvokeEvent } from 'electron';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isChannel, type BackendEvent } from '../contract/contract.js';
import { contentSecurityPolicy } from '../core/util/csp.js';
import { APP_ORIGIN, SCHEME, appProtocolHandler, isTrustedFrameUrl } from './app-protocol.js';
import { BackendHost } from './backend-host.js';
import type { BackendStatus } from './backend-messages.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const devServerUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
const rendererDir = path.join(here, '..', 'renderer');
/** A window whose renderer crashes this often within a minute is not reloaded again without asking. */
const MAX_RENDERER_CRASHES = 3;
/** Windows ends a session a few seconds after telling the app: stop the backend within that. */
const SESSION_END_TIMEOUT_MS = 3000;

protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

let workspaceDir: string | null = null;
const windows = new Set<BrowserWindow>();

function broadcast(channel: string, payload: unknown): void {
  for (const win of windows) if (!win.isDestroyed()) win.webContents.send(channel, payload);
}

const host = new BackendHost({
  entry: path.join(here, 'backend.js'),
  onEvent: (event: BackendEvent) => broadcast('ocular:event', event),
  onWorkspaceDir: (dir) => {
    workspaceDir = dir;
  },
  onStatus: (status: BackendStatus) => broadcast('ocular:backend-status', status),
});

/** The Electron-ABI build of better-sqlite3: packaged under resources/, or from `npm run rebuild:electron`. */
function sqliteBinding(): string {
  const candidate = app.isPackaged
    ? path.join(process.resourcesPath, 'native', 'better_sqlite3.node')
    : path.join(app.getAppPath(), 'out', 'native-electron', 'better_sqlite3.node');
  if (!fs.existsSync(candidate)) {
    throw new Error(
      `better-sqlite3 is not built for Electron ${process.versions.electron}. Run \`npm run rebuild:electron\` (npm start does this).`,
    );
  }
  return candidate;
}

function isTrustedSender(event: IpcMainInvokeEvent): boolean {
  return isTrustedFrameUrl(event.senderFrame?.url, devServerUrl);
}

function registerIpc(): void {
  ipcMain.handle('ocular:invoke', async (event, channel: unknown, payload: unknown) => {
    if (!isTrustedSender(event)) return { ok: false, error: { code: 'unauthorized', message: 'IPC from an untrusted frame was refused.' } };
    if (!isChannel(channel))
      return { ok: false, error: { code: 'unknown_channel', message: `Unknown channel ${JSON.stringify(channel)}.` } };
    return host.invoke(channel, payload); // the backend validates the payload against the contract
  });
  // Shell-only calls: a native folder picker, and the backend process's own state.
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
  ipcMain.handle('ocular:backend-status', (event) => (isTrustedSender(event) ? host.status() : null));
  ipcMain.handle('ocular:restart-backend', (event) => {
    if (isTrustedSender(event)) host.restartNow();
  });
}

function hardenSession(): void {
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  if (devServerUrl) {
    // The dev server injects an inline script for React refresh, and workspace files come from
    // ocular://app, another origin than the dev server; production gets the strict policy.
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

/** Reload a crashed renderer, unless it keeps crashing: then ask. */
function reloadOnCrash(win: BrowserWindow): void {
  const crashes: number[] = [];
  win.webContents.on('render-process-gone', (_event, details) => {
    if (details.reason === 'clean-exit' || win.isDestroyed()) return;
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && crashes[0]! < now - 60_000) crashes.shift();
    if (crashes.length <= MAX_RENDERER_CRASHES) return win.webContents.reload();
    void dialog
      .showMessageBox(win, {
        type: 'error',
        message: 'The Ocular window keeps crashing.',
        detail: `Its renderer process ended ${crashes.length} times in a minute (last: ${details.reason}, exit code ${details.exitCode}).`,
        buttons: ['Reload', 'Quit'],
        defaultId: 0,
      })
      .then(({ response }) => {
        crashes.length = 0;
        if (response === 0 && !win.isDestroyed()) win.webContents.reload();
        else app.quit();
      });
  });
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
  reloadOnCrash(win);
  // Windows shutdown, restart or logoff: before-quit is not emitted and the process ends within seconds.
  win.on('session-end', () => {
    if (!quitting) void shutDownBackend(SESSION_END_TIMEOUT_MS);
  });
  void win.loadURL(devServerUrl ?? `${APP_ORIGIN}/index.html`);
}

/** A second launch: bring this instance's window to the front instead. */
function focusExistingWindow(): void {
  const [win] = windows;
  if (!win) return createWindow();
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}

let quitting = false;
/** Close the workspace (running jobs become interrupted, resumable) and stop the backend, once. */
function shutDownBackend(timeoutMs?: number): Promise<void> {
  quitting = true;
  return host.stop(timeoutMs);
}

function startShell(): void {
  app.on('second-instance', focusExistingWindow);
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
    protocol.handle(SCHEME, appProtocolHandler({ rendererDir, workspaceDir: () => workspaceDir }));
    registerIpc();
    const resources = app.isPackaged ? path.join(process.resourcesPath, 'resources') : path.join(app.getAppPath(), 'resources');
    host.start({
      OCULAR_SQLITE_BINDING: binding,
      OCULAR_CONFIG_DIR: app.getPath('userData'),
      OCULAR_RESOURCES: resources,
      OCULAR_INSTALL: app.isPackaged ? 'package' : 'source',
    });
    createWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow();
    });
  });

  app.on('before-quit', (event) => {
    if (quitting) return;
    event.preventDefault();
    void shutDownBackend().finally(() => app.quit());
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}

// Two instances would run two backends over the same userData and workspace: the second one quits.
if (app.requestSingleInstanceLock()) startShell();
else app.quit();
