/**
 * Model diffing compares two checkpoints of one architecture (a base model and its fine-tune) through
 * one SAE, so both must share every structural fact: the config (all keys but versions and dtype
 * labels) and, per ONNX component, its inputs, outputs, tower depth, width and taps (read from the
 * graphs, never the weights). Anything else is refused, naming the first field that differs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OcularError } from '../errors.js';
import { inspectModel } from '../model/inspect.js';

/** Config keys that label a checkpoint rather than shape it. */
const NOT_STRUCTURAL = new Set(['transformers_version', '_name_or_path', 'dtype', 'torch_dtype', 'use_cache']);

function readConfig(dir: string): Record<string, unknown> {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new OcularError('invalid_request', `${dir} has no config.json; model diffing needs a model folder.`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** The first path at which a and b differ (null when equal), ignoring NOT_STRUCTURAL keys. */
export function firstDifference(a: unknown, b: unknown, at = ''): { at: string; a: unknown; b: unknown } | null {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) return { at, a, b };
  if (a && typeof a === 'object') {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].filter((k) => !NOT_STRUCTURAL.has(k)).sort();
    for (const k of keys) {
      const d = firstDifference(ao[k], bo[k], at ? `${at}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : { at, a, b };
}

/** Throws unless `base` and `tuned` are two checkpoints of the same architecture. */
export function checkSameArchitecture(base: string, tuned: string): void {
  const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v));
  const cfg = firstDifference(readConfig(base), readConfig(tuned));
  if (cfg)
    throw new OcularError(
      'invalid_request',
      `Not one architecture: config ${cfg.at || '(root)'} is ${show(cfg.a)} in ${base} but ${show(cfg.b)} in ${tuned}.`,
    );
  const shape = (dir: string) =>
    inspectModel(dir).components.map((c) => ({
      role: c.role,
      inputs: c.inputs.map((i) => [i.name, i.type, i.shape]),
      outputs: c.outputs.map((o) => [o.name, o.type, o.shape]),
      tower: c.tower && { layers: c.tower.layers, width: c.tower.width, taps: c.tower.taps },
    }));
  const g = firstDifference(shape(base), shape(tuned));
  if (g)
    throw new OcularError(
      'invalid_request',
      `Not one architecture: graphs differ at ${g.at} (${show(g.a)} in ${base}, ${show(g.b)} in ${tuned}).`,
    );
}
