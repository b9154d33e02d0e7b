/**
 * A stand-in for the `electron` module, so Ocular's main-process code runs under Node: vitest
 * aliases `electron` to this file, and the desktop e2e harness (desktop-harness.ts) loads it through
 * a resolve hook. It implements what src-main/electron uses, as Electron 39 documents it
 * (node_modules/electron/electron.d.ts) and its source behaves (lib/browser/api/utility-process.ts):
 *
 * - utilityProcess.fork runs the entry in a child Node process with `process.parentPort`
 *   (parent-port.cjs); messages are structured-cloned both ways (serialization: 'advanced', as a
 *   MessagePort does). The handle is an EventEmitter with 'spawn', 'message' (the data), 'exit'
 *   (code) and, when the child dies of a V8 fatal error, 'error' (type, location, report) before
 *   'exit', so an unheard 'error' throws ERR_UNHANDLED_ERROR exactly as it does in Electron.
 *   stdio: 'pipe' gives stdout/stderr streams; stdin other than 'ignore' is refused. kill() sends
 *   SIGTERM. A signal's exit code is reported as 128 + its number (Electron reports waitpid's).
 * - app: whenReady/ready, requestSingleInstanceLock (answered from `standin.singleInstanceLock`),
 *   quit() emitting before-quit (cancellable) then will-quit and quit, exit() emitting nothing.
 * - protocol.handle, ipcMain.handle, BrowserWindow/webContents, dialog and session record what the
 *   code registers or does, for tests (and the harness) to drive through `standin`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The child side of utilityProcess; beside this file in test/electron, and in out/test-electron when bundled. */
const PARENT_PORT = path.join(here, 'parent-port.cjs');

type Listener = (...args: any[]) => void;

// ---------------------------------------------------------------- utilityProcess

interface ForkOptions {
  env?: NodeJS.ProcessEnv;
  execArgv?: string[];
  cwd?: string;
  stdio?: 'pipe' | 'ignore' | 'inherit' | Array<'pipe' | 'ignore' | 'inherit'>;
  serviceName?: string;
}

function stdioModes(stdio: ForkOptions['stdio']): ['pipe' | 'ignore' | 'inherit', 'pipe' | 'ignore' | 'inherit'] {
  if (stdio === undefined) return ['inherit', 'inherit'];
  if (typeof stdio === 'string') return [stdio, stdio];
  if (stdio.length < 3) throw new Error('configuration missing for stdin, stdout or stderr.');
  if (stdio[0] !== 'ignore') throw new Error('stdin value other than ignore is not supported.');
  return [stdio[1]!, stdio[2]!];
}

/** The native-guard preload of the test process, passed on so the backend's threads are guarded too. */
function guardArgs(): string[] {
  const i = process.execArgv.findIndex((a, j) => a === '--require' && process.execArgv[j + 1]?.endsWith('native-guard.cjs'));
  return i === -1 ? [] : process.execArgv.slice(i, i + 2);
}

export class UtilityProcess extends EventEmitter {
  #child: ChildProcess | null;
  readonly stdout: PassThrough | null;
  readonly stderr: PassThrough | null;

  constructor(modulePath: string, args: string[] = [], options: ForkOptions = {}) {
    super();
    if (!modulePath) throw new Error('Missing UtilityProcess entry script.');
    const [out, err] = stdioModes(options.stdio);
    this.stdout = out === 'pipe' ? new PassThrough() : null;
    this.stderr = err === 'pipe' ? new PassThrough() : null;
    const child = fork(modulePath, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      execArgv: [...guardArgs(), '--require', PARENT_PORT, ...(options.execArgv ?? [])],
      serialization: 'advanced',
      // stderr is always read here, to see a V8 fatal error; it is passed on as asked.
      stdio: ['ignore', out === 'pipe' ? 'pipe' : out, 'pipe', 'ipc'],
    });
    this.#child = child;
    if (this.stdout) child.stdout!.pipe(this.stdout);
    let fatal: string | null = null;
    let errText = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      errText = (errText + chunk.toString()).slice(-8192);
      fatal ??= /FATAL ERROR: ([^\n]*)/.exec(errText)?.[1] ?? null;
      if (err === 'pipe') this.stderr!.write(chunk);
      else if (err === 'inherit') process.stderr.write(chunk);
    });
    child.on('spawn', () => this.emit('spawn'));
    child.on('message', (message) => this.emit('message', message));
    child.on('close', (code, signal) => {
      this.#child = null;
      this.stderr?.end();
      if (fatal && signal) this.emit('error', 'FatalError', fatal, '');
      const exitCode = code ?? 128 + (os.constants.signals[signal as NodeJS.Signals] ?? 0);
      this.emit('exit', exitCode);
    });
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  postMessage(message: unknown): void {
    if (this.#child?.connected) this.#child.send(message as never);
  }

  kill(): boolean {
    return this.#child ? this.#child.kill('SIGTERM') : false;
  }
}

