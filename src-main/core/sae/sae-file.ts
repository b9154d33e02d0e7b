/**
 * What the format readers share: the SaeFile they produce, reading a foreign cfg.json field by
 * field with messages that name the field, checking a safetensors header against the tensors a
 * config implies (orientation comes from the config, never from shapes), and reading those tensors.
 */
import fs from 'node:fs';
import { OcularError } from '../errors.js';
import type { SaeWeights } from './sae-model.js';
import { readTensor, roundTo, type FloatDtype, type SafetensorsHeader } from './safetensors.js';

export type SaeDtype = 'float32' | 'float16' | 'bfloat16';

export interface SaeFile extends SaeWeights {
  hookName: string | null;
  /** A transcoder's output tap (it reads hookName and predicts this one). */
  hookNameOut?: string | null;
  modelName: string | null;
  format: 'saelens' | 'sparsify';
  /** The dtype the weights are kept in; export writes it wherever the values allow. */
  dtype?: SaeDtype;
  /** SAELens 6 metadata, every field kept (hook_name, model_name, context_size, prepend_bos, ...). */
  metadata?: Record<string, unknown>;
  /** Settings folded into the weights on import, for the record. */
  folded?: string[];
}

export const DTYPE_OF: Record<FloatDtype, SaeDtype> = { F32: 'float32', F64: 'float32', F16: 'float16', BF16: 'bfloat16' };
export const STORAGE_OF: Record<SaeDtype, FloatDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a foreign cfg.json, read field by field
export type Cfg = Record<string, any>;

/** A cfg.json as a JSON object, or a one-line refusal. */
export function readCfg(file: string): Cfg {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new OcularError('invalid_request', `Cannot read ${file}: ${(err as Error).message}`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (err) {
    throw new OcularError('invalid_request', `${file} is not valid JSON (${(err as Error).message}).`);
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg))
    throw new OcularError(
      'invalid_request',
      `${file} must hold a JSON object, not ${cfg === null ? 'null' : Array.isArray(cfg) ? 'an array' : typeof cfg}.`,
    );
  return cfg as Cfg;
}

export function refuse(source: string, message: string): never {
  throw new OcularError('invalid_request', `${source}: ${message}`);
}

/** A positive integer field (d_in, d_sae, k, ...). */
export function positiveInt(source: string, cfg: Cfg, key: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max)
    refuse(source, `${key} must be an integer from 1 to ${max === Number.MAX_SAFE_INTEGER ? 'any size' : max}, got ${JSON.stringify(v)}.`);
  return v;
}

export function optionalBool(source: string, cfg: Cfg, key: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') refuse(source, `${key} must be true or false, got ${JSON.stringify(v)}.`);
  return v;
}

/**
 * Checks that the file holds exactly the expected tensors with exactly the expected shapes (from
 * the config): a missing, extra or mis-shaped tensor is refused by name before any data is read.
 */
export function checkTensors(source: string, header: SafetensorsHeader, expected: Map<string, number[]>): void {
  const extra = [...header.tensors.keys()].filter((n) => !expected.has(n));
  if (extra.length > 0)
    refuse(
      source,
      `has tensor${extra.length > 1 ? 's' : ''} ${extra.join(', ')}, which this configuration does not use; Ocular refuses rather than ignore it.`,
    );
  for (const [name, shape] of expected) {
    const t = header.tensors.get(name);
    if (!t) refuse(source, `has no ${name} tensor, which this configuration needs (shape [${shape}]).`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      const transposed = shape.length === 2 && t.shape.length === 2 && t.shape[0] === shape[1] && t.shape[1] === shape[0];
      refuse(source, `${name} has shape [${t.shape}] but the config implies [${shape}]${transposed ? ' (it is transposed)' : ''}.`);
    }
  }
}

/**
 * The data of every expected tensor, finite, each rounded to `dtype` as the library casts on load.
 * Smallest first, so a bad bias is found before gigabytes of matrices are read.
 */
export function readTensors(header: SafetensorsHeader, names: Iterable<string>, dtype: FloatDtype): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const size = (n: string) => header.tensors.get(n)!.end - header.tensors.get(n)!.start;
  for (const name of [...names].sort((a, b) => size(a) - size(b))) {
    const data = readTensor(header, name, { finite: true }).data;
    if (header.tensors.get(name)!.dtype !== dtype) for (let i = 0; i < data.length; i++) data[i] = roundTo(dtype, data[i]!);
    out.set(name, data);
  }
  return out;
}
