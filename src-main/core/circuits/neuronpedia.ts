/**
 * A saved attribution graph (trace.ts's document) as the graph JSON circuit-tracer writes for
 * Neuronpedia's graph view (circuit_tracer/utils/create_graph_files.py with frontend/graph_models.py):
 *
 *   { metadata: { slug, scan, transcoder_list, prompt_tokens, prompt, node_threshold, schema_version },
 *     qParams: { pinnedIds: [], supernodes: [], linkType: 'both', clickedId: '', sg_pos: '' },
 *     nodes: [{ node_id, feature, layer, ctx_idx, feature_type, token_prob, is_target_logit, run_idx,
 *               reverse_ctx_idx, jsNodeId, clerp, influence, activation }],
 *     links: [{ source, target, weight }] }
 *
 * with circuit-tracer's ids: a feature `${layer}_${feature}_${pos}` (feature_type "cross layer
 * transcoder"; `feature` is the index itself, as circuit-tracer writes it for a custom transcoder
 * list), an error `0_${layer}_${pos}` ("mlp reconstruction error", feature −1), an input `E_${token}_${pos}`
 * ("embedding", feature = pos), the output `${L + 1}_${token}_${pos}` ("logit"). `influence` is
 * circuit-tracer's cumulative pruning score; links are the graph's pruned edges, and nodes are those
 * an edge touches plus every embedding and logit (create_used_nodes_and_edges).
 *
 * What the format cannot hold, and what this does with it (also written into metadata.ocular):
 * image-patch inputs are embedding nodes like text tokens (their token id is the image placeholder's;
 * prompt_tokens reads `<patch r,c>`), so Neuronpedia lists them as tokens and cannot draw them on the
 * image — their grid cells and pixel boxes are in metadata.ocular.image_patches. A contrast output
 * (target minus contrast) is one logit node whose clerp says so. The attention maps are left out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OcularError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { CircuitDocument } from './trace.js';

export interface NeuronpediaNode {
  node_id: string;
  feature: number;
  layer: string;
  ctx_idx: number;
  feature_type: 'cross layer transcoder' | 'mlp reconstruction error' | 'embedding' | 'logit';
  token_prob: number;
  is_target_logit: boolean;
  run_idx: number;
  reverse_ctx_idx: number;
  jsNodeId: string;
  clerp: string;
  influence: number | null;
  activation: number | null;
}

export interface NeuronpediaGraph {
  metadata: {
    slug: string;
    scan: string;
    transcoder_list: string[];
    prompt_tokens: string[];
    prompt: string;
    node_threshold: number | null;
    schema_version: number;
    /** Ocular's additions (ignored by readers that do not know them). */
    ocular: {
      method: string;
      set_id: number;
      output: string;
      image: string | null;
      image_patches: Array<{ ctx_idx: number; row: number | null; col: number | null; box: [number, number, number, number] | null }>;
      note: string;
    };
  };
  qParams: { pinnedIds: string[]; supernodes: string[][]; linkType: string; clickedId: string; sg_pos: string };
  nodes: NeuronpediaNode[];
  links: Array<{ source: string; target: string; weight: number }>;
}

/** circuit-tracer's process_token. */
export const processToken = (t: string): string => t.replace(/\n/g, '⏎').replace(/\t/g, '→').replace(/\r/g, '↵');

export const NEURONPEDIA_NOTE =
  "Image-patch inputs are embedding nodes (E_<image token id>_<position>) like text tokens; Neuronpedia's graph format has no image, so their grid cells and pixel boxes are listed in metadata.ocular.image_patches. The output node is one logit (target less the mean logit, or less the contrast token's). influence is circuit-tracer's cumulative pruning score over the unpruned graph; attention maps are not exported.";

