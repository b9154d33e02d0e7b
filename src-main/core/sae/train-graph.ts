/**
 * SAE and transcoder training as ONNX graphs built here, so onnxruntime runs training on whatever
 * device its sessions use (CPU here, CUDA on a workstation) with no Python. ONNX has no autodiff,
 * so the backward pass is written out by hand and checked against finite differences in tests.
 *
 *   forward   xc = x - b_dec (SAE) or x (transcoder); pre = xc W_enc + b_enc
 *             z = ReLU(pre)                          relu (+ decoder-norm-weighted L1)
 *               | scatter(ReLU(TopK_row(pre, k)))     topk
 *               | scatter(TopK_batch(ReLU(pre), kB))  batchtopk (threshold tracked for inference)
 *             y_hat = z W_dec + b_dec; mse = sum((y_hat - y)^2) / B   (y = x for an SAE)
 *   AuxK      e = y - y_hat (held constant); z_aux = scatter(TopK(pre over dead features, k_aux));
 *             aux = c_aux * sum((z_aux W_dec - e)^2) / B   — gives dead features a gradient
 *   L1        l1 = c_l1 * sum_b sum_f z_bf ||W_dec[f]|| / B
 *   update    Adam with bias correction; decoder rows renormalised to unit norm (TopK, BatchTopK).
 *
 * Training runs a chunk of steps per session call: an ONNX Loop whose body is one step, with the
 * parameters, Adam moments and feature-firing bookkeeping as loop-carried state. State crosses
 * between host and device once per chunk, not once per step, so a GPU is not stalled by copies.
 */
import { floatTensor, graph, int64Tensor, model, node, valueInfo, type AttrValue } from '../onnx/builder.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/model-io.js';
import { DataType } from '../onnx/schema.js';
import { validateModel } from '../onnx/validate.js';

export type TrainArchitecture = 'relu' | 'topk' | 'batchtopk';

export interface SaeTrainSpec {
  architecture: TrainArchitecture;
  dIn: number;
  /** Width of the reconstruction target: dIn for an SAE, the output tap's width for a transcoder. */
  dOut: number;
  dSae: number;
  /** Active features per token (topk), or on average per token (batchtopk). Unused for relu. */
  k: number;
  /** Transcoder: reconstruct a second tap y from x; the input is not centred by b_dec. */
  transcoder: boolean;
  /** Weight of the decoder-norm-weighted L1 penalty (relu). */
  l1Coefficient: number;
  /** Dead features revived per token by the AuxK loss (topk, batchtopk); 0 turns it off. */
  auxK: number;
  auxCoefficient: number;
  /** Keep decoder rows at unit norm after each step (TopK / BatchTopK; not with a norm-weighted L1). */
  normalizeDecoder: boolean;
}

export const SAE_PARAMS = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;
export type SaeParam = (typeof SAE_PARAMS)[number];

/** Defaults for a spec, as SAELens / sparsify users would expect them. */
export function trainSpec(s: Partial<SaeTrainSpec> & Pick<SaeTrainSpec, 'dIn' | 'dSae'>): SaeTrainSpec {
  const architecture = s.architecture ?? 'topk';
  const k = Math.min(s.k ?? 32, s.dSae);
  return {
    architecture,
    dIn: s.dIn,
    dOut: s.dOut ?? s.dIn,
    dSae: s.dSae,
    k,
    transcoder: s.transcoder ?? false,
    l1Coefficient: s.l1Coefficient ?? (architecture === 'relu' ? 5 : 0),
    auxK: architecture === 'relu' ? 0 : Math.min(s.auxK ?? Math.max(1, Math.floor(s.dIn / 2)), s.dSae),
    auxCoefficient: s.auxCoefficient ?? 1 / 32,
    normalizeDecoder: s.normalizeDecoder ?? architecture !== 'relu',
  };
}

export function paramDims(s: Pick<SaeTrainSpec, 'dIn' | 'dOut' | 'dSae'>): Record<SaeParam, number[]> {
  return { W_enc: [s.dIn, s.dSae], b_enc: [s.dSae], W_dec: [s.dSae, s.dOut], b_dec: [s.dOut] };
}

