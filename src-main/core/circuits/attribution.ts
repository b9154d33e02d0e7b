/**
 * An attribution graph for one prompt (circuit-tracer's definitions; maths in linear-model.ts).
 * Nodes: active transcoder features per (layer, position), an error node per (layer, position), an
 * embedding node per position (a text token or an image patch), one output node (the target's logit
 * less the mean logit, or less the contrast token's logit). Rows of the adjacency matrix are computed
 * for the output and for features in order of their influence on it as known so far (circuit-tracer's
 * phase 2), up to `maxFeatureNodes`; edges are the exact direct effects in the frozen model.
 * Influence: with Â the adjacency normalised by each row's absolute sum, a node's influence is its
 * share of the output through all paths, Σ_k (e_out Â^k). Pruning keeps the features that carry
 * `nodeThreshold` of the total influence, then the edges that carry `edgeThreshold` of the score
 * |Â[τ, s]| · influence(τ) among kept nodes.
 */
import type { SaeWeights } from '../sae/sae-model.js';
import { encode } from '../sae/sae-encode.js';
import { attentionBackward, featureReader, outputReader, type FrozenModel } from './linear-model.js';

export type NodeKind = 'feature' | 'error' | 'embedding' | 'output';

export interface GraphNode {
  kind: NodeKind;
  layer: number;
  position: number;
  /** Feature index (features only). */
  feature?: number;
  /** Activation (features), norm of the vector written (errors, embeddings), value (output). */
  activation: number;
  influence: number;
}

export interface AttributionOptions {
  target: number;
  contrast: number | null;
  maxFeatureNodes: number;
  batchSize: number;
  /** The frozen attention backward of one layer in place on G [n, T, d] (default: linear-model.ts in TypeScript; backward-graph.ts runs it in onnxruntime). */
  backward?: (layer: number, G: Float32Array, n: number) => Promise<void>;
}

export interface RawGraph {
  nodes: GraphNode[];
  /** Sparse rows: target node -> (source node, weight). */
  rows: Map<number, Array<[number, number]>>;
  outputValue: number;
  /** Σ of the output row's edges: with the biases' share, equals outputValue (completeness). */
  outputEdgeSum: number;
}

interface Source {
  node: number;
  layer: number; // writes into x^layer (0: embeddings; l + 1: layer l's MLP)
  position: number;
  vector: Float32Array;
}

/** Builds the graph: captured stream values per layer (mlpIn [T, d], mlpOut [T, d]) and embeddings x⁰ [T, d]. */
export async function attribute(
  model: FrozenModel,
  x0: Float32Array,
  mlpIn: Float32Array[],
  mlpOut: Float32Array[],
  transcoders: SaeWeights[],
  outputValue: number,
  o: AttributionOptions,
): Promise<RawGraph> {
  const { d, length: T } = model;
  const L = model.layers.length;
  const nodes: GraphNode[] = [];
  const sources: Source[] = [];
  const featureAt: Array<{ node: number; layer: number; position: number; feature: number }> = [];
  for (let l = 0; l < L; l++) {
    const sae = transcoders[l]!;
    const dOut = sae.dOut ?? sae.dIn;
    const codes = encode(sae, mlpIn[l]!);
    for (let t = 0; t < T; t++) {
      const recon = Float64Array.from(sae.b_dec);
      for (let f = 0; f < sae.dSae; f++) {
        const a = codes[t * sae.dSae + f]!;
        if (a === 0) continue;
        const vector = new Float32Array(dOut);
        for (let i = 0; i < dOut; i++) {
          vector[i] = a * sae.W_dec[f * dOut + i]!;
          recon[i]! += vector[i]!;
        }
        const node = nodes.push({ kind: 'feature', layer: l, position: t, feature: f, activation: a, influence: 0 }) - 1;
        sources.push({ node, layer: l + 1, position: t, vector });
        featureAt.push({ node, layer: l, position: t, feature: f });
      }
      const err = new Float32Array(d);
      let norm = 0;
      for (let i = 0; i < d; i++) {
        err[i] = mlpOut[l]![t * d + i]! - recon[i]!;
        norm += err[i]! ** 2;
      }
      const node = nodes.push({ kind: 'error', layer: l, position: t, activation: Math.sqrt(norm), influence: 0 }) - 1;
      sources.push({ node, layer: l + 1, position: t, vector: err });
    }
  }
  for (let t = 0; t < T; t++) {
    const vector = x0.subarray(t * d, (t + 1) * d);
    let norm = 0;
    for (let i = 0; i < d; i++) norm += vector[i]! ** 2;
    const node = nodes.push({ kind: 'embedding', layer: -1, position: t, activation: Math.sqrt(norm), influence: 0 }) - 1;
    sources.push({ node, layer: 0, position: t, vector: Float32Array.from(vector) });
  }
  const outputNode = nodes.push({ kind: 'output', layer: L, position: T - 1, activation: outputValue, influence: 1 }) - 1;
  const byStream = Array.from({ length: L + 1 }, (_, l) => sources.filter((s) => s.layer === l));

  /** Rows for targets reading at one stream point: `at` = l (m^l, features of layer l) or L (x^L, the output). */
  const rows = new Map<number, Array<[number, number]>>();
  const computeRows = async (at: number, targets: Array<{ node: number; position: number; reader: Float32Array }>) => {
    for (let start = 0; start < targets.length; start += o.batchSize) {
      const batch = targets.slice(start, start + o.batchSize);
      const n = batch.length;
      const G = new Float32Array(n * T * d);
      const rowsBound = Math.max(...batch.map((b) => b.position)) + 1;
      batch.forEach((b, k) => G.set(b.reader, (k * T + b.position) * d));
      const edges: Array<Array<[number, number]>> = batch.map(() => []);
      const read = (stream: number) => {
        for (const s of byStream[stream]!) {
          if (s.position >= rowsBound) continue;
          for (let k = 0; k < n; k++) {
            const g = (k * T + s.position) * d;
            let w = 0;
            for (let i = 0; i < d; i++) w += s.vector[i]! * G[g + i]!;
            if (w !== 0) edges[k]!.push([s.node, w]);
          }
        }
      };
      // The output reads x^L: the last layer's MLP writes there before any attention.
      if (at === L) read(L);
      for (let l = Math.min(at, L - 1); l >= 0; l--) {
        if (o.backward) await o.backward(l, G, n);
        else attentionBackward(model.layers[l]!, d, T, G, n, rowsBound);
        read(l);
      }
      batch.forEach((b, k) => rows.set(b.node, edges[k]!));
    }
  };

  await computeRows(L, [{ node: outputNode, position: T - 1, reader: outputReader(model, T - 1, o.target, o.contrast) }]);
  const outputEdgeSum = rows.get(outputNode)!.reduce((s, [, w]) => s + w, 0);

  // Phase 2: features in order of their influence through the rows known so far.
  const done = new Set<number>();
  while (done.size < Math.min(o.maxFeatureNodes, featureAt.length)) {
    const influence = influences(nodes.length, rows, outputNode, nodes);
    const next = featureAt
      .filter((f) => !done.has(f.node) && influence[f.node]! > 0)
      .sort((a, b) => influence[b.node]! - influence[a.node]!)
      .slice(0, Math.min(o.batchSize * 4, o.maxFeatureNodes - done.size));
    if (next.length === 0) break;
    for (const f of next) done.add(f.node);
    for (let l = 0; l < L; l++) {
      const here = next.filter((f) => f.layer === l);
      if (here.length)
        await computeRows(
          l,
          here.map((f) => ({
            node: f.node,
            position: f.position,
            reader: featureReader(model, l, f.position, transcoders[l]!, f.feature),
          })),
        );
    }
  }
  const influence = influences(nodes.length, rows, outputNode, nodes);
  nodes.forEach((node, i) => (node.influence = influence[i]!));
  return { nodes, rows, outputValue, outputEdgeSum };
}

