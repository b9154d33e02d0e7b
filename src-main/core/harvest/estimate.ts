/** Disk estimate shown before a harvest starts (rows per item from the model's layout; an estimate, not a promise). */
import fs from 'node:fs';
import type { ModelRecord } from '../../contract/contract.js';
import { HarvestStore, type HarvestParams } from './harvest-store.js';

/** Text tokens in a benchmark prompt, roughly: the chat template and a short question. */
const TEXT_TOKENS_PER_ITEM = 24;

export function estimateHarvest(
  model: ModelRecord,
  items: number,
  p: Pick<HarvestParams, 'taps' | 'tokenKinds' | 'dtype' | 'limit' | 'maxNewTokens'>,
): number {
  const widths: Record<string, number> = {};
  let visionTokens = 0;
  for (const c of model.report.components) {
    for (const t of c.tower?.taps ?? []) if (p.taps.includes(t.name)) widths[t.name] = t.width ?? c.tower?.width ?? 0;
    if (c.role === 'vision_encoder') {
      const feats = c.outputs[0]?.shape;
      const n = feats?.[1];
      visionTokens = typeof n === 'number' ? n : 256;
    }
  }
  const kinds = new Set(p.tokenKinds);
  const decoderRows =
    (kinds.has('image') ? visionTokens : 0) +
    (kinds.has('text') ? TEXT_TOKENS_PER_ITEM : 0) +
    (kinds.has('generated') ? p.maxNewTokens : 0);
  const n = Math.min(items, p.limit ?? items);
  return HarvestStore.estimateBytes({ decoder: decoderRows, vision: kinds.has('image') ? visionTokens : 0 }, widths, n, p.dtype);
}

/**
 * Free bytes on the disk holding `dir`, which a harvest's estimate is checked against. The
 * environment variable OCULAR_FREE_DISK_BYTES, when set to a non-negative integer, replaces the
 * figure (for this check only, nothing else reads it), so a refusal can be tested without filling a disk.
 */
export function freeDiskBytes(dir: string): number | null {
  const override = process.env.OCULAR_FREE_DISK_BYTES;
  if (override !== undefined && /^\d+$/.test(override)) return Number(override);
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}