const F = DataType.FLOAT;
const BIG = 1e9;

/** Accumulates nodes with generated names, so each step reads as a list of equations. */
class Nodes {
  readonly list: NodeProto[] = [];
  constructor(private readonly prefix: string) {}
  add(op: string, inputs: string[], output: string, attrs: Record<string, AttrValue> = {}): string {
    this.list.push(node(op, inputs, [output], `${this.prefix}/${output}`, attrs));
    return output;
  }
  multi(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): void {
    this.list.push(node(op, inputs, outputs, `${this.prefix}/${outputs[0]}`, attrs));
  }
}

function constants(s: SaeTrainSpec): TensorProto[] {
  return [
    floatTensor('c_two', [], [2]),
    floatTensor('c_zero', [], [0]),
    floatTensor('c_one', [], [1]),
    floatTensor('c_big', [], [BIG]),
    floatTensor('c_tiny', [], [1e-12]),
    floatTensor('c_l1', [], [s.l1Coefficient]),
    floatTensor('c_k_aux_f', [], [Math.max(1, s.auxK)]),
    floatTensor('c_aux', [], [s.auxCoefficient]),
    floatTensor('c_thr_keep', [], [0.99]),
    floatTensor('c_thr_new', [], [0.01]),
    int64Tensor('c_k', [1], [s.k]),
    int64Tensor('c_k_aux', [1], [Math.max(1, s.auxK)]),
    int64Tensor('c_zero_i', [], [0]),
    int64Tensor('c_axis0', [1], [0]),
    int64Tensor('c_axis1', [1], [1]),
    int64Tensor('c_axis2', [1], [2]),
    int64Tensor('c_flat', [1], [-1]),
  ];
}

/**
 * Decoding from each row's few active features: y[b] = sum_j vals[b,j] W_dec[idx[b,j]], k x d work
 * per row instead of d_sae x d. Returns the gathered decoder rows [B, k, d] for sparseGradient.
 */
function sparseDecode(n: Nodes, vals: string, idx: string, out: string): string {
  n.add('Gather', ['W_dec', idx], `${out}_rows`, { axis: 0 });
  n.add('Unsqueeze', [vals, 'c_axis1'], `${out}_w`);
  n.add('MatMul', [`${out}_w`, `${out}_rows`], `${out}_3d`);
  n.add('Squeeze', [`${out}_3d`, 'c_axis1'], out);
  return `${out}_rows`;
}

/** Gradient at the pre-activations, non-zero only at active entries: g[b] . W_dec[idx[b,j]], scattered to [B, d_sae]. */
function sparseGradient(n: Nodes, rows: string, g: string, vals: string, idx: string, out: string): string {
  n.add('Unsqueeze', [g, 'c_axis2'], `${out}_g3`);
  n.add('MatMul', [rows, `${out}_g3`], `${out}_dot3`);
  n.add('Squeeze', [`${out}_dot3`, 'c_axis2'], `${out}_dot`);
  n.add('Greater', [vals, 'c_zero'], `${out}_on`);
  n.add('Cast', [`${out}_on`], `${out}_on_f`, { to: F });
  n.add('Mul', [`${out}_dot`, `${out}_on_f`], `${out}_sel`);
  return n.add('ScatterElements', ['zeros', idx, `${out}_sel`], out, { axis: -1 });
}

/**
 * Forward pass, losses, metrics and hand-written gradients of one batch. Reads x, y, the four
 * parameters and `dead` (1 for features AuxK should revive); with `auxTarget` the AuxK target e is
 * read from that tensor instead of computed (so finite differences can hold it constant).
 * Produces loss, mse, l1, aux, fvu, l0, row_sse, fired, fire_sum, grad_<param>, and for batchtopk
 * `batch_threshold` (the smallest activation kept in the batch).
 */
