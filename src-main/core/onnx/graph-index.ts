/**
 * Producer/consumer index over a graph's tensors, and the tensor types the graph declares.
 *
 * Control flow: an If / Loop / Scan node computes from its explicit inputs *and* from every tensor its
 * body graphs read from the enclosing scope (ONNX lets a subgraph use outer names directly; exporters put
 * a gated delta-net's whole recurrence in an If whose only explicit input is the prefill/decode flag).
 * Those outer-scope reads count as the node's inputs here, so dependence, branches and consumers see
 * what the node really computes from.
 */
import { DATA_TYPE_NAMES } from './schema.js';
import { toNumber, type AttributeProto, type GraphProto, type NodeProto, type ValueInfoProto } from './model-io.js';

export type Dim = number | string;

export interface TensorType {
  elemType: number;
  shape: Dim[] | null;
}

export interface Use {
  node: NodeProto;
  /** Position of the node in graph order (ONNX graphs are topologically sorted). */
  order: number;
  /** Input (or output) position; -1 for a tensor a node's subgraph reads from the outer scope. */
  slot: number;
}

/** The body graphs of a control-flow node (If's branches, Loop's and Scan's body), in attribute order. */
export function subgraphsOf(node: NodeProto): GraphProto[] {
  return node.attribute.flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
}

/**
 * Names a body graph reads from its enclosing scope: used by one of its nodes (or by a nested body)
 * before the body itself defines them (as a body input, initializer or node output).
 */
export function outerScopeReads(body: GraphProto): string[] {
  const defined = new Set<string>([...body.input.map((i) => i.name), ...body.initializer.map((t) => t.name)]);
  const reads = new Set<string>();
  const use = (t: string) => {
    if (t && !defined.has(t)) reads.add(t);
  };
  for (const n of body.node) {
    n.input.forEach(use);
    for (const g of subgraphsOf(n)) outerScopeReads(g).forEach(use);
    for (const o of n.output) if (o) defined.add(o);
  }
  for (const o of body.output) use(o.name);
  return [...reads];
}

/**
 * A copy of a node attribute whose body graphs read `to` wherever they read `from` from the outer
 * scope (a name the body defines itself shadows the outer one and is left alone). Unchanged bodies
 * are returned as they are; the original is never mutated.
 */
export function renameOuterRead(a: AttributeProto, from: string, to: string): AttributeProto {
  if (!a.g && !a.graphs?.length) return a;
  return {
    ...a,
    ...(a.g ? { g: renameInBody(a.g, from, to) } : {}),
    ...(a.graphs?.length ? { graphs: a.graphs.map((g) => renameInBody(g, from, to)) } : {}),
  };
}

function renameInBody(body: GraphProto, from: string, to: string): GraphProto {
  if (!outerScopeReads(body).includes(from)) return body;
  let shadowed = body.input.some((i) => i.name === from) || body.initializer.some((t) => t.name === from);
  const node = body.node.map((n) => {
    if (shadowed) return n;
    const renamed = {
      ...n,
      input: n.input.map((t) => (t === from ? to : t)),
      attribute: n.attribute.map((a) => renameOuterRead(a, from, to)),
    };
    if (n.output.includes(from)) shadowed = true;
    return renamed;
  });
  const output = shadowed ? body.output : body.output.map((o) => (o.name === from ? { ...o, name: to } : o));
  return { ...body, node, output };
}

/**
 * `nodes` in an order where every tensor is produced before it is read (outer-scope reads of bodies
 * included), keeping the given order wherever it already is one. Graph inputs and initializers are
 * available from the start.
 */