export const utilityProcess = {
  fork(modulePath: string, args?: string[], options?: ForkOptions): UtilityProcess {
    const child = new UtilityProcess(modulePath, args, options);
    standin.forks.push(child);
    return child;
  },
};

// ---------------------------------------------------------------- app

class App extends EventEmitter {
  isPackaged = false;
  private ready = false;
  private readonly readyPromise: Promise<void>;
  private markReady!: () => void;

  constructor() {
    super();
    this.readyPromise = new Promise((resolve) => (this.markReady = resolve));
  }

  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Test control: Electron emits 'ready' once, after the process started. */
  emitReady(): void {
    if (this.ready) return;
    this.ready = true;
    this.emit('ready', {});
    this.markReady();
  }

  getPath(name: string): string {
    const p = standin.paths[name];
    if (!p) throw new Error(`Failed to get '${name}' path`);
    return p;
  }

  getAppPath(): string {
    return standin.appPath;
  }

  requestSingleInstanceLock(): boolean {
    standin.lockRequests++;
    return standin.singleInstanceLock;
  }

  quit(): void {
    const event = cancellable();
    this.emit('before-quit', event);
    if (event.defaultPrevented) return;
    const willQuit = cancellable();
    this.emit('will-quit', willQuit);
    if (willQuit.defaultPrevented) return;
    standin.quitted = true;
    this.emit('quit', cancellable(), 0);
  }

  exit(code = 0): void {
    standin.exitCode = code;
  }
}

function cancellable(): { defaultPrevented: boolean; preventDefault(): void } {
  const e = {
    defaultPrevented: false,
    preventDefault() {
      e.defaultPrevented = true;
    },
  };
  return e;
}

export const app = new App();

// ---------------------------------------------------------------- windows

export class WebContents extends EventEmitter {
  private static nextId = 1;
  readonly id = WebContents.nextId++;
  url = '';
  destroyed = false;
  readonly sent: Array<{ channel: string; args: unknown[] }> = [];
  reloads = 0;
  windowOpenHandler: ((details: { url: string }) => { action: 'allow' | 'deny' }) | null = null;

  send(channel: string, ...args: unknown[]): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    // IPC copies its arguments with the structured clone algorithm.
    const cloned = args.map((a) => structuredClone(a));
    this.sent.push({ channel, args: cloned });
    this.emit('ipc-sent', channel, ...cloned);
  }

  reload(): void {
    this.reloads++;
    this.emit('reloaded');
  }

  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'allow' | 'deny' }): void {
    this.windowOpenHandler = handler;
  }

  getURL(): string {
    return this.url;
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }
}

export class BrowserWindow extends EventEmitter {
  static readonly all: BrowserWindow[] = [];
  readonly webContents = new WebContents();
  visible = false;
  minimized = false;
  focusCount = 0;
  destroyed = false;

  constructor(readonly options: Record<string, any> = {}) {
    super();
    BrowserWindow.all.push(this);
    standin.emit('window', this);
  }

  static getAllWindows(): BrowserWindow[] {
    return BrowserWindow.all.filter((w) => !w.destroyed);
  }

  static fromWebContents(wc: WebContents): BrowserWindow | null {
    return BrowserWindow.all.find((w) => w.webContents === wc) ?? null;
  }

  async loadURL(url: string): Promise<void> {
    this.webContents.url = url;
    standin.emit('load', this, url);
    setImmediate(() => this.emit('ready-to-show'));
  }

  show(): void {
    this.visible = true;
    this.minimized = false;
  }

  focus(): void {
    this.focusCount++;
  }

  restore(): void {
    this.minimized = false;
  }

  minimize(): void {
    this.minimized = true;
  }

  isMinimized(): boolean {
    return this.minimized;
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.webContents.destroyed = true;
    this.emit('closed');
    if (BrowserWindow.getAllWindows().length === 0) app.emit('window-all-closed');
  }
}

// ---------------------------------------------------------------- ipc, protocol, session, dialog, shell

type InvokeHandler = (event: any, ...args: any[]) => unknown;