function forwardBackward(s: SaeTrainSpec, n: Nodes, auxTarget?: string): void {
  const add = n.add.bind(n);
  const xc = s.transcoder ? add('Identity', ['x'], 'xc') : add('Sub', ['x', 'b_dec'], 'xc');
  add('MatMul', [xc, 'W_enc'], 'proj');
  add('Add', ['proj', 'b_enc'], 'pre');
  add('Shape', ['x'], 'x_shape');
  add('Gather', ['x_shape', 'c_zero_i'], 'batch_i', { axis: 0 });
  add('Cast', ['batch_i'], 'batch_f', { to: F });
  add('Sub', ['pre', 'pre'], 'zeros');
  if (s.architecture === 'relu') {
    add('Relu', ['pre'], 'z');
  } else if (s.architecture === 'topk') {
    n.multi('TopK', ['pre', 'c_k'], ['top_vals', 'top_idx'], { axis: -1, largest: 1, sorted: 0 });
    add('Relu', ['top_vals'], 'top_acts');
    add('ScatterElements', ['zeros', 'top_idx', 'top_acts'], 'z', { axis: -1 });
  } else {
    // BatchTopK: the k x B largest activations across the whole batch.
    add('Relu', ['pre'], 'pre_relu');
    add('Reshape', ['pre_relu', 'c_flat'], 'pre_flat');
    add('Reshape', ['zeros', 'c_flat'], 'zeros_flat');
    add('Mul', ['c_k', 'batch_i'], 'k_batch');
    n.multi('TopK', ['pre_flat', 'k_batch'], ['top_vals', 'top_idx'], { axis: -1, largest: 1, sorted: 0 });
    add('ScatterElements', ['zeros_flat', 'top_idx', 'top_vals'], 'z_flat', { axis: 0 });
    add('Shape', ['pre'], 'pre_shape');
    add('Reshape', ['z_flat', 'pre_shape'], 'z');
    add('ReduceMin', ['top_vals'], 'batch_threshold', { keepdims: 0 });
  }
  // TopK decodes from each row's k features; ReLU and BatchTopK (any number per row) decode densely.
  const topRows = s.architecture === 'topk' ? sparseDecode(n, 'top_acts', 'top_idx', 'dec') : add('MatMul', ['z', 'W_dec'], 'dec');
  add('Add', ['dec', 'b_dec'], 'y_hat');
  add('Sub', ['y_hat', 'y'], 'err');
  add('Mul', ['err', 'err'], 'err2');
  add('ReduceSum', ['err2'], 'sse', { keepdims: 0 });
  add('ReduceSum', ['err2', 'c_axis1'], 'row_sse', { keepdims: 0 });
  add('Div', ['sse', 'batch_f'], 'mse');
  // Metrics: fraction of variance unexplained, L0, which features fired and how often.
  add('ReduceMean', ['y', 'c_axis0'], 'y_mean', { keepdims: 1 });
  add('Sub', ['y', 'y_mean'], 'y_centered');
  add('Mul', ['y_centered', 'y_centered'], 'var2');
  add('ReduceSum', ['var2'], 'sst', { keepdims: 0 });
  add('Div', ['sse', 'sst'], 'fvu');
  add('Greater', ['z', 'c_zero'], 'fires');
  add('Cast', ['fires'], 'fires_f', { to: F });
  add('ReduceSum', ['fires_f'], 'fire_count', { keepdims: 0 });
  add('Div', ['fire_count', 'batch_f'], 'l0');
  add('ReduceMax', ['fires_f', 'c_axis0'], 'fired', { keepdims: 0 });
  add('ReduceSum', ['fires_f', 'c_axis0'], 'fire_sum', { keepdims: 0 });

  // Backward of the reconstruction loss.
  add('Mul', ['err', 'c_two'], 'err_2');
  add('Div', ['err_2', 'batch_f'], 'g');
  // d W_dec = z^T g, a dense product even for TopK. A scatter-add of each active entry's g row would do
  // k x d work per row, but onnxruntime's CPU ScatterND(reduction='add') adds duplicate indices from
  // several threads without synchronisation: updates were lost (errors of order 1, measured with 2
  // threads) and runs differed. Dense costs what the encoder's forward product already costs.
  add('MatMul', [add('Transpose', ['z'], 'z_t', { perm: [1, 0] }), 'g'], 'gW_dec_mse');
  let gz = s.architecture === 'topk' ? '' : add('MatMul', ['g', add('Transpose', ['W_dec'], 'W_dec_t', { perm: [1, 0] })], 'gz_mse');
  let gWdec = 'gW_dec_mse';
  let loss = 'mse';

  if (s.architecture === 'relu' && s.l1Coefficient > 0) {
    add('ReduceL2', ['W_dec', 'c_axis1'], 'dec_norm', { keepdims: 0 });
    add('Mul', ['z', 'dec_norm'], 'z_weighted');
    add('ReduceSum', ['z_weighted'], 'l1_sum', { keepdims: 0 });
    add('Mul', ['l1_sum', 'c_l1'], 'l1_scaled');
    add('Div', ['l1_scaled', 'batch_f'], 'l1');
    loss = add('Add', [loss, 'l1'], 'loss_with_l1');
    // d l1 / d z = c n_f / B ; d l1 / d W_dec[f] = c (sum_b z_bf) W_dec[f] / (n_f B)
    add('Div', ['c_l1', 'batch_f'], 'l1_per_row');
    add('Mul', ['dec_norm', 'l1_per_row'], 'gz_l1');
    gz = add('Add', [gz, 'gz_l1'], 'gz_with_l1');
    add('ReduceSum', ['z', 'c_axis0'], 'z_sum', { keepdims: 0 });
    add('Max', ['dec_norm', 'c_tiny'], 'dec_norm_safe');
    add('Mul', ['z_sum', 'l1_per_row'], 'l1_row_coef');
    add('Div', ['l1_row_coef', 'dec_norm_safe'], 'l1_row_scale');
    add('Unsqueeze', ['l1_row_scale', 'c_axis1'], 'l1_row_scale_col');
    add('Mul', ['W_dec', 'l1_row_scale_col'], 'gW_dec_l1');
    gWdec = add('Add', [gWdec, 'gW_dec_l1'], 'gW_dec_with_l1');
  } else {
    add('Mul', ['mse', 'c_zero'], 'l1');
  }
  let gpre =
    s.architecture === 'topk'
      ? sparseGradient(n, topRows, 'g', 'top_acts', 'top_idx', 'gpre_main')
      : add('Mul', [gz, 'fires_f'], 'gpre_main');

  if (s.architecture !== 'relu' && s.auxK > 0) {
    const e = auxTarget ?? add('Neg', ['err'], 'aux_e');
    add('Mul', ['pre', 'dead'], 'pre_dead');
    add('Sub', ['dead', 'c_one'], 'alive_neg');
    add('Mul', ['alive_neg', 'c_big'], 'alive_penalty');
    add('Add', ['pre_dead', 'alive_penalty'], 'aux_pre');
    n.multi('TopK', ['aux_pre', 'c_k_aux'], ['aux_vals', 'aux_idx'], { axis: -1, largest: 1, sorted: 0 });
    add('Relu', ['aux_vals'], 'aux_acts');
    const auxRows = sparseDecode(n, 'aux_acts', 'aux_idx', 'e_hat');
    add('Sub', ['e_hat', e], 'aux_err');
    add('Mul', ['aux_err', 'aux_err'], 'aux_err2');
    add('ReduceSum', ['aux_err2'], 'aux_sse', { keepdims: 0 });
    // Scaled by min(dead / k_aux, 1) as sparsify does: no term while nothing is dead.
    add('ReduceSum', ['dead'], 'dead_count', { keepdims: 0 });
    add('Div', ['dead_count', 'c_k_aux_f'], 'dead_share');
    add('Min', ['dead_share', 'c_one'], 'aux_scale');
    add('Mul', ['c_aux', 'aux_scale'], 'aux_coef');
    add('Mul', ['aux_sse', 'aux_coef'], 'aux_scaled');
    add('Div', ['aux_scaled', 'batch_f'], 'aux');
    loss = add('Add', [loss, 'aux'], 'loss_with_aux');
    add('Mul', ['aux_coef', 'c_two'], 'aux_coef2');
    add('Mul', ['aux_err', 'aux_coef2'], 'ga_scaled');
    add('Div', ['ga_scaled', 'batch_f'], 'ga');
    // The AuxK code as a dense [B, d_sae] matrix (indices are distinct within a row, so this scatter has no duplicates).
    add('ScatterElements', ['zeros', 'aux_idx', 'aux_acts'], 'z_aux', { axis: -1 });
    gWdec = add(
      'Add',
      [gWdec, add('MatMul', [add('Transpose', ['z_aux'], 'z_aux_t', { perm: [1, 0] }), 'ga'], 'gW_dec_aux')],
      'gW_dec_with_aux',
    );
    gpre = add('Add', [gpre, sparseGradient(n, auxRows, 'ga', 'aux_acts', 'aux_idx', 'gpre_aux')], 'gpre_with_aux');
  } else {
    add('Mul', ['mse', 'c_zero'], 'aux');
  }
  add('Identity', [loss], 'loss');
  add('Identity', [gWdec], 'grad_W_dec');
  add('MatMul', [add('Transpose', [xc], 'xc_t', { perm: [1, 0] }), gpre], 'grad_W_enc');
  add('ReduceSum', [gpre, 'c_axis0'], 'grad_b_enc', { keepdims: 0 });
  if (s.transcoder) {
    add('ReduceSum', ['g', 'c_axis0'], 'grad_b_dec', { keepdims: 0 });
  } else {
    // b_dec also centres the input: its gradient has an output term and an input term. The input
    // term sum_b (gpre W_enc^T) equals (sum_b gpre) W_enc^T = W_enc grad_b_enc: a matrix-vector product.
    add('ReduceSum', ['g', 'c_axis0'], 'gb_dec_out', { keepdims: 0 });
    add('MatMul', ['W_enc', 'grad_b_enc'], 'gb_dec_in');
    add('Sub', ['gb_dec_out', 'gb_dec_in'], 'grad_b_dec');
  }
}

