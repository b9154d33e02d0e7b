/**
 * Slicing a decoder graph: keep only what computes `logits` from the last residual-stream tap (the
 * final norm, the unembedding, any soft-capping), with that tap as the graph's one input. Logit
 * effects of SAE features run decoder directions through it, so they use the model's own weights,
 * whatever their format (fp32, fp16, quantized MatMulNBits).
 */
import { DataType } from './schema.js';
import { GraphIndex } from './graph-index.js';
import type { ModelProto, NodeProto } from './model-io.js';
import { valueInfo } from './builder.js';
import { discoverTowerTaps } from './taps.js';

export class SliceError extends Error {}

export function sliceToLogits(model: ModelProto, output = 'logits'): { model: ModelProto; inputType: number } {
  const g = model.graph;
  if (!g.output.some((o) => o.name === output)) throw new SliceError(`The graph has no '${output}' output.`);
  const tower = discoverTowerTaps(g, '');
  if (!tower) throw new SliceError('No residual stream found, so there is no last tap to slice from.');
  const last = tower.taps.filter((t) => t.hook === 'hook_resid_post').sort((a, b) => b.layer - a.layer)[0];
  if (!last?.ref.tensor)
    throw new SliceError(
      'The last residual tap has no named tensor (a fused final norm); logit effects are not available for this export.',
    );
  const from = last.ref.tensor;
  const index = new GraphIndex(g);
  const initializers = new Set(g.initializer.map((t) => t.name));
  const needed = new Set([output]);
  const keep = new Set<number>();
  for (let i = g.node.length - 1; i >= 0; i--) {
    const n = g.node[i]!;
    if (!n.output.some((o) => needed.has(o))) continue;
    keep.add(i);
    for (const input of n.input) if (input && input !== from && !initializers.has(input)) needed.add(input);
  }
  const produced = new Set<string>([from]);
  const nodes: NodeProto[] = [];
  g.node.forEach((n, i) => {
    if (!keep.has(i)) return;
    nodes.push(n);
    for (const o of n.output) if (o) produced.add(o);
  });
  const missing = [...needed].filter((t) => !produced.has(t) && !initializers.has(t));
  if (missing.length > 0)
    throw new SliceError(
      `The logits depend on ${missing.slice(0, 3).join(', ')} besides the residual stream; this export cannot be sliced.`,
    );
  const inputType = index.types.get(from)?.elemType ?? index.types.get('inputs_embeds')?.elemType ?? DataType.FLOAT;
  const read = new Set(nodes.flatMap((n) => n.input));
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
