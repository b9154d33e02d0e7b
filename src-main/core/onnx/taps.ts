/**
 * Tap discovery: finds the residual stream of a transformer graph by structure and names its
 * tensors the way TransformerLens does (`blocks.{L}.hook_resid_post`, ...).
 *
 * Node names are unreliable across exporters (the onnxruntime-genai builder calls Gemma-3's final
 * norm `layers.34`), so the layers are counted from the residual chain itself: a residual join is an
 * Add (or a fused Skip*LayerNormalization, whose 4th output is the sum) of a stream tensor r and a
 * branch computed from r. Following joins from the head of the stream gives every sublayer in order;
 * what a branch contains (attention, recurrence, or an MLP activation) groups sublayers into blocks.
 *
 * A branch counts as what it computes, control flow included: an If / Loop / Scan node on it depends on
 * whatever its bodies read from the outer scope (see graph-index.ts), and its bodies' ops are part of the
 * branch. A token mixer that carries state between calls (reads a cache input, writes a cache output)
 * is a mixer even when its recurrence is written out in elementwise ops: a gated delta-net's decode
 * branch is Mul / ReduceSum / Sigmoid, which would otherwise read as an MLP.
 *
 * Hooks per block: hook_resid_pre / mid / post on the stream; hook_attn_out is the token mixer's output
 * (softmax attention or linear attention / recurrence alike: the sublayer before the MLP), hook_mlp_in
 * the normalised MLP input, hook_mlp_out the MLP's output.
 */
import { SKIP_NORMS } from './fused-norm.js';
import { GraphIndex, opsWithin, type Dim } from './graph-index.js';
import { toNumber, type GraphProto, type NodeProto } from './model-io.js';
import { tapName } from '../../contract/tap-names.js';

export type HookName = 'hook_resid_pre' | 'hook_resid_mid' | 'hook_resid_post' | 'hook_attn_out' | 'hook_mlp_in' | 'hook_mlp_out';

/** Where a tap's value is produced: a node output, possibly one the graph leaves unnamed. */
export interface TensorRef {
  /** Name of the tensor, or null when the producing node leaves that output unnamed (fused ops). */
  tensor: string | null;
  node: string;
  nodeIndex: number;
  output: number;
}

export interface Tap {
  name: string;
  layer: number;
  hook: HookName;
  ref: TensorRef;
  width: number | null;
  shape: Dim[] | null;
}

export type SublayerKind = 'attention' | 'recurrent' | 'mlp' | 'mixed';

interface Join {
  node: NodeProto;
  nodeIndex: number;
  /** The stream tensor entering the join. */
  streamIn: string;
  /** The branch tensor added to it. */
  branchOut: string;
  /** The sum: the stream tensor after the join. */
  out: TensorRef;
  kind: SublayerKind;
  /** The normalised stream feeding this join's branch, when identifiable. */
  branchIn: TensorRef | null;
}

export interface TowerTaps {
  layers: number;
  width: number | null;
  taps: Tap[];
  streamHead: string;
  sublayerKinds: SublayerKind[][];
}

const ATTENTION_OPS = new Set([
  'GroupQueryAttention',
  'MultiHeadAttention',
  'Attention',
  'PackedAttention',
  'PackedMultiHeadAttention',
  'SparseAttention',
  'PagedAttention',
  'Softmax',
  'RotaryEmbedding',
]);
const RECURRENT_OPS = new Set(['Scan', 'Loop', 'LSTM', 'GRU', 'RNN', 'CumSum', 'CausalConvWithState', 'LinearAttention', 'Conv']);
const ACTIVATION_OPS = new Set([
  'Gelu',
  'FastGelu',
  'BiasGelu',
  'QuickGelu',
  'Relu',
  'Sigmoid',
  'Tanh',
  'Erf',
  'Silu',
  'Swish',
  'Softplus',
  'Mish',
  'HardSigmoid',
  'BiasSplitGelu',
]);
const MLP_ACTIVATION_OPS = new Set(['Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu', 'Relu', 'Silu', 'Swish', 'BiasSplitGelu']);
const NORM_OPS = new Set([
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'SkipLayerNormalization',
  'SkipSimplifiedLayerNormalization',
  'RMSNormalization',
]);
const SKIP_NORM_OPS = new Set(Object.keys(SKIP_NORMS));