const scalar = (name: string) => valueInfo(name, F, []);

/** Only the constants some node reads (onnxruntime warns about the rest). */
function used(inits: TensorProto[], nodes: NodeProto[]): TensorProto[] {
  const read = new Set(nodes.flatMap((n) => n.input));
  return inits.filter((t) => read.has(t.name));
}

/** Forward + hand-written gradients of one batch (for finite-difference checks). */
export function saeGradientGraph(s: SaeTrainSpec, opts: { auxTargetInput?: boolean } = {}): ModelProto {
  const n = new Nodes('grad');
  if (!s.transcoder) n.add('Identity', ['x'], 'y');
  forwardBackward(s, n, opts.auxTargetInput ? 'aux_target' : undefined);
  const dims = paramDims(s);
  const inputs = [
    valueInfo('x', F, ['batch', s.dIn]),
    ...(s.transcoder ? [valueInfo('y', F, ['batch', s.dOut])] : []),
    ...SAE_PARAMS.map((p) => valueInfo(p, F, dims[p])),
    valueInfo('dead', F, [s.dSae]),
    ...(opts.auxTargetInput ? [valueInfo('aux_target', F, ['batch', s.dOut])] : []),
  ];
  const outputs = [
    ...['loss', 'mse', 'l1', 'aux', 'fvu', 'l0'].map(scalar),
    ...(s.architecture !== 'relu' && s.auxK > 0 && !opts.auxTargetInput ? [valueInfo('aux_e', F, ['batch', s.dOut])] : []),
    ...SAE_PARAMS.map((p) => valueInfo(`grad_${p}`, F, dims[p])),
  ];
  return model(graph('sae_grad', n.list, inputs, outputs, used(constants(s), n.list)), 18);
}

