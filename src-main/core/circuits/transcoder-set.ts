/**
 * Transcoder sets: one transcoder per decoder layer, reading `blocks.L.hook_mlp_in` and standing in
 * for `blocks.L.hook_mlp_out`, trained by one job with shared settings. A set is named by that job's
 * id; its transcoders are the SAEs the job stored. The replacement model swaps every MLP for its
 * transcoder at once (core/onnx/surgery.ts transcoder edits).
 */
import { OcularError } from '../errors.js';
import type { TranscoderEditSpec } from '../onnx/surgery.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import type { SaeStore } from '../sae/sae-store.js';
import type { SaeWeights } from '../sae/sae-model.js';

export interface SetLayer {
  layer: number;
  inTap: string;
  outTap: string;
}

const MLP_IN = /^blocks\.(\d+)\.hook_mlp_in$/;

/** The layers a set covers: those asked for, or every layer whose MLP input and output the harvest holds. */
export function setLayers(harvestTaps: string[], requested?: number[]): SetLayer[] {
  const have = new Set(harvestTaps);
  const available = harvestTaps
    .map((t) => MLP_IN.exec(t))
    .filter((m): m is RegExpExecArray => m !== null && have.has(`blocks.${m[1]}.hook_mlp_out`))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  const layers = requested ? [...new Set(requested)].sort((a, b) => a - b) : available;
  if (layers.length === 0)
    throw new OcularError(
      'invalid_request',
      'A transcoder set needs blocks.L.hook_mlp_in and blocks.L.hook_mlp_out of the same layers in its harvest; harvest them first.',
    );
  const missing = layers.filter((l) => !available.includes(l));
  if (missing.length > 0)
    throw new OcularError(
      'invalid_request',
      `The harvest lacks hook_mlp_in or hook_mlp_out of layer ${missing.join(', ')}; it has both for ${available.join(', ') || 'no layer'}.`,
    );
  return layers.map((layer) => ({ layer, inTap: `blocks.${layer}.hook_mlp_in`, outTap: `blocks.${layer}.hook_mlp_out` }));
}

export interface LoadedSet {
  setId: number;
  layers: Array<SetLayer & { saeId: number; sae: SaeWeights }>;
}

/** The transcoders a set's job stored, by layer; refuses a set with none or with a layer twice. */
export function loadSet(saes: SaeStore, setId: number): LoadedSet {
  const records = saes.allByJob(setId).filter((r) => r.hookNameOut && MLP_IN.test(r.hookName ?? ''));
  if (records.length === 0) throw new OcularError('not_found', `No transcoder set ${setId}: job ${setId} stored no MLP transcoders.`);
  const layers = records.map((r) => {
    const layer = Number(MLP_IN.exec(r.hookName!)![1]);
    if (r.hookNameOut !== `blocks.${layer}.hook_mlp_out`)
      throw new OcularError('invalid_request', `Transcoder ${r.id} reads ${r.hookName} but writes ${r.hookNameOut}; a set replaces MLPs.`);
    return { layer, inTap: r.hookName!, outTap: r.hookNameOut, saeId: r.id, sae: saes.load(r.id) };
  });
  layers.sort((a, b) => a.layer - b.layer);
  if (new Set(layers.map((l) => l.layer)).size !== layers.length)
    throw new OcularError('invalid_request', `Set ${setId} has two transcoders for one layer.`);
  return { setId, layers };
}

/** Surgery edits replacing every layer's MLP by its transcoder (ids `L<layer>`). */
export function replacementEdits(set: LoadedSet): TranscoderEditSpec[] {
  return set.layers.map((l) => ({ id: `L${l.layer}`, inTap: l.inTap, outTap: l.outTap, sae: l.sae }));
}

/**
 * Inputs of the replacement edits: `keepError` 1 leaves the model exactly as it is; 0 runs the
 * replacement model (each MLP output is its transcoder's output) where `mask` is 1.
 */
export function replacementFeeds(
  set: LoadedSet,
  batch: number,
  length: number,
  keepError: number,
  mask?: Uint8Array,
): Record<string, WireTensor> {
  const feeds: Record<string, WireTensor> = {};
  const positions = new Float32Array(batch * length).fill(1);
  if (mask) positions.set(mask);
  for (const l of set.layers) {
    const id = `L${l.layer}`;
    feeds[`tc.${id}.keep_error`] = { type: 'float32', dims: [1], data: Float32Array.of(keepError) };
    feeds[`tc.${id}.scale`] = { type: 'float32', dims: [l.sae.dSae], data: new Float32Array(l.sae.dSae).fill(1) };
    feeds[`tc.${id}.position_mask`] = { type: 'float32', dims: [batch, length], data: positions };
  }
  return feeds;
}
