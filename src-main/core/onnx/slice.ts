/**
 * Slicing graphs. `sliceToLogits` keeps only what computes `logits` from the last residual-stream tap
 * (the final norm, the unembedding, any soft-capping), with that tap as the graph's one input. Logit
 * effects of SAE features run decoder directions through it, so they use the model's own weights,
 * whatever their format (fp32, fp16, quantized MatMulNBits). `sliceToTensors` keeps what computes
 * chosen tensors from the graph's inputs (the first blocks of a decoder, say), node for node.
 * Control-flow bodies' outer-scope reads count as reads of their node in both.
 */
import { DataType } from './schema.js';
import { GraphIndex } from './graph-index.js';
import type { ModelProto, NodeProto, ValueInfoProto } from './model-io.js';
import { valueInfo } from './builder.js';
import { SKIP_NORMS, unfuseSkipNorm } from './fused-norm.js';
import { discoverTowerTaps } from './taps.js';

export class SliceError extends Error {}

export function sliceToLogits(model: ModelProto, output = 'logits'): { model: ModelProto; inputType: number } {
  let g = model.graph;
  if (!g.output.some((o) => o.name === output)) throw new SliceError(`The graph has no '${output}' output.`);
  const tower = discoverTowerTaps(g, '');
  if (!tower) throw new SliceError('No residual stream found, so there is no last tap to slice from.');
  const last = tower.taps.filter((t) => t.hook === 'hook_resid_post').sort((a, b) => b.layer - a.layer)[0]!;
  let from = last.ref.tensor;
  if (!from) {
    // The last sum is output 3 of a fused final norm (onnxruntime-genai, transformers.js): start from
    // that sum, with the fused node replaced by the plain norm of it.
    const fused = g.node[last.ref.nodeIndex];
    if (!fused || !SKIP_NORMS[fused.op_type]) throw new SliceError(`The last residual tap ${last.name} has no tensor to slice from.`);
    from = `ocular/${last.name}`;
    const split = { ...fused, output: [fused.output[0] ?? '', fused.output[1] ?? '', fused.output[2] ?? '', from] };
    const { norm } = unfuseSkipNorm(split, last.name, (m) => new SliceError(m));
    if (!norm) throw new SliceError(`${fused.name}: its normalised output is unused, so the logits do not come from ${last.name}.`);
    g = { ...g, node: g.node.map((n, i) => (i === last.ref.nodeIndex ? norm : n)) };
  }
  const index = new GraphIndex(g);
  const initializers = new Set(g.initializer.map((t) => t.name));
  const { nodes, needed } = nodesComputing(index, [output], new Set([from]));
  const produced = new Set<string>([from, ...nodes.flatMap((n) => n.output)]);
  const missing = [...needed].filter((t) => !produced.has(t) && !initializers.has(t));
  if (missing.length > 0)
    throw new SliceError(
      `The logits depend on ${missing.slice(0, 3).join(', ')} besides the residual stream; this export cannot be sliced.`,
    );
  const inputType = index.types.get(from)?.elemType ?? index.types.get('inputs_embeds')?.elemType ?? DataType.FLOAT;
  const read = new Set(nodes.flatMap((n) => index.inputsOf(n)));
  return {
    model: {
      ...model,
      graph: {
        ...g,
        name: `${g.name}_unembed`,
        node: nodes,
        input: [valueInfo(from, inputType, ['batch', 'seq', last.width ?? 'd_model'])],
        output: g.output.filter((o) => o.name === output),
        initializer: g.initializer.filter((t) => read.has(t.name)),
        value_info: [],
      },
    },
    inputType,
  };
}

/** The nodes (in graph order) that `targets` are computed by, not looking past `stop`; and every tensor they read. */
function nodesComputing(index: GraphIndex, targets: string[], stop: Set<string>): { nodes: NodeProto[]; needed: Set<string> } {
  const g = index.graph;
  const needed = new Set(targets);
  const keep: NodeProto[] = [];
  for (let i = g.node.length - 1; i >= 0; i--) {
    const n = g.node[i]!;
    if (!n.output.some((o) => needed.has(o))) continue;
    keep.push(n);
    for (const input of index.inputsOf(n)) if (!stop.has(input) && !index.initializers.has(input)) needed.add(input);
  }
  return { nodes: keep.reverse(), needed };
}

/**
 * The part of a graph that computes `outputs` (value infos naming a tensor of the graph) from its
 * inputs: the nodes needed, the inputs and weights they read, and the graph's own outputs those nodes
 * produce anyway (a kept layer's caches, say). Weights keep their external-data records.
 */
export function sliceToTensors(model: ModelProto, outputs: ValueInfoProto[]): ModelProto {
  const g = model.graph;
  const index = new GraphIndex(g);
  for (const o of outputs) if (!index.producer.has(o.name)) throw new SliceError(`No node of the graph produces '${o.name}'.`);
  const { nodes } = nodesComputing(
    index,
    outputs.map((o) => o.name),
    new Set(),
  );
  const produced = new Set(nodes.flatMap((n) => n.output));
  const read = new Set(nodes.flatMap((n) => index.inputsOf(n)));
  const wanted = new Set(outputs.map((o) => o.name));
  return {
    ...model,
    graph: {
      ...g,
      node: nodes,
      input: g.input.filter((i) => read.has(i.name)),
      output: [...outputs, ...g.output.filter((o) => produced.has(o.name) && !wanted.has(o.name))],
      initializer: g.initializer.filter((t) => read.has(t.name)),
      value_info: g.value_info.filter((v) => produced.has(v.name) && !wanted.has(v.name)),
    },
  };
}
