/**
 * The app under an e2e test, through either of the renderer's two transports. By default
 * `ocular serve` (HTTP + WebSocket); in the vitest project 'desktop-e2e' (OCULAR_E2E_TRANSPORT=ipc)
 * the desktop app's main process under Node (test/electron/desktop-harness.ts), with the page given
 * the real preload over a structured-cloning IPC stand-in (launchBrowser in browser.ts does that).
 */
import path from 'node:path';
import { startServe, startServer, type RunningServer } from './cli';
import { repoRoot } from './tmp';

export const DESKTOP = process.env.OCULAR_E2E_TRANSPORT === 'ipc';
/** For test names: which way the renderer reaches the backend. */
export const OVER = DESKTOP ? 'in the desktop app (IPC)' : 'over ocular serve (HTTP)';

export interface RunningApp extends RunningServer {
  desktop: boolean;
  /** Desktop only: the folder the next native folder dialog returns. */
  answerFolderDialog(folder: string): Promise<void>;
  /** Desktop only: emit an event on the window's webContents in the main process (render-process-gone, say). */
  emitOnWebContents(event: string, ...args: unknown[]): Promise<void>;
}

/** `ocular serve` arguments (--workspace DIR, --port, --read-only); the desktop app takes --workspace only. */
export async function startApp(args: string[]): Promise<RunningApp> {
  if (!DESKTOP) {
    const serve = await startServe(args);
    const desktopOnly = () => Promise.reject(new Error('ocular serve has no Electron main process'));
    return { ...serve, desktop: false, answerFolderDialog: desktopOnly, emitOnWebContents: desktopOnly };
  }
  const guard = path.join(repoRoot, 'test', 'helpers', 'native-guard.cjs');
  const harness = path.join(repoRoot, 'out', 'test-electron', 'desktop-harness.mjs');
  const running = await startServer(['--require', guard, harness, ...args]);
  const control = async (what: string, body: unknown) => {
    const res = await fetch(`${running.url}__electron/${what}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`the harness refused ${what}: ${res.status}`);
  };
  return {
    ...running,
    desktop: true,
    answerFolderDialog: (folder) => control('dialog', { path: folder }),
    emitOnWebContents: (event, ...args) => control('emit', { event, args }),
  };
}
