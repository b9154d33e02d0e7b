/** Messages between the Electron main process and the backend utility process. */
import type { BackendEvent } from '../contract/contract.js';
import type { Envelope } from '../core/backend/backend.js';

export type ToBackend = { type: 'invoke'; id: number; channel: string; payload: unknown } | { type: 'shutdown' };

export type FromBackend =
  | { type: 'result'; id: number; envelope: Envelope }
  | { type: 'event'; event: BackendEvent }
  | { type: 'workspace-dir'; dir: string | null }
  | { type: 'closed' };

/**
 * Whether the backend process is up, as the window shows it (the preload's onBackendStatus; the
 * renderer mirrors this type in api/client.ts, since it imports nothing from the main process).
 */
export type BackendStatus =
  | { state: 'starting' }
  | { state: 'running'; pid: number | null }
  | { state: 'restarting'; reason: string; delayMs: number }
  | { state: 'stopped'; reason: string };