export function topologicalOrder(graph: GraphProto, nodes: NodeProto[]): NodeProto[] {
  const producedBy = new Map<string, number>();
  nodes.forEach((n, i) => n.output.forEach((t) => t && producedBy.set(t, i)));
  const deps = (i: number) =>
    [...nodes[i]!.input, ...subgraphsOf(nodes[i]!).flatMap(outerScopeReads)].flatMap((t) => {
      const p = t ? producedBy.get(t) : undefined;
      return p === undefined ? [] : [p];
    });
  // Depth-first from each node in the given order, emitting a node after its producers: a list that
  // is already ordered comes back unchanged. Iterative, since a decoder's chain runs thousands deep.
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the stack, 2 emitted
  const out: NodeProto[] = [];
  for (let root = 0; root < nodes.length; root++) {
    if (state[root]) continue;
    const stack: Array<{ i: number; pending: number[] }> = [{ i: root, pending: deps(root) }];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const next = top.pending.pop();
      if (next === undefined) {
        stack.pop();
        state[top.i] = 2;
        out.push(nodes[top.i]!);
      } else if (state[next] === 1) {
        throw new Error(`internal: ${graph.name || 'the graph'} has a cycle through ${nodes[next]!.name || nodes[next]!.op_type}.`);
      } else if (state[next] === 0) {
        state[next] = 1;
        stack.push({ i: next, pending: deps(next) });
      }
    }
  }
  return out;
}

/** Ops whose output depends on their input's shape alone, never its values. */
const SHAPE_ONLY_OPS = new Set(['Shape', 'Size']);

/** Every op a node runs: itself and, for control flow, the nodes of its bodies (recursively). */
export function opsWithin(node: NodeProto): NodeProto[] {
  return [node, ...subgraphsOf(node).flatMap((g) => g.node.flatMap(opsWithin))];
}

export class GraphIndex {
  readonly producer = new Map<string, Use>();
  readonly consumers = new Map<string, Use[]>();
  readonly initializers = new Map<string, { dims: number[]; dataType: number }>();
  readonly graphInputs = new Set<string>();
  readonly types = new Map<string, TensorType>();
  /** Tensors each control-flow node's bodies read from this graph's scope (absent for plain nodes). */
  readonly outerReads = new Map<NodeProto, string[]>();

  constructor(readonly graph: GraphProto) {
    graph.node.forEach((node, order) => {
      node.output.forEach((t, slot) => {
        if (t) this.producer.set(t, { node, order, slot });
      });
      const addUse = (t: string, slot: number) => {
        if (!t) return;
        const list = this.consumers.get(t) ?? [];
        list.push({ node, order, slot });
        this.consumers.set(t, list);
      };
      node.input.forEach(addUse);
      const bodies = subgraphsOf(node);
      if (bodies.length === 0) return;
      const explicit = new Set(node.input);
      const reads = [...new Set(bodies.flatMap(outerScopeReads))].filter((t) => !explicit.has(t));
      this.outerReads.set(node, reads);
      for (const t of reads) addUse(t, -1);
    });
    for (const init of graph.initializer) this.initializers.set(init.name, { dims: init.dims.map(toNumber), dataType: init.data_type });
    for (const i of graph.input) this.graphInputs.add(i.name);
    for (const vi of [...graph.input, ...graph.value_info, ...graph.output]) {
      const t = valueInfoType(vi);
      if (t) this.types.set(vi.name, t);
    }
    for (const [name, init] of this.initializers) this.types.set(name, { elemType: init.dataType, shape: init.dims });
  }

  /** What a node computes from: its explicit inputs and, for control flow, its bodies' outer-scope reads. */
  inputsOf(node: NodeProto): string[] {
    const reads = this.outerReads.get(node);
    const explicit = node.input.filter((t) => t);
    return reads ? [...explicit, ...reads] : explicit;
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
   * produced `source` (nothing earlier can depend on it), so each check stays local. With
   * `valuesOnly`, reading only `source`'s shape (Shape, Size) does not count: a position embedding
   * sized from the patch embeddings' shape is not computed from their values.
   */
  dependsOn(tensor: string, source: string, valuesOnly = false): boolean {
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
      if (valuesOnly && SHAPE_ONLY_OPS.has(p.node.op_type)) continue;
      for (const input of this.inputsOf(p.node)) stack.push(input);
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
      for (const input of this.inputsOf(p.node)) if (visit(input)) reaches = true;
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
