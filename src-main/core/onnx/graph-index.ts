/** Producer/consumer index over a graph's tensors, and the tensor types the graph declares. */
import { DATA_TYPE_NAMES } from './schema.js';
import { toNumber, type GraphProto, type NodeProto, type ValueInfoProto } from './model-io.js';

export type Dim = number | string;

export interface TensorType {
  elemType: number;
  shape: Dim[] | null;
}

export interface Use {
  node: NodeProto;
  /** Position of the node in graph order (ONNX graphs are topologically sorted). */
  order: number;
  slot: number;
}

export class GraphIndex {
  readonly producer = new Map<string, Use>();
  readonly consumers = new Map<string, Use[]>();
  readonly initializers = new Map<string, { dims: number[]; dataType: number }>();
  readonly graphInputs = new Set<string>();
  readonly types = new Map<string, TensorType>();

  constructor(readonly graph: GraphProto) {
    graph.node.forEach((node, order) => {
      node.output.forEach((t, slot) => {
        if (t) this.producer.set(t, { node, order, slot });
      });
      node.input.forEach((t, slot) => {
        if (!t) return;
        const list = this.consumers.get(t) ?? [];
        list.push({ node, order, slot });
        this.consumers.set(t, list);
      });
    });
    for (const init of graph.initializer) this.initializers.set(init.name, { dims: init.dims.map(toNumber), dataType: init.data_type });
    for (const i of graph.input) this.graphInputs.add(i.name);
    for (const vi of [...graph.input, ...graph.value_info, ...graph.output]) {
      const t = valueInfoType(vi);
      if (t) this.types.set(vi.name, t);
    }
    for (const [name, init] of this.initializers) this.types.set(name, { elemType: init.dataType, shape: init.dims });
  }

  isConstant(tensor: string): boolean {
    if (this.initializers.has(tensor)) return true;
    const p = this.producer.get(tensor);
    return p !== undefined && p.node.op_type === 'Constant' && p.node.domain === '';
  }

  /** Topological position of the node producing `tensor`; graph inputs and constants come first (-1). */
  orderOf(tensor: string): number {
    return this.producer.get(tensor)?.order ?? -1;
  }

  /**
   * True if `tensor` is computed from `source`. Walks producers backwards, never past the node that
   * produced `source` (nothing earlier can depend on it), so each check stays local.
   */
  dependsOn(tensor: string, source: string): boolean {
    if (tensor === source) return true;
    const floor = this.orderOf(source);
    const sourceNode = this.producer.get(source)?.node;
    const seen = new Set<string>();
    const stack = [tensor];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (t === source) return true;
      if (seen.has(t)) continue;
      seen.add(t);
      const p = this.producer.get(t);
      // A sibling output of the node that produced `source` (a fused Skip*Norm's normalised output
      // beside its residual sum) carries the same value onward: count it as `source`.
      if (p && sourceNode && p.node === sourceNode) return true;
      if (!p || p.order <= floor) continue;
      for (const input of p.node.input) if (input) stack.push(input);
    }
    return false;
  }

  /** Nodes on the paths from `source` to `tensor` (the branch between them), in graph order. */
  branchNodes(tensor: string, source: string): NodeProto[] {
    const floor = this.orderOf(source);
    const sourceNode = this.producer.get(source)?.node;
    const found = new Map<number, NodeProto>();
    const memo = new Map<string, boolean>();
    const visit = (t: string): boolean => {
      if (t === source) return true;
      const cached = memo.get(t);
      if (cached !== undefined) return cached;
      memo.set(t, false);
      const p = this.producer.get(t);
      if (p && sourceNode && p.node === sourceNode) return true;
      if (!p || p.order <= floor) return false;
      let reaches = false;
      for (const input of p.node.input) if (input && visit(input)) reaches = true;
      if (reaches) found.set(p.order, p.node);
      memo.set(t, reaches);
      return reaches;
    };
    visit(tensor);
    return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
  }

  typeName(tensor: string): string | null {
    const t = this.types.get(tensor);
    return t ? (DATA_TYPE_NAMES[t.elemType] ?? `type${t.elemType}`) : null;
  }
}

export function valueInfoType(vi: ValueInfoProto): TensorType | null {
  const tt = vi.type?.tensor_type;
  if (!tt) return null;
  // Decoded messages carry only the fields present as own properties; an unset dimension is unknown.
  const has = (d: object, key: string) => Object.prototype.hasOwnProperty.call(d, key);
  const shape = tt.shape
    ? tt.shape.dim.map((d): Dim => (d.dim_param ? d.dim_param : has(d, 'dim_value') && d.dim_value != null ? toNumber(d.dim_value) : '?'))
    : null;
  return { elemType: tt.elem_type ?? 0, shape };
}