function classify(index: GraphIndex, join: Omit<Join, 'kind' | 'branchIn'>): SublayerKind {
  const branch = index.branchNodes(join.branchOut, join.streamIn);
  const ops = branch.flatMap(opsWithin);
  const has = (set: Set<string>) => ops.some((n) => set.has(n.op_type));
  const attention = has(ATTENTION_OPS);
  // Gates (Sigmoid, Tanh) appear inside attention and recurrent mixers; only MLP-style activations
  // beside an attention op mean a parallel attention + MLP block (GPT-J, Phi).
  const mlpActivation = has(MLP_ACTIVATION_OPS);
  if (attention) return mlpActivation ? 'mixed' : 'attention';
  if (has(RECURRENT_OPS) || carriesState(index, branch, join)) return 'recurrent';
  return has(ACTIVATION_OPS) ? 'mlp' : 'mixed';
}

/**
 * The branch reads state from outside the stream (a tensor computed from a graph input other than the
 * stream: a cache) and a graph output is computed from the branch but not from the stream after this
 * join (the updated cache): state carried between calls, the mark of a token mixer.
 */
function carriesState(index: GraphIndex, branch: NodeProto[], join: Omit<Join, 'kind' | 'branchIn'>): boolean {
  const produced = new Set(branch.flatMap((n) => n.output));
  const sideInputs = branch
    .flatMap((n) => index.inputsOf(n))
    .filter((t) => !produced.has(t) && !index.isConstant(t) && !index.dependsOn(t, join.streamIn));
  const root = aliasRoot(index, join.streamIn);
  if (!sideInputs.some((t) => upstream(index, t).some((u) => index.graphInputs.has(u) && u !== root))) return false;
  const onBranch = new Set(branch);
  return index.graph.output.some((o) => {
    const nodes = upstreamNodes(index, o.name, index.orderOf(join.streamIn));
    return !nodes.has(join.node) && [...nodes].some((n) => onBranch.has(n));
  });
}

/** Tensors `tensor` is computed from (itself included), through every producer. */
function upstream(index: GraphIndex, tensor: string): string[] {
  const seen = new Set<string>();
  const stack = [tensor];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const p = index.producer.get(t);
    if (p) stack.push(...index.inputsOf(p.node));
  }
  return [...seen];
}

/** Nodes `tensor` is computed by, not looking at or before graph position `floor`. */
function upstreamNodes(index: GraphIndex, tensor: string, floor: number): Set<NodeProto> {
  const nodes = new Set<NodeProto>();
  const stack = [tensor];
  while (stack.length > 0) {
    const p = index.producer.get(stack.pop()!);
    if (!p || p.order <= floor || nodes.has(p.node)) continue;
    nodes.add(p.node);
    stack.push(...index.inputsOf(p.node));
  }
  return nodes;
}

function ref(index: GraphIndex, node: NodeProto, output: number): TensorRef {
  const name = node.output[output];
  return { tensor: name ? name : null, node: node.name, nodeIndex: index.producer.get(node.output[0]!)?.order ?? -1, output };
}

/** If `node` joins stream tensor `r` with a branch computed from `r`, describe the join. */
function asJoin(index: GraphIndex, node: NodeProto, nodeIndex: number, r: string): Omit<Join, 'kind' | 'branchIn'> | null {
  const isAdd = node.op_type === 'Add' && node.domain === '';
  const isSkip = SKIP_NORM_OPS.has(node.op_type);
  if (!isAdd && !isSkip) return null;
  const [a, b] = node.input;
  if (!a || !b) return null;
  const other = a === r ? b : b === r ? a : null;
  // A branch computed from r's values: one that reads only r's shape (a position embedding sized from
  // the patch embeddings) is an input to the stream, not a sublayer.
  if (other === null || index.isConstant(other) || !index.dependsOn(other, r, true)) return null;
  if (isAdd)
    return {
      node,
      nodeIndex,
      streamIn: r,
      branchOut: other,
      out: { tensor: node.output[0] ?? null, node: node.name, nodeIndex, output: 0 },
    };
  const sum = node.output[3];
  return { node, nodeIndex, streamIn: r, branchOut: other, out: { tensor: sum ? sum : null, node: node.name, nodeIndex, output: 3 } };
}

/** Ops that carry the stream's value unchanged (a norm's upcast to float32, say): look through them. */
const PASSTHROUGH_OPS = new Set(['Cast', 'Identity']);

