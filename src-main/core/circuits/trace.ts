/**
 * `ocular circuit trace`: one prompt (image + text) through the model with its MLPs' transcoders,
 * the frozen linear model built from the capture (linear-model.ts), the attribution graph
 * (attribution.ts), pruned, and the attention maps from the exposed queries and keys (attention.ts),
 * as one document saved in the workspace.
 */
import { OcularError } from '../errors.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device } from '../runtime/pool-protocol.js';
import type { SaeWeights } from '../sae/sae-model.js';
import { loadProcessor, tokenTexts } from '../vlm/processor.js';
import type { PreparedPrefix, TokenInfo, VlmPipeline } from '../vlm/pipeline.js';
import { attentionMaps, attentionRollout } from './attention.js';
import { poolBackward } from './backward-graph.js';
import { attribute, prune, type GraphNode, type RawGraph } from './attribution.js';
import { capture, type Captured } from './capture.js';
import { normScales, type FrozenModel } from './linear-model.js';
import type { LoadedSet } from './transcoder-set.js';
import { outputMetric, type ABLATION_METHOD } from './ablation.js';
import { linearisedRefusal, traceByAblation } from './trace-ablation.js';

export const TRACE_METHOD = 'linearised-backward';

export interface TraceOptions {
  image: string;
  prompt: string;
  /** Output token (text of one token); default: the model's top prediction. */
  target?: string;
  contrast?: string;
  /** Token ids instead of texts (circuit patching traces a pair's answers by id). */
  targetId?: number;
  contrastId?: number;
  /** A prepared one-row prompt to trace instead of image + prompt (bench/circuits.ts). */
  prefix?: PreparedPrefix;
  maxFeatureNodes: number;
  nodeThreshold: number;
  edgeThreshold: number;
  batchSize: number;
  /**
   * 'linearised' (refuse what anatomy.ts cannot linearise), 'ablation' (ablation.ts), or 'auto'
   * (default: linearised, falling back to ablation where the linearised model cannot be built).
   */
  method?: 'auto' | 'linearised' | 'ablation';
  /** Ablation variants per batch (default 32). */
  ablationBatch?: number;
}

export interface CircuitTokenInfo {
  position: number;
  /** The input id (an image placeholder's for patches); absent in graphs saved before it was recorded. */
  tokenId?: number;
  text: string;
  modality: 'image' | 'text' | 'pad';
  patchRow: number | null;
  patchCol: number | null;
  box: [number, number, number, number] | null;
}

export interface CircuitDocument {
  version: 1;
  method: typeof TRACE_METHOD | typeof ABLATION_METHOD;
  methodDetail: string;
  prompt: string;
  setId: number;
  layers: number[];
  saeIds: number[];
  target: { token: number; text: string; contrast: { token: number; text: string } | null; logitProbability: number };
  outputValue: number;
  outputEdgeSum: number;
  tokens: CircuitTokenInfo[];
  /**
   * cumulativeInfluence: circuit-tracer's pruning score, over every node of the unpruned graph but the
   * output: nodes sorted by influence, the running share of the total up to this one (null: the output).
   */
  nodes: Array<GraphNode & { id: number; cumulativeInfluence?: number | null }>;
  edges: Array<[number, number, number]>;
  pruning: {
    nodeThreshold: number;
    edgeThreshold: number;
    maxFeatureNodes: number;
    featureRowsComputed: number;
    activeFeatures: number;
    /** Σ influence over every active feature, kept or not: what a share of the influence is a share of (graph-view.ts). */
    featureInfluenceTotal: number;
  };
  attention: {
    answerPosition: number;
    imagePositions: number[];
    /** Per layer, per head: attention from the answer position to each image position (imagePositions order). */
    layers: number[][][];
    rollout: number[];
    /** Largest difference between the maps from queries/keys and the model's own probabilities, where the export exposes them. */
    maxDeviationFromModel: number | null;
  };
  seconds: { capture: number; attribution: number; attention: number };
}