export const ipcMain = {
  handle(channel: string, handler: InvokeHandler): void {
    if (standin.ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    standin.ipcHandlers.set(channel, handler);
  },
  removeHandler(channel: string): void {
    standin.ipcHandlers.delete(channel);
  },
};

export const protocol = {
  registerSchemesAsPrivileged(schemes: Array<{ scheme: string; privileges?: Record<string, boolean> }>): void {
    if (app.isReady()) throw new Error('protocol.registerSchemesAsPrivileged should be called before app is ready');
    standin.privilegedSchemes.push(...schemes);
  },
  handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void {
    if (!app.isReady()) throw new Error('protocol.handle must be called after app is ready');
    standin.protocolHandlers.set(scheme, handler);
  },
};

export const session = {
  defaultSession: {
    permissionRequestHandler: null as Listener | null,
    headersReceived: null as Listener | null,
    setPermissionRequestHandler(handler: Listener): void {
      this.permissionRequestHandler = handler;
    },
    webRequest: {
      onHeadersReceived(handler: Listener): void {
        session.defaultSession.headersReceived = handler;
      },
    },
  },
};

export const dialog = {
  async showOpenDialog(...args: unknown[]): Promise<{ canceled: boolean; filePaths: string[] }> {
    standin.dialogs.push({ kind: 'open', args });
    const answer = standin.openDialogAnswers.shift() ?? standin.defaultOpenDialogAnswer;
    return answer ? { canceled: false, filePaths: [answer] } : { canceled: true, filePaths: [] };
  },
  async showMessageBox(...args: unknown[]): Promise<{ response: number; checkboxChecked: boolean }> {
    standin.dialogs.push({ kind: 'message', args });
    return { response: standin.messageBoxAnswers.shift() ?? 0, checkboxChecked: false };
  },
  showErrorBox(title: string, content: string): void {
    standin.dialogs.push({ kind: 'error', args: [title, content] });
  },
};

export const shell = {
  async openExternal(url: string): Promise<void> {
    standin.externalUrls.push(url);
  },
};

// ---------------------------------------------------------------- test controls

class StandIn extends EventEmitter<{ window: [BrowserWindow]; load: [BrowserWindow, string] }> {
  singleInstanceLock = true;
  lockRequests = 0;
  appPath = process.cwd();
  paths: Record<string, string> = {};
  quitted = false;
  exitCode: number | null = null;
  readonly forks: UtilityProcess[] = [];
  readonly ipcHandlers = new Map<string, InvokeHandler>();
  readonly protocolHandlers = new Map<string, (request: Request) => Response | Promise<Response>>();
  readonly privilegedSchemes: Array<{ scheme: string; privileges?: Record<string, boolean> }> = [];
  readonly dialogs: Array<{ kind: 'open' | 'message' | 'error'; args: unknown[] }> = [];
  readonly openDialogAnswers: string[] = [];
  defaultOpenDialogAnswer: string | null = null;
  readonly messageBoxAnswers: number[] = [];
  readonly externalUrls: string[] = [];

  /**
   * The layout `npm start` runs from, under `scratch`: an app folder holding out/native-electron and
   * resources/ (better-sqlite3's Node build stands in for its Electron build, since this is Node),
   * and a userData folder.
   */
  useSourceLayout(repoRoot: string, scratch: string): void {
    const appDir = path.join(scratch, 'app');
    fs.mkdirSync(path.join(appDir, 'out', 'native-electron'), { recursive: true });
    const binding = path.join(repoRoot, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    fs.symlinkSync(binding, path.join(appDir, 'out', 'native-electron', 'better_sqlite3.node'));
    fs.symlinkSync(path.join(repoRoot, 'resources'), path.join(appDir, 'resources'));
    this.appPath = appDir;
    this.paths.userData = path.join(scratch, 'user-data');
    fs.mkdirSync(this.paths.userData, { recursive: true });
  }

  /** Call an ipcMain.handle handler as a renderer in a frame at `frameUrl` would, arguments and result structured-cloned. */
  async invoke(frameUrl: string, channel: string, ...args: unknown[]): Promise<unknown> {
    const handler = this.ipcHandlers.get(channel);
    if (!handler) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
    const sender = BrowserWindow.getAllWindows()[0]?.webContents ?? new WebContents();
    const event = { sender, senderFrame: { url: frameUrl }, processId: 1, frameId: 1 };
    try {
      return structuredClone(await handler(event, ...args.map((a) => structuredClone(a))));
    } catch (err) {
      throw new Error(`Error invoking remote method '${channel}': ${String(err)}`, { cause: err });
    }
  }

  /** Send a request to a handler registered with protocol.handle, as Chromium would. */
  async fetch(url: string, init?: RequestInit): Promise<Response> {
    const handler = this.protocolHandlers.get(new URL(url).protocol.slice(0, -1));
    if (!handler) throw new Error(`net::ERR_UNKNOWN_URL_SCHEME (${url})`);
    return handler(new Request(url, init));
  }
}

export const standin = new StandIn();

export default { app, BrowserWindow, dialog, ipcMain, protocol, session, shell, utilityProcess };
