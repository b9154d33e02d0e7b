/**
 * The ablation method of attribution, for exports the linearised model cannot be built from (fused
 * attention, sandwich norms, soft-capping: anatomy.ts refuses them by name) or when asked for.
 *
 * Effects are measured exactly in the real model, many variants per batch: batch row k is the
 * prompt with one candidate node removed. A feature node is removed by clamping its activation to 0
 * through the transcoder edit's clamp inputs (patch.ts: the MLP keeps its own output less the
 * feature's decoder contribution, a·W_dec, and later layers respond as the model does); an input
 * node (a text token or an image patch) by zeroing its embedding. Edges are the measured changes:
 * to the output (target logit less the mean, or less the contrast) and to every candidate feature of
 * a later layer (its activation re-encoded from that row's MLP input). So an edge is the source's
 * total effect on the target through every path, not the direct effect the linearised method
 * computes, and there are no error nodes. Candidates: the active features with the largest
 * |a|·‖W_dec[f]‖ (an equal share per layer first; last-layer features only at the answer position),
 * up to maxFeatureNodes, and every input position.
 */
import { writeEditedGraph } from '../onnx/edited-graph.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device, WireTensor } from '../runtime/pool-protocol.js';
import { encode } from '../sae/sae-encode.js';
import type { PreparedPrefix, VlmPipeline } from '../vlm/pipeline.js';
import { influences, type GraphNode, type RawGraph } from './attribution.js';
import { repeatPrefix } from './patch.js';
import { replacementEdits, replacementFeeds, type LoadedSet } from './transcoder-set.js';

export const ABLATION_METHOD = 'ablation';

export interface AblationRun {
  /** Last-position logits of the clean run. */
  lastLogits: Float32Array;
  vocab: number;
  raw: RawGraph;
  variants: number;
  batches: number;
}

export interface Candidate {
  node: number;
  layer: number;
  /** Index of the layer in the set. */
  li: number;
  position: number;
  feature: number;
}

/** Output metric of one position's logits: target less the mean logit, or less the contrast's. */
export function outputMetric(logits: Float32Array, target: number, contrast: number | null): number {
  if (contrast !== null) return logits[target]! - logits[contrast]!;
  let mean = 0;
  for (let v = 0; v < logits.length; v++) mean += logits[v]! / logits.length;
  return logits[target]! - mean;
}

export class Ablator {
  private constructor(
    private readonly vlm: VlmPipeline,
    private readonly pool: PoolClient,
    private readonly session: Awaited<ReturnType<PoolClient['load']>>,
    readonly set: LoadedSet,
    private readonly expose: string[],
  ) {}

  /**
   * The replacement edits with clamps (the graph circuit patching runs), every MLP's own output kept;
   * `expose`: further taps each run returns (a check reads the last residual stream).
   */
  static async open(
    vlm: VlmPipeline,
    pool: PoolClient,
    device: Device,
    set: LoadedSet,
    cacheDir: string,
    expose: string[] = [],
  ): Promise<Ablator> {
    const edits = replacementEdits(set).map((e) => ({ ...e, clamp: true }));
    const taps = [...new Set([...set.layers.map((l) => l.inTap), ...expose])];
    const edited = writeEditedGraph(vlm.files.decoder, { transcoderEdits: edits, expose: taps }, { cacheDir });
    return new Ablator(vlm, pool, await pool.load(edited.path, device), set, expose);
  }