function nextJoin(index: GraphIndex, r: string, depth = 0): Omit<Join, 'kind' | 'branchIn'> | null {
  const uses = index.consumers.get(r) ?? [];
  for (const use of uses) {
    const join = asJoin(index, use.node, use.order, r);
    if (join) return join;
  }
  if (depth >= 3) return null;
  for (const use of uses) {
    if (!PASSTHROUGH_OPS.has(use.node.op_type) || use.node.output.length !== 1 || !use.node.output[0]) continue;
    const join = nextJoin(index, use.node.output[0], depth + 1);
    if (join) return join;
  }
  return null;
}

/** The earliest tensor carrying the same value as `tensor` through pass-through ops (e.g. inputs_embeds). */
function aliasRoot(index: GraphIndex, tensor: string): string {
  let t = tensor;
  for (let i = 0; i < 3; i++) {
    const p = index.producer.get(t);
    const input = p?.node.input[0];
    if (!p || !PASSTHROUGH_OPS.has(p.node.op_type) || !input || index.isConstant(input)) break;
    t = input;
  }
  return t;
}

/**
 * For a fused Skip*Norm join the residual sum may be unnamed; the chain then continues from a
 * name we give it later during surgery. For discovery, continue from the node itself.
 */
function chainFrom(index: GraphIndex, head: string): Array<Omit<Join, 'kind' | 'branchIn'>> {
  const joins: Array<Omit<Join, 'kind' | 'branchIn'>> = [];
  let r = head;
  for (;;) {
    const join = nextJoin(index, r);
    if (!join) break;
    joins.push(join);
    // A fused norm may leave its residual sum unnamed when nothing reads it (the last layer):
    // the tap still exists, and surgery names that output when it is used.
    if (!join.out.tensor) break;
    r = join.out.tensor;
  }
  return joins;
}

/** Stream-head candidates: tensors joined with a branch computed from them, that no join produced. */
function headCandidates(index: GraphIndex): string[] {
  const joinOutputs = new Set<string>();
  const candidates: string[] = [];
  index.graph.node.forEach((node, order) => {
    for (const r of node.input.slice(0, 2)) {
      if (!r) continue;
      const join = asJoin(index, node, order, r);
      if (join) {
        if (join.out.tensor) joinOutputs.add(join.out.tensor);
        candidates.push(r);
      }
    }
  });
  return [...new Set(candidates)].filter((c) => !joinOutputs.has(c));
}

/** The normalised input of a join's branch: a norm over the stream, or the fused norm output of the previous join. */
function findBranchIn(
  index: GraphIndex,
  join: Omit<Join, 'kind' | 'branchIn'>,
  previous: Omit<Join, 'kind' | 'branchIn'> | undefined,
): TensorRef | null {
  const branch = index.branchNodes(join.branchOut, join.streamIn);
  const norm = branch.find((n) => NORM_OPS.has(n.op_type) && aliasRoot(index, n.input[0] ?? '') === aliasRoot(index, join.streamIn));
  if (norm) return ref(index, norm, 0);
  if (previous && SKIP_NORM_OPS.has(previous.node.op_type) && previous.node.output[0]) return ref(index, previous.node, 0);
  // A norm decomposed into elementwise ops (TorchScript exports of RMSNorm): the branch's input is
  // what its first projection reads.
  const projection = branch.find((n) => PROJECTION_OPS.has(n.op_type));
  const input = projection?.input[0];
  if (input && index.dependsOn(input, join.streamIn)) {
    const p = index.producer.get(input);
    if (p) return ref(index, p.node, p.slot);
  }
  return null;
}

const PROJECTION_OPS = new Set(['MatMul', 'Gemm', 'MatMulNBits', 'MatMulInteger', 'DynamicQuantizeLinear', 'QLinearMatMul']);

