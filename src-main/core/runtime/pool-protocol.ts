import type { Device, RuntimeDiagnostics } from '../../contract/contract.js';
import type { GenerateOptions } from '../generation/generate.js';
import type { PrefixInputs } from '../generation/prefix.js';
import type { SaeTrainSpec } from '../sae/train-graph.js';
/** Messages between the session pool and its host processes. Tensors travel by structured clone. */
export type { Device };

export interface WireTensor {
  type: 'float32' | 'int64' | 'int32' | 'bool' | 'float16' | 'uint8';
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
}

export interface LoadedSession {
  sessionId: number;
  inputNames: string[];
  outputNames: string[];
  /** The execution provider the session actually uses. */
  executionProvider: 'cpu' | 'cuda';
  /** Why a requested GPU session runs on CPU; null when it got what it asked for. */
  fallbackReason: string | null;
}

export type { RuntimeDiagnostics };

export type ToHost =
  | { type: 'load'; id: number; modelPath: string; device: Device }
  | { type: 'run'; id: number; sessionId: number; feeds: Record<string, WireTensor>; outputs?: string[]; carry?: CarrySpec }
  | { type: 'drop-carry'; id: number; key: string }
  | { type: 'release'; id: number; sessionId: number }
  | { type: 'diagnostics'; id: number }
  | { type: 'generate'; id: number; decoder: number; embed: number; options: HostGenerateOptions };

/**
 * State a host keeps between runs (an SAE's weights and optimiser moments during training), so it
 * crosses processes only when asked for: each pair [output, input] feeds the run's output back as
 * that input of the next run under the same key. Feeds given explicitly override carried ones;
 * carried outputs are returned only when listed in `keep`.
 */
export interface CarrySpec {
  key: string;
  pairs: Array<[output: string, input: string]>;
  keep?: string[];
  /**
   * The session is the sparse step's encoder (core/sae/sparse-train.ts): the run is a chunk of
   * TopK / BatchTopK training with the chunk graph's feeds and outputs, the state held by the host.
   */
  sparse?: SaeTrainSpec;
}

/** Generation run inside a host, so the KV cache never leaves the process that owns the session. */
/** Generation in a pool host: the prefix comes as embeddings, or as token ids and vision inputs the host merges (prefix.ts). */
export type HostGenerateOptions = Omit<GenerateOptions, 'step' | 'embed' | 'prefix'> & { prefix: GenerateOptions['prefix'] | PrefixInputs };

export type FromHost =
  | { type: 'ready'; pid: number }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: string };

/**
 * Feeds fit to send: structured clone copies a typed array's whole buffer, not just the view, so
 * a view into a large shard (a chunk of rows) would cross each process hop as the entire shard.
 * Views smaller than their buffer are copied to their own buffer; whole buffers pass unchanged.
 */
export function compactFeeds(feeds: Record<string, WireTensor>): Record<string, WireTensor> {
  const out: Record<string, WireTensor> = {};
  for (const [name, t] of Object.entries(feeds))
    out[name] = t.data.byteLength < t.data.buffer.byteLength ? { ...t, data: t.data.slice() as WireTensor['data'] } : t;
  return out;
}

/** Feeds whose data are fresh copies (safe to transfer: the caller's buffers stay intact), and those copies' buffers. */
export function ownedFeeds(feeds: Record<string, WireTensor>): [Record<string, WireTensor>, ArrayBuffer[]] {
  const out: Record<string, WireTensor> = {};
  const buffers: ArrayBuffer[] = [];
  for (const [name, t] of Object.entries(feeds)) {
    const data = t.data.slice() as WireTensor['data'];
    buffers.push(data.buffer as ArrayBuffer);
    out[name] = { ...t, data };
  }
  return [out, buffers];
}