/** Names of the loop-carried state, in Loop order. */
export function stateNames(s: SaeTrainSpec): string[] {
  return [
    ...SAE_PARAMS,
    ...SAE_PARAMS.flatMap((p) => [`m_${p}`, `v_${p}`]),
    'last_fired',
    'fire_counts',
    ...(s.architecture === 'batchtopk' ? ['threshold'] : []),
  ];
}

export function stateDims(s: SaeTrainSpec): Record<string, number[]> {
  const dims: Record<string, number[]> = { ...paramDims(s), last_fired: [s.dSae], fire_counts: [s.dSae], threshold: [] };
  for (const p of SAE_PARAMS) dims[`m_${p}`] = dims[`v_${p}`] = dims[p]!;
  return dims;
}

/** Adam's hyperparameters (PyTorch's defaults, as SAELens and sparsify train). */
export interface AdamParams {
  beta1: number;
  beta2: number;
  eps: number;
}
export const ADAM: AdamParams = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** Per-step values the chunk graph returns, each stacked over the chunk's steps. */
export const STEP_OUTPUTS = ['loss', 'mse', 'l1', 'aux', 'fvu', 'l0'] as const;

/** One training step as a Loop body: batch `iter` of xs (and ys), Adam update, firing bookkeeping. */
function stepBody(s: SaeTrainSpec, adam: { beta1: number; beta2: number; eps: number }): GraphProto {
  const n = new Nodes('step');
  n.add('Gather', ['xs', 'iter'], 'x', { axis: 0 });
  n.add(s.transcoder ? 'Gather' : 'Identity', s.transcoder ? ['ys', 'iter'] : ['x'], 'y', s.transcoder ? { axis: 0 } : {});
  n.add('Gather', ['lrs', 'iter'], 'lr', { axis: 0 });
  n.add('Cast', ['iter'], 'iter_f', { to: F });
  n.add('Add', ['t0', 'iter_f'], 't_before');
  n.add('Add', ['t_before', 'c_one'], 't');
  // Features unfired for more than dead_after steps are revived by AuxK.
  n.add('Sub', ['t', 'last_fired'], 'since_fired');
  n.add('Greater', ['since_fired', 'dead_after'], 'dead_b');
  n.add('Cast', ['dead_b'], 'dead', { to: F });
  forwardBackward(s, n);
  n.add('Pow', ['c_beta1', 't'], 'b1t');
  n.add('Pow', ['c_beta2', 't'], 'b2t');
  n.add('Sub', ['c_one', 'b1t'], 'bc1');
  n.add('Sub', ['c_one', 'b2t'], 'bc2');
  for (const p of SAE_PARAMS) {
    const a = `adam_${p}`;
    n.add('Mul', [`m_${p}`, 'c_beta1'], `${a}_m_old`);
    n.add('Mul', [`grad_${p}`, 'c_one_minus_beta1'], `${a}_m_new`);
    n.add('Add', [`${a}_m_old`, `${a}_m_new`], `next_m_${p}`);
    n.add('Mul', [`grad_${p}`, `grad_${p}`], `${a}_g2`);
    n.add('Mul', [`v_${p}`, 'c_beta2'], `${a}_v_old`);
    n.add('Mul', [`${a}_g2`, 'c_one_minus_beta2'], `${a}_v_new`);
    n.add('Add', [`${a}_v_old`, `${a}_v_new`], `next_v_${p}`);
    n.add('Div', [`next_m_${p}`, 'bc1'], `${a}_m_hat`);
    n.add('Div', [`next_v_${p}`, 'bc2'], `${a}_v_hat`);
    n.add('Sqrt', [`${a}_v_hat`], `${a}_v_sqrt`);
    n.add('Add', [`${a}_v_sqrt`, 'c_eps'], `${a}_denom`);
    n.add('Div', [`${a}_m_hat`, `${a}_denom`], `${a}_dir`);
    n.add('Mul', [`${a}_dir`, 'lr'], `${a}_step`);
    n.add('Sub', [p, `${a}_step`], p === 'W_dec' && s.normalizeDecoder ? 'W_dec_raw' : `next_${p}`);
  }
  if (s.normalizeDecoder) {
    // Unit-norm decoder rows (each feature's direction), as SAELens and sparsify keep them.
    n.add('ReduceL2', ['W_dec_raw', 'c_axis1'], 'dec_row_norm', { keepdims: 1 });
    n.add('Max', ['dec_row_norm', 'c_eps'], 'dec_row_norm_safe');
    n.add('Div', ['W_dec_raw', 'dec_row_norm_safe'], 'next_W_dec');
  }
  n.add('Greater', ['fired', 'c_zero'], 'fired_b');
  n.add('Where', ['fired_b', 't', 'last_fired'], 'next_last_fired');
  n.add('Add', ['fire_counts', 'fire_sum'], 'next_fire_counts');
  if (s.architecture === 'batchtopk') {
    // Inference threshold: running average of the smallest activation BatchTopK keeps (SAELens).
    n.add('Mul', ['threshold', 'c_thr_keep'], 'thr_old');
    n.add('Mul', ['batch_threshold', 'c_thr_new'], 'thr_new');
    n.add('Add', ['thr_old', 'thr_new'], 'next_threshold');
  }
  n.add('Identity', ['cond_in'], 'cond_out');
  for (const o of STEP_OUTPUTS) n.add('Identity', [o], `s_${o}`);
  n.add('Identity', ['row_sse'], 's_row_sse');

  const dims = stateDims(s);
  const names = stateNames(s);
  const inits = [
    ...constants(s),
    floatTensor('c_beta1', [], [adam.beta1]),
    floatTensor('c_beta2', [], [adam.beta2]),
    floatTensor('c_one_minus_beta1', [], [1 - adam.beta1]),
    floatTensor('c_one_minus_beta2', [], [1 - adam.beta2]),
    floatTensor('c_eps', [], [adam.eps]),
  ];
  return graph(
    'sae_train_step',
    n.list,
    [valueInfo('iter', DataType.INT64, []), valueInfo('cond_in', DataType.BOOL, []), ...names.map((nm) => valueInfo(nm, F, dims[nm]!))],
    [
      valueInfo('cond_out', DataType.BOOL, []),
      ...names.map((nm) => valueInfo(`next_${nm}`, F, dims[nm]!)),
      ...STEP_OUTPUTS.map((o) => scalar(`s_${o}`)),
      valueInfo('s_row_sse', F, ['batch']),
    ],
    used(inits, n.list),
  );
}