export function discoverTowerTaps(graph: GraphProto, prefix: string): TowerTaps | null {
  const index = new GraphIndex(graph);
  let best: Array<Omit<Join, 'kind' | 'branchIn'>> = [];
  let bestHead = '';
  for (const head of headCandidates(index)) {
    const chain = chainFrom(index, head);
    if (chain.length > best.length) {
      best = chain;
      bestHead = head;
    }
  }
  if (best.length === 0) return null;
  bestHead = aliasRoot(index, bestHead);

  const joins: Join[] = best.map((j, i) => ({
    ...j,
    kind: classify(index, j),
    branchIn: findBranchIn(index, j, best[i - 1]),
  }));

  // Group sublayers into blocks: a mixer (attention/recurrent) followed by an MLP is one block;
  // a lone sublayer (parallel block, or a model with no MLPs) is a block by itself.
  const blocks: Join[][] = [];
  for (const join of joins) {
    const last = blocks[blocks.length - 1];
    if (join.kind === 'mlp' && last && last.length === 1 && (last[0]!.kind === 'attention' || last[0]!.kind === 'recurrent'))
      last.push(join);
    else blocks.push([join]);
  }

  const widthOf = (tensor: string | null): { width: number | null; shape: Dim[] | null } => {
    const shape = tensor ? (index.types.get(tensor)?.shape ?? null) : null;
    const last = shape?.[shape.length - 1];
    return { width: typeof last === 'number' && last > 0 ? last : null, shape };
  };
  const headRef: TensorRef = (() => {
    const p = index.producer.get(bestHead);
    return p ? ref(index, p.node, p.slot) : { tensor: bestHead, node: '', nodeIndex: -1, output: 0 };
  })();

  const taps: Tap[] = [];
  const add = (layer: number, hook: HookName, r: TensorRef | null) => {
    if (!r) return;
    taps.push({ name: `${prefix}${tapName(layer, hook)}`, layer, hook, ref: r, ...widthOf(r.tensor) });
  };
  let streamRef = headRef;
  blocks.forEach((block, layer) => {
    add(layer, 'hook_resid_pre', streamRef);
    const mixer = block.length === 2 ? block[0]! : block[0]!.kind !== 'mlp' ? block[0]! : null;
    const mlp = block.length === 2 ? block[1]! : block[0]!.kind === 'mlp' ? block[0]! : null;
    if (mixer && block.length === 2) add(layer, 'hook_resid_mid', mixer.out);
    if (mixer && (mixer.kind === 'attention' || mixer.kind === 'recurrent')) add(layer, 'hook_attn_out', branchRef(index, mixer));
    if (mlp) {
      add(layer, 'hook_mlp_in', mlp.branchIn);
      add(layer, 'hook_mlp_out', branchRef(index, mlp));
    }
    const post = block[block.length - 1]!.out;
    add(layer, 'hook_resid_post', post);
    streamRef = post;
  });

  const width =
    taps.find((t) => t.hook === 'hook_resid_post' && t.width !== null)?.width ??
    normWidth(index, bestHead) ??
    widthOf(bestHead).width ??
    best.reduce<number | null>((w, j) => w ?? projectionWidth(index, j), null);
  for (const t of taps) if (t.width === null && (t.hook.startsWith('hook_resid') || t.hook.endsWith('_out'))) t.width = width;
  return { layers: blocks.length, width, taps, streamHead: bestHead, sublayerKinds: blocks.map((b) => b.map((j) => j.kind)) };
}

function branchRef(index: GraphIndex, join: Join): TensorRef {
  const p = index.producer.get(join.branchOut);
  return p ? ref(index, p.node, p.slot) : { tensor: join.branchOut, node: '', nodeIndex: -1, output: 0 };
}

/** Width from the scale of a norm over the stream head, for graphs that declare no intermediate shapes. */
function normWidth(index: GraphIndex, head: string): number | null {
  for (const use of index.consumers.get(head) ?? []) {
    if (!NORM_OPS.has(use.node.op_type)) continue;
    for (const input of use.node.input.slice(1)) {
      const dims = index.initializers.get(input)?.dims;
      if (dims && dims.length === 1 && dims[0]! > 0) return dims[0]!;
    }
  }
  return null;
}

/**
 * Width from the first projection weight of a branch that reads the stream: [d_model, n] for MatMul,
 * [n, d_model] for Gemm with transB (PyTorch's nn.Linear exported as Gemm, Qwen's vision tower).
 */
function projectionWidth(index: GraphIndex, join: Omit<Join, 'kind' | 'branchIn'>): number | null {
  for (const n of index.branchNodes(join.branchOut, join.streamIn)) {
    if (n.op_type !== 'MatMul' && n.op_type !== 'Gemm') continue;
    const dims = index.initializers.get(n.input[1] ?? '')?.dims;
    if (!dims || dims.length !== 2) continue;
    const transB = n.op_type === 'Gemm' && toNumber(n.attribute.find((a) => a.name === 'transB')?.i) === 1;
    return transB ? dims[1]! : dims[0]!;
  }
  return null;
}