/** The Neuronpedia graph of a saved circuit; refuses a graph saved before token ids and cumulative scores were recorded. */
export function toNeuronpedia(doc: CircuitDocument & { image?: string }, slug: string): NeuronpediaGraph {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(slug))
    throw new OcularError('invalid_request', `Slug '${slug}' must be letters, digits, '.', '_' or '-'.`);
  if (doc.tokens.some((t) => t.tokenId === undefined) || doc.nodes.some((n) => n.kind !== 'output' && n.cumulativeInfluence === undefined))
    throw new OcularError(
      'invalid_request',
      'This circuit was saved before token ids and cumulative influence were recorded; trace it again to export it for Neuronpedia.',
    );
  const L = Math.max(...doc.layers) + 1;
  const tokenId = (pos: number) => doc.tokens[pos]!.tokenId;
  const targetText = processToken(doc.target.text);
  const contrast = doc.target.contrast;
  const influence = (n: CircuitDocument['nodes'][number]) => n.cumulativeInfluence ?? null;
  const base = { token_prob: 0, is_target_logit: false, run_idx: 0, reverse_ctx_idx: 0, clerp: '', activation: null };
  const toNode = (n: CircuitDocument['nodes'][number]): NeuronpediaNode => {
    if (n.kind === 'feature')
      return {
        ...base,
        node_id: `${n.layer}_${n.feature}_${n.position}`,
        feature: n.feature!,
        layer: String(n.layer),
        ctx_idx: n.position,
        feature_type: 'cross layer transcoder',
        jsNodeId: `${n.layer}_${n.feature}-0`,
        influence: influence(n),
        activation: n.activation,
      };
    if (n.kind === 'error')
      return {
        ...base,
        node_id: `0_${n.layer}_${n.position}`,
        feature: -1,
        layer: String(n.layer),
        ctx_idx: n.position,
        feature_type: 'mlp reconstruction error',
        jsNodeId: `${n.layer}_${n.position}-0`,
        influence: influence(n),
      };
    if (n.kind === 'embedding')
      return {
        ...base,
        node_id: `E_${tokenId(n.position)}_${n.position}`,
        feature: n.position,
        layer: 'E',
        ctx_idx: n.position,
        feature_type: 'embedding',
        jsNodeId: `E_${tokenId(n.position)}-${n.position}`,
        influence: influence(n),
      };
    const p = doc.target.logitProbability;
    return {
      ...base,
      node_id: `${L + 1}_${doc.target.token}_${n.position}`,
      feature: doc.target.token,
      layer: String(L + 1),
      ctx_idx: n.position,
      feature_type: 'logit',
      token_prob: p,
      is_target_logit: true,
      jsNodeId: `L_${doc.target.token}-${n.position}`,
      clerp: contrast
        ? `Output "${targetText}" minus "${processToken(contrast.text)}" (logit difference; p=${p.toFixed(3)})`
        : `Output "${targetText}" (p=${p.toFixed(3)})`,
      influence: null,
    };
  };
  const converted = new Map(doc.nodes.map((n) => [n.id, toNode(n)]));
  const links = doc.edges.map(([t, s, w]) => ({ source: converted.get(s)!.node_id, target: converted.get(t)!.node_id, weight: w }));
  const connected = new Set(links.flatMap((l) => [l.source, l.target]));
  const nodes = [...converted.values()].filter(
    (n) => connected.has(n.node_id) || n.feature_type === 'embedding' || n.feature_type === 'logit',
  );
  return {
    metadata: {
      slug,
      scan: `ocular-set-${doc.setId}`,
      transcoder_list: doc.layers.map((l, i) => `ocular-sae-${doc.saeIds[i]}:blocks.${l}.hook_mlp_in->blocks.${l}.hook_mlp_out`),
      prompt_tokens: doc.tokens.map((t) => processToken(t.text)),
      prompt: doc.prompt,
      node_threshold: doc.pruning.nodeThreshold,
      schema_version: 1,
      ocular: {
        method: doc.method,
        set_id: doc.setId,
        output: contrast ? `logit("${targetText}") - logit("${processToken(contrast.text)}")` : `logit("${targetText}") - mean logit`,
        image: doc.image ?? null,
        image_patches: doc.tokens
          .filter((t) => t.modality === 'image')
          .map((t) => ({ ctx_idx: t.position, row: t.patchRow, col: t.patchCol, box: t.box })),
        note: NEURONPEDIA_NOTE,
      },
    },
    qParams: { pinnedIds: [], supernodes: [], linkType: 'both', clickedId: '', sg_pos: '' },
    nodes,
    links,
  };
}

/** A saved circuit (blobs/circuits/<id>.json) as Neuronpedia's graph JSON; the slug defaults to `ocular-circuit-<id>`. */
export function neuronpediaGraphOf(file: string, circuitId: number, slug = `ocular-circuit-${circuitId}`): NeuronpediaGraph {
  if (!fs.existsSync(file)) throw new OcularError('not_found', `No saved circuit ${circuitId}.`);
  return toNeuronpedia(JSON.parse(fs.readFileSync(file, 'utf8')) as CircuitDocument & { image?: string }, slug);
}

/**
 * Writes `<slug>.json` into `dir` and adds its metadata to `dir/graph-metadata.json` (replacing an
 * entry of the same slug), as circuit-tracer's create_graph_files and add_graph_metadata do, so its
 * local graph server can serve the folder. Each file is written atomically.
 */
export function writeNeuronpediaFiles(dir: string, graph: NeuronpediaGraph): string {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new OcularError('invalid_request', `${dir} is a file, not a folder.`);
  const listFile = path.join(dir, 'graph-metadata.json');
  let list: { graphs: Array<{ slug: string }> } = { graphs: [] };
  if (fs.existsSync(listFile)) {
    try {
      list = JSON.parse(fs.readFileSync(listFile, 'utf8')) as typeof list;
    } catch {
      throw new OcularError('invalid_request', `${listFile} is not JSON; move it away or choose another folder.`);
    }
    if (!Array.isArray(list.graphs)) throw new OcularError('invalid_request', `${listFile} has no graphs list.`);
  }
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${graph.metadata.slug}.json`);
  writeFileAtomic(file, JSON.stringify(graph, null, 2));
  list.graphs = [...list.graphs.filter((g) => g.slug !== graph.metadata.slug), graph.metadata];
  writeFileAtomic(listFile, JSON.stringify(list, null, 2));
  return file;
}