export function frozenModelOf(c: Captured): FrozenModel {
  const { anatomy } = c;
  const T = c.length;
  const value = (name: string) => {
    const v = c.values.get(name);
    if (!v) throw new OcularError('internal', `The capture lacks ${name}.`);
    return v;
  };
  const layers = anatomy.layers.map((l) => {
    const probs = value(l.probs);
    const q = value(l.query);
    const k = value(l.key);
    const heads = probs.dims[1]!;
    const headDim = q.dims[3]!;
    const kvHeads = k.dims[1]!;
    if (l.wO.length !== heads * headDim * anatomy.d || l.wV.length !== anatomy.d * kvHeads * headDim)
      throw new OcularError(
        'invalid_request',
        `Layer ${l.layer}: attention weights do not match ${heads} heads of ${headDim} (${kvHeads} key/value heads).`,
      );
    return {
      heads,
      kvHeads,
      headDim,
      probs: probs.data,
      s1: normScales(value(l.ln1.input).data, value(l.ln1.output).data, l.ln1.gamma, T, `Layer ${l.layer}'s pre-attention norm`),
      g1: l.ln1.gamma,
      wV: l.wV,
      wO: l.wO,
      s2: normScales(value(l.ln2.input).data, value(l.ln2.output).data, l.ln2.gamma, T, `Layer ${l.layer}'s pre-MLP norm`),
      g2: l.ln2.gamma,
    };
  });
  const f = anatomy.finalNorm;
  return {
    d: anatomy.d,
    length: T,
    layers,
    sF: normScales(value(f.input).data, value(f.output).data, f.gamma, T, 'The final norm'),
    gF: f.gamma,
    unembed: anatomy.unembed,
    vocab: anatomy.vocab,
  };
}

/** Transcoder settings the linear model implements exactly; anything else is refused by name. */
export function checkTranscoder(sae: SaeWeights, layer: number): void {
  const bad =
    sae.dOut === undefined
      ? 'is not a transcoder'
      : sae.W_skip
        ? 'has a skip connection'
        : (sae.normalizeActivations ?? 'none') !== 'none'
          ? `normalises its input (${sae.normalizeActivations})`
          : sae.applyBDecToInput
            ? 'subtracts b_dec from its input'
            : sae.architecture === 'gated'
              ? 'is gated'
              : null;
  if (bad) throw new OcularError('invalid_request', `The transcoder of layer ${layer} ${bad}; attribution does not implement that.`);
}

export async function traceCircuit(
  vlm: VlmPipeline,
  pool: PoolClient,
  device: Device,
  modelDir: string,
  set: LoadedSet,
  o: TraceOptions,
  cacheDir: string,
): Promise<CircuitDocument> {
  if (o.method === 'ablation') return traceByAblation(vlm, pool, device, modelDir, set, o, cacheDir, 'asked for (method ablation).');
  const t0 = performance.now();
  let c: Captured;
  try {
    c = await capture(vlm, pool, device, o.prefix ?? { image: o.image, prompt: o.prompt }, cacheDir);
  } catch (err) {
    // Where the linearised model cannot be built, effects are measured by ablation instead.
    const refusal = err instanceof OcularError && o.method !== 'linearised' ? linearisedRefusal(vlm.files.decoder) : null;
    if (refusal) return traceByAblation(vlm, pool, device, modelDir, set, o, cacheDir, `the linearised model cannot be built: ${refusal}`);
    throw err;
  }
  const { anatomy } = c;
  const T = c.length;
  const byLayer = new Map(set.layers.map((l) => [l.layer, l]));
  const transcoders = anatomy.layers.map((l) => {
    const s = byLayer.get(l.layer);
    if (!s)
      throw new OcularError('invalid_request', `Set ${set.setId} has no transcoder for layer ${l.layer}; attribution replaces every MLP.`);
    checkTranscoder(s.sae, l.layer);
    return s.sae;
  });
  const model = frozenModelOf(c);
  const logits = c.values.get('logits')!;
  const V = logits.dims[2]!;
  const lastLogits = logits.data.subarray((T - 1) * V, T * V);
  const { target, contrast } = pickTarget(vlm, o, lastLogits);
  const outputValue = outputMetric(lastLogits, target, contrast);
  const t1 = performance.now();

  const x0 = c.values.get(anatomy.layers[0]!.taps.residPre)!.data;
  const mlpIn = anatomy.layers.map((l) => c.values.get(l.taps.mlpIn)!.data);
  const mlpOut = anatomy.layers.map((l) => c.values.get(l.taps.mlpOut)!.data);
  const raw = await attribute(model, x0, mlpIn, mlpOut, transcoders, outputValue, {
    target,
    contrast,
    maxFeatureNodes: o.maxFeatureNodes,
    batchSize: o.batchSize,
    backward: await poolBackward(pool, device, model, cacheDir),
  });
  const pruned = prune(raw, o.nodeThreshold, o.edgeThreshold);
  const t2 = performance.now();

  // Attention maps from queries and keys, checked against the model's own probabilities.
  const answer = T - 1;
  const tokens = c.tokens;
  const imagePositions = tokens.flatMap((t, i) => (t.modality === 'image' && t.patchRow !== null ? [i] : []));
  let deviation = 0;
  const perLayer: Float32Array[] = [];
  const layersOut: number[][][] = [];
  for (const l of anatomy.layers) {
    const m = model.layers[l.layer]!;
    const q = c.values.get(l.query)!.data;
    const k = c.values.get(l.key)!.data;
    const maps = attentionMaps(q, k, m.heads, m.kvHeads, T, m.headDim, l.scale, c.prefix.attentionMask);
    for (let i = 0; i < maps.length; i++) deviation = Math.max(deviation, Math.abs(maps[i]! - m.probs[i]!));
    perLayer.push(maps);
    layersOut.push(Array.from({ length: m.heads }, (_, h) => imagePositions.map((u) => maps[(h * T + answer) * T + u]!)));
  }
  const roll = attentionRollout(perLayer, model.layers[0]!.heads, T);
  const t3 = performance.now();

  return savedGraph({
    method: TRACE_METHOD,
    methodDetail:
      "Backward through the frozen, linearised model (attention patterns and norm scales frozen at this prompt, MLPs replaced by transcoders, reconstruction errors as nodes), built from the model's own initializers (dequantised where stored quantised).",
    o,
    set,
    modelDir,
    tokens,
    target,
    contrast,
    lastLogits,
    raw,
    pruned,
    featureRowsComputed: raw.rows.size - 1,
    attention: {
      answerPosition: answer,
      imagePositions,
      layers: layersOut,
      rollout: imagePositions.map((u) => roll[answer * T + u]!),
      maxDeviationFromModel: deviation,
    },
    seconds: { capture: (t1 - t0) / 1000, attribution: (t2 - t1) / 1000, attention: (t3 - t2) / 1000 },
  });
}

