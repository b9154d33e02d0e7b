/**
 * A saved attribution graph (trace.ts) as the Circuits page shows it, pruned further on the server.
 * The trace saved the features carrying `savedShare` of the total feature influence (attribution.ts,
 * prune). A smaller share s keeps the prefix of features, by influence descending, that prune() would
 * keep at s on the full graph (the same rule, against the same total, so the kept set is exactly
 * prune()'s), and the saved edges between kept nodes. Input and error nodes are shown only when an
 * edge reaches them: every (layer, position) has an error node, and most carry nothing.
 */
import fs from 'node:fs';
import type { CircuitView, CircuitViewNode } from '../../contract/circuits-view.js';
import { OcularError } from '../errors.js';
import type { CircuitDocument } from './trace.js';

export type SavedCircuit = CircuitDocument & { image?: string };

/** Reads a saved graph, refusing anything that is not one this version wrote. */
export function readCircuit(file: string, id: number): SavedCircuit {
  if (!fs.existsSync(file)) throw new OcularError('not_found', `No saved circuit ${id}.`);
  let doc: SavedCircuit;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8')) as SavedCircuit;
  } catch {
    throw new OcularError('invalid_request', `Circuit ${id}'s file is not valid JSON (${file}).`);
  }
  if (doc?.version !== 1 || !Array.isArray(doc.nodes) || !Array.isArray(doc.edges) || !Array.isArray(doc.tokens))
    throw new OcularError('invalid_request', `Circuit ${id}'s file is not an attribution graph this version reads.`);
  return doc;
}

/** The node ids kept at `share` (features by influence until `share` of the total; other kinds always). */
export function keptAtShare(doc: SavedCircuit, share: number): Set<number> {
  const saved = doc.pruning.nodeThreshold;
  const total = doc.pruning.featureInfluenceTotal;
  if (share > saved + 1e-12)
    throw new OcularError(
      'invalid_request',
      `This circuit was saved with the features carrying ${fmt(saved)} of the influence; a larger share (${fmt(share)}) needs a new trace.`,
    );
  const keep = new Set<number>();
  const features = doc.nodes.filter((n) => n.kind === 'feature' && n.influence > 0).sort((a, b) => b.influence - a.influence);
  if (share >= saved) features.forEach((f) => keep.add(f.id));
  else {
    if (total === undefined)
      throw new OcularError(
        'invalid_request',
        'This circuit was traced before graphs recorded their total influence; trace it again to prune it further.',
      );
    let acc = 0;
    for (const f of features) {
      if (total > 0 && acc / total >= share) break;
      keep.add(f.id);
      acc += f.influence;
    }
  }
  for (const n of doc.nodes) if (n.kind !== 'feature') keep.add(n.id);
  return keep;
}

const fmt = (x: number) => `${Math.round(x * 1000) / 10}%`;

/** The graph at `share` for the page: kept features, the saved edges among kept nodes, inputs and errors an edge reaches. */
export function graphView(
  doc: SavedCircuit,
  id: number,
  share: number | undefined,
  analysisOf: (saeId: number) => number | null,
  image: { url: string | null; note: string | null },
): CircuitView {
  const applied = share ?? doc.pruning.nodeThreshold;
  const keep = keptAtShare(doc, applied);
  const edges = doc.edges.filter(([t, s]) => keep.has(t) && keep.has(s));
  const touched = new Set<number>();
  for (const [t, s] of edges) touched.add(t).add(s);
  const nodes: CircuitViewNode[] = doc.nodes
    .filter((n) => keep.has(n.id) && (n.kind === 'feature' || n.kind === 'output' || touched.has(n.id)))
    .map((n) => ({
      id: n.id,
      kind: n.kind,
      layer: n.layer,
      position: n.position,
      feature: n.feature ?? null,
      activation: n.activation,
      influence: n.influence,
      analysisId: n.kind === 'feature' ? analysisOf(doc.saeIds[doc.layers.indexOf(n.layer)] ?? -1) : null,
    }));
  const embeddingAt = new Map(doc.nodes.filter((n) => n.kind === 'embedding').map((n) => [n.position, n.influence]));
  return {
    id,
    method: doc.method,
    methodDetail: doc.methodDetail,
    prompt: doc.prompt,
    setId: doc.setId,
    layers: doc.layers,
    target: { text: doc.target.text, contrast: doc.target.contrast?.text ?? null, probability: doc.target.logitProbability },
    outputValue: doc.outputValue,
    savedShare: doc.pruning.nodeThreshold,
    share: applied,
    tokens: doc.tokens,
    nodes,
    edges,
    patchInfluence: doc.attention.imagePositions.map((p) => embeddingAt.get(p) ?? 0),
    saved: { nodes: doc.nodes.length, edges: doc.edges.length, features: doc.nodes.filter((n) => n.kind === 'feature').length },
    image: image.url,
    imageNote: image.note,
    attention: {
      answerPosition: doc.attention.answerPosition,
      imagePositions: doc.attention.imagePositions,
      heads: doc.attention.layers.map((l) => l.length),
      maxDeviationFromModel: doc.attention.maxDeviationFromModel,
    },
  };
}

/** One layer's attention maps (per head) or the rollout (one row). */
export function attentionOf(doc: SavedCircuit, layer: number | null): number[][] {
  if (layer === null) return [doc.attention.rollout];
  const maps = doc.attention.layers[layer];
  if (!maps)
    throw new OcularError('invalid_request', `The graph has ${doc.attention.layers.length} layers of attention; no layer ${layer}.`);
  return maps;
}

const IMAGE_BYTES_MAX = 16 * 1024 * 1024;

/** The traced image inline (raster bytes only, so it can never be active content), or why not. */
export function imageDataUrl(file: string | undefined): { url: string | null; note: string | null } {
  if (!file) return { url: null, note: 'The graph does not name its image.' };
  let bytes: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size > IMAGE_BYTES_MAX) return { url: null, note: `The image is larger than 16 MB (${file}).` };
    bytes = fs.readFileSync(file);
  } catch {
    return { url: null, note: `The image is no longer at ${file}.` };
  }
  const png = bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!png && !jpeg) return { url: null, note: `The image at ${file} is not PNG or JPEG.` };
  return { url: `data:image/${png ? 'png' : 'jpeg'};base64,${bytes.toString('base64')}`, note: null };
}
