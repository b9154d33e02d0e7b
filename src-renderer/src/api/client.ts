/**
 * The renderer's side of the contract. Inside the desktop app the preload bridge (window.ocular)
 * carries calls over Electron IPC; in a browser (`ocular serve`) they go over HTTP and events over
 * a WebSocket. Pages call `invoke` and `subscribe` and never know which transport is underneath.
 */
import type { BackendEvent, Channel, ContractErrorPayload, RequestOf, ResponseOf } from '@contract/contract';

type Envelope = { ok: true; result: unknown } | { ok: false; error: ContractErrorPayload };

/** The desktop backend process's state (mirrors BackendStatus in src-main/electron/backend-messages.ts). */
export type BackendStatus =
  | { state: 'starting' }
  | { state: 'running'; pid: number | null }
  | { state: 'restarting'; reason: string; delayMs: number }
  | { state: 'stopped'; reason: string };

/** What the preload script exposes on window.ocular (see src-preload/index.ts). */
export interface OcularBridge {
  invoke(channel: string, payload: unknown): Promise<Envelope>;
  onEvent(listener: (event: BackendEvent) => void): () => void;
  pickFolder(purpose: 'create' | 'open'): Promise<string | null>;
  backendStatus(): Promise<BackendStatus | null>;
  onBackendStatus(listener: (status: BackendStatus) => void): () => void;
  restartBackend(): Promise<void>;
}

declare global {
  interface Window {
    ocular?: OcularBridge;
  }
}

export class ApiError extends Error {
  constructor(
    readonly code: ContractErrorPayload['code'],
    message: string,
    /** The channel called, for a "details" line (never the headline of a message). */
    readonly channel: string | null = null,
  ) {
    super(message);
  }
}

const bridge = typeof window !== 'undefined' ? window.ocular : undefined;

export async function invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
  let envelope: Envelope;
  if (bridge) {
    envelope = await bridge.invoke(channel, request);
  } else {
    let res: Response;
    try {
      res = await fetch(`/api/invoke/${encodeURIComponent(channel)}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(request),
        credentials: 'same-origin',
      });
    } catch (err) {
      throw new ApiError('internal', `Lost contact with the Ocular server: ${(err as Error).message}`, channel);
    }
    try {
      envelope = (await res.json()) as Envelope;
    } catch {
      throw new ApiError('internal', `The Ocular server answered ${res.status} without a readable body.`, channel);
    }
  }
  if (!envelope.ok) throw new ApiError(envelope.error.code, envelope.error.message, channel);
  return envelope.result as ResponseOf<C>;
}

type Listener = (event: BackendEvent) => void;
const listeners = new Set<Listener>();
let socket: WebSocket | null = null;
let reconnectDelay = 500;

function connectSocket(): void {
  const protocol = location.protocol === 'https:' ? 'wss' : 'ws';
  socket = new WebSocket(`${protocol}://${location.host}/api/events`);
  socket.onopen = () => {
    reconnectDelay = 500;
  };
  socket.onmessage = (msg) => {
    const event = JSON.parse(String(msg.data)) as BackendEvent;
    for (const l of listeners) l(event);
  };
  socket.onclose = () => {
    socket = null;
    if (listeners.size > 0) {
      setTimeout(connectSocket, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 10_000);
    }
  };
}

export function subscribe(listener: Listener): () => void {
  if (bridge) return bridge.onEvent(listener);
  listeners.add(listener);
  if (!socket) connectSocket();
  return () => {
    listeners.delete(listener);
  };
}

/**
 * Workspace files are served from the page's own origin at /files/ (the app protocol and `ocular
 * serve` alike), so images drawn into canvases stay readable. Only the desktop dev server (vite,
 * http://localhost) is another origin than the app protocol that serves them.
 */
const filesBase = bridge && (import.meta as { env?: { DEV?: boolean } }).env?.DEV ? 'ocular://app/files/' : '/files/';

/** URL of a file inside the open workspace. */
export function workspaceFileUrl(relativePath: string): string {
  return `${filesBase}${relativePath.split('/').map(encodeURIComponent).join('/')}`;
}

export const isDesktop = Boolean(bridge);

export function pickFolder(purpose: 'create' | 'open'): Promise<string | null> {
  if (!bridge) return Promise.resolve(null);
  return bridge.pickFolder(purpose);
}

/** The desktop backend process's state; null under `ocular serve`, which has no such process. */
export function backendStatus(): Promise<BackendStatus | null> {
  return bridge ? bridge.backendStatus() : Promise.resolve(null);
}

export function subscribeBackendStatus(listener: (status: BackendStatus) => void): () => void {
  return bridge ? bridge.onBackendStatus(listener) : () => undefined;
}

/** Start the desktop backend again after it stopped for good. */
export function restartBackend(): Promise<void> {
  return bridge ? bridge.restartBackend() : Promise.resolve();
}