/** The target (given by id or text, else the top logit) and contrast, each a single token. */
export function pickTarget(
  vlm: Pick<VlmPipeline, 'tokenize'>,
  o: Pick<TraceOptions, 'target' | 'targetId' | 'contrast' | 'contrastId'>,
  lastLogits: Float32Array,
): { target: number; contrast: number | null } {
  const single = (text: string, what: string): number => {
    const ids = vlm.tokenize(text);
    if (ids.length !== 1) throw new OcularError('invalid_request', `The ${what} '${text}' is ${ids.length} tokens; name a single token.`);
    return ids[0]!;
  };
  let target = 0;
  if (o.targetId !== undefined) target = o.targetId;
  else if (o.target !== undefined) target = single(o.target, 'target');
  else for (let v = 1; v < lastLogits.length; v++) if (lastLogits[v]! > lastLogits[target]!) target = v;
  return { target, contrast: o.contrastId ?? (o.contrast === undefined ? null : single(o.contrast, 'contrast')) };
}

/**
 * The saved document, whichever method measured the graph: token texts, the target's probability,
 * the pruned graph renumbered with circuit-tracer's cumulative scores, and the pruning settings.
 */
export async function savedGraph(g: {
  method: CircuitDocument['method'];
  methodDetail: string;
  o: TraceOptions;
  set: LoadedSet;
  modelDir: string;
  tokens: TokenInfo[];
  target: number;
  contrast: number | null;
  lastLogits: Float32Array;
  raw: RawGraph;
  pruned: ReturnType<typeof prune>;
  featureRowsComputed: number;
  attention: CircuitDocument['attention'];
  seconds: CircuitDocument['seconds'];
}): Promise<CircuitDocument> {
  const { o, set, tokens, target, contrast, lastLogits, raw, pruned } = g;
  let max = -Infinity;
  for (const v of lastLogits) max = Math.max(max, v);
  let z = 0;
  for (const v of lastLogits) z += Math.exp(v - max);
  const processor = await loadProcessor(g.modelDir);
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
    method: g.method,
    methodDetail: g.methodDetail,
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
      featureRowsComputed: g.featureRowsComputed,
      activeFeatures: raw.nodes.filter((n) => n.kind === 'feature').length,
      featureInfluenceTotal: raw.nodes.reduce((s, n) => s + (n.kind === 'feature' && n.influence > 0 ? n.influence : 0), 0),
    },
    attention: g.attention,
    seconds: g.seconds,
  };
}

/** circuit-tracer's cumulative scores (prune_graph): by influence descending, cumsum / total; the output is left out. */
export function cumulativeInfluence(nodes: GraphNode[]): Array<number | null> {
  const order = nodes
    .flatMap((n, i) => (n.kind === 'output' ? [] : [i]))
    .sort((a, b) => nodes[b]!.influence - nodes[a]!.influence || a - b);
  const total = order.reduce((s, i) => s + nodes[i]!.influence, 0);
  const out: Array<number | null> = nodes.map(() => null);
  let acc = 0;
  for (const i of order) {
    acc += nodes[i]!.influence;
    out[i] = total > 0 ? acc / total : 0;
  }
  return out;
}
