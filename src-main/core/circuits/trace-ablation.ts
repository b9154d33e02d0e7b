/**
 * A circuit document by the ablation method (ablation.ts): the same document trace.ts saves, with
 * `method: 'ablation'`, the reason in methodDetail, no error nodes and, since attention maps need
 * the linearised anatomy's queries and keys, no attention maps.
 */
import { readModel } from '../onnx/model-io.js';
import { discoverTowerTaps } from '../onnx/taps.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device } from '../runtime/pool-protocol.js';
import type { VlmPipeline } from '../vlm/pipeline.js';
import { ABLATION_METHOD, Ablator, ablationGraph } from './ablation.js';
import { AnatomyError, decoderAnatomy } from './anatomy.js';
import { prune } from './attribution.js';
import { checkTranscoder, pickTarget, savedGraph, type CircuitDocument, type TraceOptions } from './trace.js';
import type { LoadedSet } from './transcoder-set.js';

/** Why the linearised model cannot be built from this decoder (anatomy.ts's refusal), or null. */
export function linearisedRefusal(decoderFile: string): string | null {
  const model = readModel(decoderFile);
  const tower = discoverTowerTaps(model.graph, '');
  if (!tower) return null;
  try {
    decoderAnatomy(model, tower);
    return null;
  } catch (err) {
    if (err instanceof AnatomyError) return err.message;
    throw err;
  }
}

export async function traceByAblation(
  vlm: VlmPipeline,
  pool: PoolClient,
  device: Device,
  modelDir: string,
  set: LoadedSet,
  o: TraceOptions,
  cacheDir: string,
  reason: string,
): Promise<CircuitDocument> {
  const t0 = performance.now();
  for (const l of set.layers) checkTranscoder(l.sae, l.layer);
  const prefix = o.prefix ?? (await vlm.prepare([{ image: o.image, prompt: o.prompt }]));
  const T = prefix.length;
  const ablator = await Ablator.open(vlm, pool, device, set, cacheDir);
  const t1 = performance.now();
  const g = await ablationGraph(ablator, prefix, (last) => pickTarget(vlm, o, last), {
    maxFeatureNodes: o.maxFeatureNodes,
    batchSize: o.ablationBatch ?? 32,
  });
  const { raw, target, contrast, lastLogits } = g;
  const pruned = prune(raw, o.nodeThreshold, o.edgeThreshold);
  const t2 = performance.now();

  const tokens = prefix.tokens[0]!;
  return savedGraph({
    method: ABLATION_METHOD,
    methodDetail:
      `Measured by ablation in the real model (${g.variants} variants in ${g.batches} batches: each removes one candidate feature, clamped to 0 through its transcoder edit, or one input embedding): ` +
      `edges are each source's total effect on the output and on later candidate features; no error nodes. Used because: ${reason}`,
    o,
    set,
    modelDir,
    tokens,
    target,
    contrast,
    lastLogits,
    raw,
    pruned,
    featureRowsComputed: raw.nodes.filter((n) => n.kind === 'feature').length,
    attention: {
      answerPosition: T - 1,
      imagePositions: tokens.flatMap((t, i) => (t.modality === 'image' && t.patchRow !== null ? [i] : [])),
      layers: [],
      rollout: [],
      maxDeviationFromModel: null,
    },
    seconds: { capture: (t1 - t0) / 1000, attribution: (t2 - t1) / 1000, attention: 0 },
  });
}