  /** Rows of one batch: each zeroes the listed features (clamp to 0) and embeddings; logits [n, T, V] and MLP inputs per set layer. */
  async run(
    prefix: PreparedPrefix,
    rows: Array<{ features: Candidate[]; embeddings: number[] }>,
  ): Promise<{ logits: Float32Array; vocab: number; mlpIn: Float32Array[]; exposed: Float32Array[] }> {
    const n = rows.length;
    const T = prefix.length;
    const p = repeatPrefix(prefix, n);
    const w = p.width;
    rows.forEach((r, k) => {
      for (const t of r.embeddings) p.embeds.fill(0, (k * T + t) * w, (k * T + t + 1) * w);
    });
    const feeds: Record<string, WireTensor> = replacementFeeds(this.set, n, T, 1);
    this.set.layers.forEach((l, li) => {
      const dSae = l.sae.dSae;
      const mask = new Float32Array(n * T * dSae);
      rows.forEach((r, k) => {
        for (const c of r.features) if (c.li === li) mask[(k * T + c.position) * dSae + c.feature] = 1;
      });
      feeds[`tc.L${l.layer}.clamp_mask`] = { type: 'float32', dims: [n, T, dSae], data: mask };
      feeds[`tc.L${l.layer}.clamp_value`] = { type: 'float32', dims: [n, T, dSae], data: new Float32Array(n * T * dSae) };
    });
    const names = [...new Set(['logits', ...this.set.layers.map((l) => l.inTap), ...this.expose])];
    const out = await this.pool.run(this.session, { ...this.vlm.prefillFeeds(p), ...feeds }, names);
    return {
      logits: out.logits!.data as Float32Array,
      vocab: out.logits!.dims[2]!,
      mlpIn: this.set.layers.map((l) => out[l.inTap]!.data as Float32Array),
      exposed: this.expose.map((name) => out[name]!.data as Float32Array),
    };
  }
}

/**
 * The graph by ablation. `resolveTarget` picks the target and contrast from the clean run's last
 * logits (trace.ts's rules), so this file needs no tokenizer.
 */
