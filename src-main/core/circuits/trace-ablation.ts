/**
 * A circuit document by the ablation method (ablation.ts): the same document trace.ts saves, with
 * `method: 'ablation'`, the reason in methodDetail, no error nodes and, since attention maps need
 * the linearised anatomy's queries and keys, no attention maps.
 */
import { readModel } from '../onnx/model-io.js';
import { discoverTowerTaps } from '../onnx/taps.js';
import { OcularError } from '../errors.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device } from '../runtime/pool-protocol.js';
import { loadProcessor, tokenTexts } from '../vlm/processor.js';
import type { VlmPipeline } from '../vlm/pipeline.js';
import { ABLATION_METHOD, Ablator, ablationGraph } from './ablation.js';
import { AnatomyError, decoderAnatomy } from './anatomy.js';
import { prune } from './attribution.js';
import { checkTranscoder, cumulativeInfluence, type CircuitDocument, type TraceOptions } from './trace.js';
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
  const single = (text: string, what: string): number => {
    const ids = vlm.tokenize(text);
    if (ids.length !== 1) throw new OcularError('invalid_request', `The ${what} '${text}' is ${ids.length} tokens; name a single token.`);
    return ids[0]!;
  };
  const t1 = performance.now();
  const g = await ablationGraph(
    ablator,
    prefix,
    (last) => {
      let target = 0;
      if (o.targetId !== undefined) target = o.targetId;
      else if (o.target !== undefined) target = single(o.target, 'target');
      else for (let v = 1; v < last.length; v++) if (last[v]! > last[target]!) target = v;
      return { target, contrast: o.contrastId ?? (o.contrast === undefined ? null : single(o.contrast, 'contrast')) };
    },
    { maxFeatureNodes: o.maxFeatureNodes, batchSize: o.ablationBatch ?? 32 },
  );
  const { raw, target, contrast, lastLogits } = g;
  const pruned = prune(raw, o.nodeThreshold, o.edgeThreshold);
  const t2 = performance.now();

  let max = -Infinity;
  for (const v of lastLogits) max = Math.max(max, v);
  let z = 0;
  for (const v of lastLogits) z += Math.exp(v - max);
  const tokens = prefix.tokens[0]!;
  const processor = await loadProcessor(modelDir);
  const texts = tokenTexts(
    processor.tokenizer,
    new Set([...tokens.map((t) => t.tokenId), target, ...(contrast === null ? [] : [contrast])]),
  );
  const keepNodes = new Set(pruned.nodes);
  const ids = new Map<number, number>();
  const cumulative = cumulativeInfluence(raw.nodes);
  const nodes = raw.nodes.flatMap((n, i) =>
    keepNodes.has(i) ? [{ ...n, id: ids.set(i, ids.size).size - 1, cumulativeInfluence: cumulative[i] ?? null }] : [],
  );
  return {
    version: 1,
    method: ABLATION_METHOD,
    methodDetail:
      `Measured by ablation in the real model (${g.variants} variants in ${g.batches} batches: each removes one candidate feature, clamped to 0 through its transcoder edit, or one input embedding): ` +
      `edges are each source's total effect on the output and on later candidate features; no error nodes. Used because: ${reason}`,
    prompt: o.prompt,
    setId: set.setId,
    layers: set.layers.map((l) => l.layer),
    saeIds: set.layers.map((l) => l.saeId),
    target: {
      token: target,
      text: texts.get(target) ?? String(target),
      contrast: contrast === null ? null : { token: contrast, text: texts.get(contrast) ?? String(contrast) },
      logitProbability: Math.exp(lastLogits[target]! - max) / z,
    },
    outputValue: raw.outputValue,
    outputEdgeSum: raw.outputEdgeSum,
    tokens: tokens.map((t, position) => ({
      position,
      tokenId: t.tokenId,
      text: t.modality === 'image' ? `<patch ${t.patchRow},${t.patchCol}>` : (texts.get(t.tokenId) ?? ''),
      modality: t.modality,
      patchRow: t.patchRow,
      patchCol: t.patchCol,
      box: t.box,
    })),
    nodes,
    edges: pruned.edges.map(([t, s, w]) => [ids.get(t)!, ids.get(s)!, w]),
    pruning: {
      nodeThreshold: o.nodeThreshold,
      edgeThreshold: o.edgeThreshold,
      maxFeatureNodes: o.maxFeatureNodes,
      featureRowsComputed: raw.nodes.filter((n) => n.kind === 'feature').length,
      activeFeatures: raw.nodes.filter((n) => n.kind === 'feature').length,
      featureInfluenceTotal: raw.nodes.reduce((s, n) => s + (n.kind === 'feature' && n.influence > 0 ? n.influence : 0), 0),
    },
    attention: {
      answerPosition: T - 1,
      imagePositions: tokens.flatMap((t, i) => (t.modality === 'image' && t.patchRow !== null ? [i] : [])),
      layers: [],
      rollout: [],
      maxDeviationFromModel: null,
    },
    seconds: { capture: (t1 - t0) / 1000, attribution: (t2 - t1) / 1000, attention: 0 },
  };
}