/**
 * A chunk of training steps per call. Inputs: xs [K, B, dIn] (and ys [K, B, dOut] for a
 * transcoder), lrs [K], t0 (steps done before the chunk), dead_after (steps), and the state as
 * `in_<name>`. Outputs: the state as `out_<name>`, and per step `loss`, `mse`, `l1`, `aux`, `fvu`,
 * `l0` [K] and `row_sse` [K, B] (each row's squared error, for per-modality FVU).
 */
export function saeTrainChunkGraph(s: SaeTrainSpec, adam: AdamParams = ADAM): ModelProto {
  const body = stepBody(s, adam);
  const outerRefs = ['xs', ...(s.transcoder ? ['ys'] : []), 'lrs', 't0', 'dead_after'];
  // The body reads these from the enclosing graph; validate it as if they were its inputs.
  validateModel(model({ ...body, input: [...body.input, ...outerRefs.map((r) => valueInfo(r, F, null))] }, 18), 'the SAE training step');
  const dims = stateDims(s);
  const names = stateNames(s);
  const nodes: NodeProto[] = [
    node('Shape', ['lrs'], ['trip_1d'], 'chunk/trip_1d'),
    node('Reshape', ['trip_1d', 'scalar_shape'], ['trip'], 'chunk/trip'),
    node(
      'Loop',
      ['trip', '', ...names.map((nm) => `in_${nm}`)],
      [...names.map((nm) => `out_${nm}`), ...STEP_OUTPUTS, 'row_sse'],
      'chunk/loop',
      { body: { graph: body } },
    ),
  ];
  const inputs = [
    valueInfo('xs', F, ['steps', 'batch', s.dIn]),
    ...(s.transcoder ? [valueInfo('ys', F, ['steps', 'batch', s.dOut])] : []),
    valueInfo('lrs', F, ['steps']),
    scalar('t0'),
    scalar('dead_after'),
    ...names.map((nm) => valueInfo(`in_${nm}`, F, dims[nm]!)),
  ];
  const outputs = [
    ...names.map((nm) => valueInfo(`out_${nm}`, F, dims[nm]!)),
    ...STEP_OUTPUTS.map((o) => valueInfo(o, F, ['steps'])),
    valueInfo('row_sse', F, ['steps', 'batch']),
  ];
  return model(graph('sae_train_chunk', nodes, inputs, outputs, [int64Tensor('scalar_shape', [0], [])]), 18);
}
