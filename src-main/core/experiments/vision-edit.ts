/**
 * An experiment condition at a vision-tower tap. The edited vision graph (SAE edit + steering input at
 * the tap, exposing it) runs once per item with identity inputs, giving the tap's tokens and their
 * shape ([tiles, tokens] or Qwen's packed [patches]); the patches to edit are all of them or those
 * where the condition's features fire (the analysis encoder on those tokens); a second run with the
 * condition's inputs gives the activation shift. The returned feeds edit the same patches when the
 * whole batch's images go through the edited graph at once, where generation builds its prefix, so
 * the decoder runs on the edited image features.
 */
import type { WireTensor } from '../runtime/pool-protocol.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import { saeIdentityInputs } from '../onnx/surgery.js';
import type { VlmItem, VlmPipeline } from '../vlm/pipeline.js';
import type { Condition } from './conditions.js';
import { meanShift, type PositionFeeds } from './edit-inputs.js';

export interface VisionTap {
  tap: string;
  /** The tap's width and the SAE's width. */
  d: number;
  dSae: number;
  /** The tap's rank (null: the graph does not say). */
  rank: number | null;
  /** Edit only where the condition's features fire (the analysis encoder session and its k); null: every patch. */
  firing: { encoder: SessionHandle; k: number } | null;
}

/**
 * Identity edit inputs shaped to broadcast over a tap of `rank` dims (null: unknown), for the first
 * run of an item, before its tap's positions are known.
 */
export function identityFeeds(v: Pick<VisionTap, 'tap' | 'd' | 'dSae' | 'rank'>): Record<string, WireTensor> {
  const ones = new Array<number>(Math.max(1, (v.rank ?? 2) - 1)).fill(1);
  const f: Record<string, WireTensor> = saeIdentityInputs('x', v.dSae, 1, 1);
  f['sae.x.position_mask'] = { type: 'float32', dims: ones, data: Float32Array.of(1) };
  f[`steer.${v.tap}`] = { type: 'float32', dims: [...ones, v.d], data: new Float32Array(v.d) };
  return f;
}

/**
 * Which rows fire any of `features`: from the analysis encoder's sparse output (vals, idx: rows x k,
 * each row's active features), a row fires a feature when it is among them with a positive value.
 */
export function firingMask(vals: Float32Array, idx: Int32Array, k: number, features: number[]): Float32Array {
  const want = new Set(features);
  const rows = vals.length / k;
  const mask = new Float32Array(rows);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < k; j++)
      if (vals[r * k + j]! > 0 && want.has(idx[r * k + j]!)) {
        mask[r] = 1;
        break;
      }
  return mask;
}

/**
 * Condition `c` on `items` at the vision tap: each item's shift, and the edit inputs for the batch's
 * images run together. `firing` is the features whose firing picks the patches (a random direction
 * goes where its intervention's fire); `norms` per item sizes a random direction.
 */
export async function editVisionTower(
  pool: PoolClient,
  vlm: VlmPipeline,
  session: SessionHandle,
  items: VlmItem[],
  v: VisionTap,
  at: PositionFeeds,
  c: Condition,
  firing: number[],
  norms: number[] | null,
): Promise<{ shift: number[]; batchFeeds: Record<string, WireTensor> }> {
  const { tap, d } = v;
  const layout = await vlm.layout(items);
  const shift = new Array<number>(items.length).fill(0);
  const parts: Array<{ dims: number[]; mask: Float32Array; item: number }> = [];
  for (let r = 0; r < items.length; r++) {
    const feeds = layout.visionFeeds[r]!;
    if (Object.keys(feeds).length === 0) continue;
    const base = (await pool.run(session, { ...feeds, ...identityFeeds(v) }, [tap]))[tap]!;
    const dims = base.dims.slice(0, -1);
    const rows = dims.reduce((a, b) => a * b, 1);
    const x0 = base.data as Float32Array;
    let mask: Float32Array = new Float32Array(rows).fill(1);
    if (v.firing && c.kind !== 'baseline') {
      const enc = await pool.run(v.firing.encoder, {
        x: { type: 'float32', dims: [rows, d], data: x0 },
        ...(v.firing.encoder.inputNames.includes('img') ? { img: { type: 'float32', dims: [1, rows], data: new Float32Array(rows) } } : {}),
      });
      mask = firingMask(enc.vals!.data as Float32Array, enc.idx32!.data as Int32Array, v.firing.k, firing);
    }
    if (c.kind !== 'baseline') {
      const norm = norms?.[r] ?? 0;
      const moved = await pool.run(session, { ...feeds, ...at(c, dims, mask, norms && (() => norm)) }, [tap]);
      shift[r] = meanShift(x0, moved[tap]!.data as Float32Array, mask, 1, rows, d)[0]!;
    }
    parts.push({ dims, mask, item: r });
  }
  if (parts.length === 0) return { shift, batchFeeds: {} };
  // The batch's images in item order, concatenated on the first axis as the processor's batch is.
  const rest = parts[0]!.dims.slice(1);
  if (parts.some((p) => p.dims.slice(1).join() !== rest.join()))
    throw new Error(
      `The items' ${tap} tokens differ in shape (${parts.map((p) => `[${p.dims}]`).join(', ')}); they cannot be edited as one batch.`,
    );
  const dims = [parts.reduce((a, p) => a + p.dims[0]!, 0), ...rest];
  const mask = new Float32Array(dims.reduce((a, b) => a * b, 1));
  const itemAt = new Int32Array(mask.length);
  let offset = 0;
  for (const p of parts) {
    mask.set(p.mask, offset);
    itemAt.fill(p.item, offset, offset + p.mask.length);
    offset += p.mask.length;
  }
  return { shift, batchFeeds: at(c, dims, mask, norms && ((p) => norms[itemAt[p]!]!)) };
}
