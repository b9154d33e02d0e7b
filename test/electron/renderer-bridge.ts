/**
 * The renderer half of the desktop e2e harness, injected into the page before its scripts run
 * (playwright's addInitScript), followed by the real preload bundle (out/preload/index.cjs). It gives
 * that preload the `require('electron')` a sandboxed preload gets: contextBridge.exposeInMainWorld
 * (a frozen copy on window, as the isolated world's copy is read-only to the page) and ipcRenderer,
 * whose invoke and events travel to the main process under Node (desktop-harness.ts) with
 * structured-clone semantics: arguments are structuredClone()d here first (throwing for what IPC
 * cannot carry), then carried losslessly by clone-codec. The page's own URL goes with each call, as
 * Electron knows each call's frame. Under Electron this file does not exist; the preload is unchanged.
 */
import { decodeCloneable, encodeCloneable } from './clone-codec';

type Listener = (event: unknown, ...args: unknown[]) => void;

const listeners = new Map<string, Set<Listener>>();
let events: EventSource | null = null;

function connectEvents(): void {
  if (events) return;
  events = new EventSource('/__electron/events');
  events.onmessage = (message) => {
    const { channel, args } = JSON.parse(message.data as string) as { channel: string; args: any };
    const decoded = decodeCloneable(args) as unknown[];
    for (const listener of listeners.get(channel) ?? []) listener({ sender: ipcRenderer }, ...decoded);
  };
  // webContents.reload() in the main process.
  events.addEventListener('reload', () => location.reload());
}

const ipcRenderer = {
  async invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    const cloned = structuredClone(args);
    const res = await fetch('/__electron/invoke', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ frame: location.href, channel, args: encodeCloneable(cloned) }),
    });
    const body = (await res.json()) as { ok: true; value: any } | { ok: false; message: string };
    if (!body.ok) throw new Error(body.message);
    return decodeCloneable(body.value);
  },
  on(channel: string, listener: Listener) {
    connectEvents();
    if (!listeners.has(channel)) listeners.set(channel, new Set());
    listeners.get(channel)!.add(listener);
    return ipcRenderer;
  },
  removeListener(channel: string, listener: Listener) {
    listeners.get(channel)?.delete(listener);
    return ipcRenderer;
  },
};

const contextBridge = {
  exposeInMainWorld(key: string, api: Record<string, unknown>): void {
    Object.defineProperty(window, key, { value: Object.freeze({ ...api }), enumerable: true });
  },
};

(window as unknown as { __ocularPreloadRequire: (name: string) => unknown }).__ocularPreloadRequire = (name: string) => {
  if (name === 'electron') return { contextBridge, ipcRenderer };
  throw new Error(`Cannot find module '${name}' (a sandboxed preload may require only electron, events, timers and url)`);
};
