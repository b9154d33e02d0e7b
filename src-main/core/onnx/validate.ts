/**
 * Checks a graph before it is handed to a session: every tensor is defined before it is used
 * (graphs are topologically sorted, single assignment; a control-flow body's outer-scope reads count as
 * uses by its node), outputs exist, and element types agree
 * across the ops whose inputs must share a type — the mismatch graph surgery most often causes
 * (an fp32 edit spliced into an fp16 model). Shapes are propagated for the ops surgery inserts.
 */
import { GraphIndex, type Dim, type TensorType } from './graph-index.js';
import type { ModelProto, NodeProto } from './model-io.js';
import { DATA_TYPE_NAMES } from './schema.js';

const SAME_TYPE_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'MatMul', 'Max', 'Min', 'Sum', 'Where']);

export class GraphValidationError extends Error {}

export function validateModel(model: ModelProto, label = 'graph'): void {
  const problems: string[] = [];
  const graph = model.graph;
  const defined = new Set<string>([...graph.input.map((i) => i.name), ...graph.initializer.map((t) => t.name)]);
  const index = new GraphIndex(graph);
  const types = new Map<string, TensorType>(index.types);

  graph.node.forEach((n, i) => {
    // Control-flow bodies read outer-scope tensors too: those must exist before the node runs.
    for (const input of index.inputsOf(n)) {
      if (!defined.has(input)) problems.push(`node ${n.name || i} (${n.op_type}) uses '${input}' before it is defined`);
    }
    for (const output of n.output) {
      if (!output) continue;
      if (defined.has(output)) problems.push(`tensor '${output}' is assigned twice (node ${n.name || i})`);
      defined.add(output);
    }
    inferTypes(n, types, problems);
  });
  for (const o of graph.output) if (!defined.has(o.name)) problems.push(`graph output '${o.name}' is never produced`);
  const outNames = graph.output.map((o) => o.name);
  if (new Set(outNames).size !== outNames.length) problems.push('graph outputs repeat a name');
  const inNames = graph.input.map((o) => o.name);
  if (new Set(inNames).size !== inNames.length) problems.push('graph inputs repeat a name');
  if (problems.length > 0) {
    throw new GraphValidationError(
      `${label} failed validation: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`,
    );
  }
}

function typeName(t: number): string {
  return DATA_TYPE_NAMES[t] ?? `type ${t}`;
}

/** Element-type and (for the ops surgery inserts) shape propagation, recording conflicts. */
function inferTypes(n: NodeProto, types: Map<string, TensorType>, problems: string[]): void {
  const ins = n.input.map((i) => (i ? types.get(i) : undefined));
  const set = (slot: number, t: TensorType | undefined) => {
    const out = n.output[slot];
    if (out && t && !types.has(out)) types.set(out, t);
  };
  if (n.domain !== '' && n.domain !== 'ai.onnx') return;
  if (SAME_TYPE_OPS.has(n.op_type)) {
    const dataIns = n.op_type === 'Where' ? ins.slice(1) : ins;
    const known = dataIns.filter((t): t is TensorType => t !== undefined);
    const elem = known[0]?.elemType;
    if (known.some((t) => t.elemType !== elem)) {
      problems.push(
        `node ${n.name} (${n.op_type}) mixes element types ${[...new Set(known.map((t) => typeName(t.elemType)))].join(' and ')}`,
      );
      return;
    }
    if (elem === undefined) return;
    let shape: Dim[] | null = null;
    if (n.op_type === 'MatMul' && known.length === 2 && known[0]!.shape && known[1]!.shape) {
      const a = known[0]!.shape;
      const b = known[1]!.shape;
      const k1 = a[a.length - 1];
      const k2 = b.length >= 2 ? b[b.length - 2] : b[0];
      if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2)
        problems.push(`node ${n.name} (MatMul) multiplies [..., ${k1}] by [${k2}, ...]`);
      shape = [...a.slice(0, -1), ...(b.length >= 2 ? [b[b.length - 1]!] : [])];
    } else if (n.op_type !== 'MatMul' && known.length === dataIns.length && known.every((t) => t.shape)) {
      shape = broadcast(
        known.map((t) => t.shape!),
        n,
        problems,
      );
    }
    set(0, { elemType: elem, shape });
    return;
  }
  switch (n.op_type) {
    case 'Identity':
    case 'Relu':
    case 'Neg':
      set(0, ins[0]);
      break;
    case 'Cast': {
      const to = n.attribute.find((a) => a.name === 'to');
      if (to) set(0, { elemType: Number(to.i), shape: ins[0]?.shape ?? null });
      break;
    }
  }
}

function broadcast(shapes: Dim[][], n: NodeProto, problems: string[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (dim === 1) dim = d;
      else if (typeof d === 'number' && typeof dim === 'number' && d !== dim) {
        problems.push(`node ${n.name} (${n.op_type}) cannot broadcast ${JSON.stringify(shapes)}`);
        return out;
      }
    }
    out.push(dim);
  }
  return out;
}
