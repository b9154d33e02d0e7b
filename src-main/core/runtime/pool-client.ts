/**
 * What model work needs from the session pool. The backend's SessionPool provides it directly; a job
 * in a worker thread gets a proxy that forwards each call to the backend's pool over the worker's
 * message port, so sessions are shared across jobs and a crashed pool process fails the job with
 * the cause.
 */
import type { GenerateResult } from '../generation/generate.js';
import type { CarrySpec, Device, HostGenerateOptions, WireTensor } from './pool-protocol.js';
import type { SessionHandle } from './session-pool.js';

export interface PoolClient {
  load(modelPath: string, device?: Device): Promise<SessionHandle>;
  loadTogether(modelPaths: string[], device?: Device): Promise<SessionHandle[]>;
  run(handle: SessionHandle, feeds: Record<string, WireTensor>, outputs?: string[], carry?: CarrySpec): Promise<Record<string, WireTensor>>;
  /** Frees state carried under a key in the process holding `handle`. */
  dropCarry(handle: SessionHandle, key: string): Promise<void>;
  generate(decoder: SessionHandle, embed: SessionHandle, options: HostGenerateOptions): Promise<GenerateResult>;
}

export const POOL_METHODS = ['load', 'loadTogether', 'run', 'dropCarry', 'generate'] as const;
export type PoolMethod = (typeof POOL_METHODS)[number];
