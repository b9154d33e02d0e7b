/**
 * One prompt (image + text) through the decoder with everything attribution and attention maps read
 * exposed: the TransformerLens taps of every layer, the normalised attention inputs, the attention
 * probabilities, queries and keys, the final norm's output and the logits. Batch of one.
 */
import { writeEditedGraph } from '../onnx/edited-graph.js';
import { readModel } from '../onnx/model-io.js';
import { discoverTowerTaps } from '../onnx/taps.js';
import { OcularError } from '../errors.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device } from '../runtime/pool-protocol.js';
import type { PreparedPrefix, TokenInfo, VlmPipeline } from '../vlm/pipeline.js';
import { AnatomyError, decoderAnatomy, type DecoderAnatomy } from './anatomy.js';

export interface Captured {
  anatomy: DecoderAnatomy;
  /** Positions T and the prompt's tokens. */
  length: number;
  tokens: TokenInfo[];
  prefix: PreparedPrefix;
  /** Tensor (tap name or intermediate) -> data and dims, batch dimension included. */
  values: Map<string, { dims: number[]; data: Float32Array }>;
}

/** The decoder's anatomy and a graph exposing what it names, cached in the workspace's graph cache. */
export function capturingGraph(decoderFile: string, cacheDir: string): { anatomy: DecoderAnatomy; graph: string } {
  const model = readModel(decoderFile);
  const tower = discoverTowerTaps(model.graph, '');
  if (!tower) throw new OcularError('invalid_request', `${decoderFile}: no residual stream found.`);
  let anatomy: DecoderAnatomy;
  try {
    anatomy = decoderAnatomy(model, tower);
  } catch (err) {
    if (err instanceof AnatomyError) throw new OcularError('invalid_request', err.message);
    throw err;
  }
  const taps = anatomy.layers.flatMap((l) =>
    (['hook_resid_pre', 'hook_resid_mid', 'hook_mlp_in', 'hook_mlp_out', 'hook_resid_post'] as const).map((h) => `blocks.${l.layer}.${h}`),
  );
  const edited = writeEditedGraph(decoderFile, { expose: taps, exposeTensors: anatomy.tensors }, { cacheDir });
  return { anatomy, graph: edited.path };
}

export async function capture(
  vlm: VlmPipeline,
  pool: PoolClient,
  device: Device,
  item: { image: string; prompt: string } | PreparedPrefix,
  cacheDir: string,
): Promise<Captured> {
  const { anatomy, graph } = capturingGraph(vlm.files.decoder, cacheDir);
  // A prepared prefix of one row is taken as it is (the benchmark joins several prompts into one).
  const prefix = 'embeds' in item ? item : await vlm.prepare([item]);
  const session = await pool.load(graph, device);
  const names = new Set<string>(['logits', ...anatomy.tensors]);
  for (const l of anatomy.layers)
    for (const h of ['hook_resid_pre', 'hook_resid_mid', 'hook_mlp_in', 'hook_mlp_out', 'hook_resid_post'])
      names.add(`blocks.${l.layer}.${h}`);
  const out = await pool.run(session, vlm.prefillFeeds(prefix), [...names]);
  const values = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(out)) values.set(name, { dims: t.dims, data: t.data as Float32Array });
  return { anatomy, length: prefix.length, tokens: prefix.tokens[0]!, prefix, values };
}

/** Where a layer's tensors live in a capture: taps by TransformerLens name, the rest by graph name. */
export function layerValue(c: Captured, name: string): { dims: number[]; data: Float32Array } {
  const v = c.values.get(name);
  if (!v) throw new Error(`capture lacks ${name}`);
  return v;
}

export const tapName = (layer: number, hook: string) => `blocks.${layer}.${hook}`;