/** Influence on the output of every node through the computed rows (normalised by absolute row sums). */
export function influences(
  count: number,
  rows: Map<number, Array<[number, number]>>,
  outputNode: number,
  nodes: GraphNode[],
): Float64Array {
  const inf = new Float64Array(count);
  inf[outputNode] = 1;
  // Targets in descending stream order: the output, then features from the top layer down.
  const order = [...rows.keys()].sort((a, b) => (a === outputNode ? -1 : b === outputNode ? 1 : nodes[b]!.layer - nodes[a]!.layer));
  for (const target of order) {
    const row = rows.get(target)!;
    const total = row.reduce((s, [, w]) => s + Math.abs(w), 0);
    if (total === 0 || inf[target] === 0) continue;
    for (const [source, w] of row) inf[source]! += (inf[target]! * Math.abs(w)) / total;
  }
  return inf;
}

export interface PrunedGraph {
  nodes: number[];
  edges: Array<[number, number, number]>;
}

/** Keeps features carrying `nodeThreshold` of the influence (other kinds always), then edges carrying `edgeThreshold` of the score. */
export function prune(graph: Pick<RawGraph, 'nodes' | 'rows'>, nodeThreshold: number, edgeThreshold: number): PrunedGraph {
  const features = graph.nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.kind === 'feature' && n.influence > 0);
  features.sort((a, b) => b.n.influence - a.n.influence);
  const total = features.reduce((s, f) => s + f.n.influence, 0);
  const keep = new Set<number>();
  let acc = 0;
  for (const f of features) {
    if (total > 0 && acc / total >= nodeThreshold) break;
    keep.add(f.i);
    acc += f.n.influence;
  }
  graph.nodes.forEach((n, i) => {
    if (n.kind !== 'feature') keep.add(i);
  });
  const scored: Array<[number, number, number, number]> = [];
  for (const [target, row] of graph.rows) {
    if (!keep.has(target)) continue;
    const rowTotal = row.reduce((s, [, w]) => s + Math.abs(w), 0);
    for (const [source, w] of row)
      if (keep.has(source) && rowTotal > 0) scored.push([target, source, w, (Math.abs(w) / rowTotal) * graph.nodes[target]!.influence]);
  }
  scored.sort((a, b) => b[3] - a[3]);
  const scoreTotal = scored.reduce((s, e) => s + e[3], 0);
  const edges: Array<[number, number, number]> = [];
  let sum = 0;
  for (const e of scored) {
    if (scoreTotal > 0 && sum / scoreTotal >= edgeThreshold) break;
    edges.push([e[0], e[1], e[2]]);
    sum += e[3];
  }
  return { nodes: [...keep].sort((a, b) => a - b), edges };
}
