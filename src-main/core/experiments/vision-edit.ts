/**
 * An experiment condition at a vision-tower tap. The edited vision graph (SAE edit + steering input at
 * the tap, exposing it) runs once per item with the baseline's inputs, giving the tap's tokens and
 * their shape ([tiles, tokens] or Qwen's packed [patches]); the patches to edit are all of them or
 * those where the condition's features fire (the analysis encoder on those tokens); a second run
 * with the condition's inputs gives the activation shift. The returned feeds edit the same patches
 * when the whole batch's images go through the edited graph at once, where generation builds its
 * prefix, so the decoder runs on the edited image features.
 */
import type { WireTensor } from '../runtime/pool-protocol.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import type { VlmItem, VlmPipeline } from '../vlm/pipeline.js';
import type { Condition } from './conditions.js';
import { conditionFeeds, firingMask, identityFeeds, meanShift, type EditContext } from './edit-feeds.js';

export interface VisionEditOptions {
  edit: EditContext;
  condition: Condition;
  /** The tap's rank (null: the graph does not say). */
  rank: number | null;
  /** Edit only where these features fire (the analysis encoder session, its k); null: every patch. */
  firing: { encoder: SessionHandle; k: number; features: number[] } | null;
  /** Per item, the random direction's length (random-direction controls). */
  norms: number[] | null;
}

export async function editVisionTower(
  pool: PoolClient,
  vlm: VlmPipeline,
  session: SessionHandle,
  items: VlmItem[],
  o: VisionEditOptions,
): Promise<{ shift: number[]; batchFeeds: Record<string, WireTensor> }> {
  const { edit, condition } = o;
  const { tap, d } = edit;
  const layout = await vlm.layout(items);
  const shift = new Array<number>(items.length).fill(0);
  const parts: Array<{ dims: number[]; mask: Float32Array; item: number }> = [];
  for (let r = 0; r < items.length; r++) {
    const feeds = layout.visionFeeds[r]!;
    if (Object.keys(feeds).length === 0) continue;
    const base = (await pool.run(session, { ...feeds, ...identityFeeds(edit, o.rank) }, [tap]))[tap]!;
    const dims = base.dims.slice(0, -1);
    const rows = dims.reduce((a, b) => a * b, 1);
    const x0 = base.data as Float32Array;
    let mask: Float32Array = new Float32Array(rows).fill(1);
    if (o.firing) {
      const enc = await pool.run(o.firing.encoder, {
        x: { type: 'float32', dims: [rows, d], data: x0 },
        ...(o.firing.encoder.inputNames.includes('img') ? { img: { type: 'float32', dims: [1, rows], data: new Float32Array(rows) } } : {}),
      });
      mask = firingMask(enc.vals!.data as Float32Array, enc.idx32!.data as Int32Array, o.firing.k, o.firing.features);
    }
    if (condition.kind !== 'baseline') {
      const norm = o.norms?.[r] ?? 0;
      const moved = await pool.run(session, { ...feeds, ...conditionFeeds(edit, condition, dims, mask, o.norms && (() => norm)) }, [tap]);
      shift[r] = meanShift(x0, moved[tap]!.data as Float32Array, mask, d, 0, rows);
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
  let at = 0;
  for (const p of parts) {
    mask.set(p.mask, at);
    itemAt.fill(p.item, at, at + p.mask.length);
    at += p.mask.length;
  }
  const norms = o.norms;
  return { shift, batchFeeds: conditionFeeds(edit, condition, dims, mask, norms && ((p) => norms[itemAt[p]!]!)) };
}