export async function ablationGraph(
  ablator: Ablator,
  prefix: PreparedPrefix,
  resolveTarget: (lastLogits: Float32Array) => { target: number; contrast: number | null },
  o: { maxFeatureNodes: number; batchSize: number },
): Promise<AblationRun & { target: number; contrast: number | null }> {
  const set = ablator.set;
  const T = prefix.length;
  const w = prefix.width;
  const clean = await ablator.run(prefix, [{ features: [], embeddings: [] }]);
  const V = clean.vocab;
  const lastLogits = clean.logits.slice((T - 1) * V, T * V);
  const { target, contrast } = resolveTarget(lastLogits);
  const outputValue = outputMetric(lastLogits, target, contrast);
  const codes = set.layers.map((l, li) => encode(l.sae, clean.mlpIn[li]!));

  // Candidates: active features by the size of what they write, |a|·‖W_dec[f]‖.
  const scored: Array<Omit<Candidate, 'node'> & { activation: number; score: number }> = [];
  set.layers.forEach((l, li) => {
    const { dSae } = l.sae;
    const dOut = l.sae.dOut ?? l.sae.dIn;
    const norms = new Float64Array(dSae);
    for (let f = 0; f < dSae; f++) {
      let s = 0;
      for (let i = 0; i < dOut; i++) s += l.sae.W_dec[f * dOut + i]! ** 2;
      norms[f] = Math.sqrt(s);
    }
    for (let t = 0; t < T; t++)
      for (let f = 0; f < dSae; f++) {
        const a = codes[li]![t * dSae + f]!;
        if (a !== 0) scored.push({ layer: l.layer, li, position: t, feature: f, activation: a, score: Math.abs(a) * norms[f]! });
      }
  });
  // A last-layer feature before the answer position writes where nothing reads it again: no effect to measure.
  const lastLayer = set.layers[set.layers.length - 1]?.layer;
  const reachable = scored.filter((c) => c.layer !== lastLayer || c.position === T - 1);
  reachable.sort((a, b) => b.score - a.score || a.layer - b.layer || a.position - b.position || a.feature - b.feature);
  // An equal share per layer (deeper layers write larger vectors and would take every place), the rest by score.
  const share = Math.ceil(o.maxFeatureNodes / Math.max(1, set.layers.length));
  const perLayer = new Map<number, number>();
  const first = reachable.filter((c) => {
    const n = perLayer.get(c.layer) ?? 0;
    perLayer.set(c.layer, n + 1);
    return n < share;
  });
  const picked = new Set(first.slice(0, o.maxFeatureNodes));
  for (const c of reachable) if (picked.size < o.maxFeatureNodes) picked.add(c);
  const chosen = [...picked].sort((a, b) => a.layer - b.layer || a.position - b.position || a.feature - b.feature);

  const nodes: GraphNode[] = [];
  const candidates: Candidate[] = chosen.map((c) => ({
    ...c,
    node:
      nodes.push({ kind: 'feature', layer: c.layer, position: c.position, feature: c.feature, activation: c.activation, influence: 0 }) - 1,
  }));
  const embeddingNodes: number[] = [];
  for (let t = 0; t < T; t++) {
    let norm = 0;
    for (let i = 0; i < w; i++) norm += prefix.embeds[t * w + i]! ** 2;
    embeddingNodes.push(nodes.push({ kind: 'embedding', layer: -1, position: t, activation: Math.sqrt(norm), influence: 0 }) - 1);
  }
  const L = set.layers.length > 0 ? set.layers[set.layers.length - 1]!.layer + 1 : 0;
  const outputNode = nodes.push({ kind: 'output', layer: L, position: T - 1, activation: outputValue, influence: 1 }) - 1;

  // Variants: one per candidate feature and one per input position, in batches.
  const variants: Array<{ source: number; feature?: Candidate; embedding?: number; layer: number }> = [
    ...candidates.map((c) => ({ source: c.node, feature: c, layer: c.layer })),
    ...embeddingNodes.map((node, t) => ({ source: node, embedding: t, layer: -1 })),
  ];
  const rows = new Map<number, Array<[number, number]>>();
  const push = (targetNode: number, source: number, weight: number) => {
    if (weight === 0) return;
    const row = rows.get(targetNode) ?? [];
    row.push([source, weight]);
    rows.set(targetNode, row);
  };
  rows.set(outputNode, []);
  const byLayer = set.layers.map((_, li) => candidates.filter((c) => c.li === li));
  const positionsOf = byLayer.map((cs) => [...new Set(cs.map((c) => c.position))]);
  const batch = Math.max(1, o.batchSize);
  let batches = 0;
  for (let start = 0; start < variants.length; start += batch) {
    const part = variants.slice(start, start + batch);
    const r = await ablator.run(
      prefix,
      part.map((v) => ({ features: v.feature ? [v.feature] : [], embeddings: v.embedding === undefined ? [] : [v.embedding] })),
    );
    batches++;
    part.forEach((v, k) => {
      const last = r.logits.subarray((k * T + T - 1) * V, (k * T + T) * V);
      // Edge = clean − ablated: what the source adds to the target.
      push(outputNode, v.source, outputValue - outputMetric(last, target, contrast));
      set.layers.forEach((l, li) => {
        if (l.layer <= v.layer || byLayer[li]!.length === 0) return;
        const d = l.sae.dIn;
        const positions = positionsOf[li]!;
        // Re-encode only the positions holding candidates of this layer (TopK needs the whole code).
        const x = new Float32Array(positions.length * d);
        positions.forEach((t, j) => x.set(r.mlpIn[li]!.subarray((k * T + t) * d, (k * T + t + 1) * d), j * d));
        const z = encode(l.sae, x);
        for (const c of byLayer[li]!) {
          const j = positions.indexOf(c.position);
          push(c.node, v.source, codes[li]![c.position * l.sae.dSae + c.feature]! - z[j * l.sae.dSae + c.feature]!);
        }
      });
    });
  }
  const influence = influences(nodes.length, rows, outputNode, nodes);
  nodes.forEach((node, i) => (node.influence = influence[i]!));
  const outputEdgeSum = rows.get(outputNode)!.reduce((s, [, x]) => s + x, 0);
  return {
    lastLogits,
    vocab: V,
    raw: { nodes, rows, outputValue, outputEdgeSum },
    variants: variants.length,
    batches,
    target,
    contrast,
  };
}
