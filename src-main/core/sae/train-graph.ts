/**
 * The TopK SAE training step as an ONNX graph, built here so onnxruntime runs training on whatever
 * device its sessions use (CPU here, CUDA on a workstation) with no Python:
 *
 *   forward   xc = x - b_dec; pre = xc W_enc + b_enc; z = scatter(TopK(pre, k) through ReLU)
 *             x_hat = z W_dec + b_dec; loss = sum((x_hat - x)^2) / B
 *   backward  written out by hand (the graph has no autodiff): g = 2 (x_hat - x) / B,
 *             dW_dec = z^T g, dz = g W_dec^T, dpre = dz * [z > 0], dW_enc = xc^T dpre,
 *             db_enc = sum dpre, db_dec = sum g - sum(dpre W_enc^T)
 *   update    Adam with bias correction, then decoder rows renormalised to unit norm.
 *
 * Parameters and Adam moments go in and come out, so a caller keeps them between steps. The
 * gradient-only graph (`saeGradientGraph`) exists so tests can check the hand-written backward
 * against finite differences.
 */
import { floatTensor, graph, int64Tensor, model, node, valueInfo } from '../onnx/builder.js';
import type { ModelProto, NodeProto } from '../onnx/model-io.js';
import { DataType } from '../onnx/schema.js';

export interface SaeTrainShape {
  dIn: number;
  dSae: number;
  k: number;
}

export const SAE_PARAMS = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;
export type SaeParam = (typeof SAE_PARAMS)[number];

export function paramDims(s: SaeTrainShape): Record<SaeParam, number[]> {
  return { W_enc: [s.dIn, s.dSae], b_enc: [s.dSae], W_dec: [s.dSae, s.dIn], b_dec: [s.dIn] };
}

const F = DataType.FLOAT;

/** Forward pass and hand-written gradients; returns the nodes and constants. */
function forwardBackward(s: SaeTrainShape): { nodes: NodeProto[]; consts: ReturnType<typeof floatTensor>[] } {
  const nodes: NodeProto[] = [
    node('Sub', ['x', 'b_dec'], ['xc'], 'fwd/center'),
    node('MatMul', ['xc', 'W_enc'], ['proj'], 'fwd/encode'),
    node('Add', ['proj', 'b_enc'], ['pre'], 'fwd/bias'),
    node('TopK', ['pre', 'k'], ['top_vals', 'top_idx'], 'fwd/topk', { axis: -1, largest: 1, sorted: 0 }),
    node('Relu', ['top_vals'], ['top_acts'], 'fwd/relu'),
    node('Sub', ['pre', 'pre'], ['zeros'], 'fwd/zeros'),
    node('ScatterElements', ['zeros', 'top_idx', 'top_acts'], ['z'], 'fwd/scatter', { axis: -1 }),
    node('MatMul', ['z', 'W_dec'], ['dec'], 'fwd/decode'),
    node('Add', ['dec', 'b_dec'], ['x_hat'], 'fwd/dec_bias'),
    node('Sub', ['x_hat', 'x'], ['err'], 'fwd/err'),
    node('Mul', ['err', 'err'], ['err2'], 'fwd/err2'),
    node('ReduceSum', ['err2'], ['sse'], 'fwd/sse', { keepdims: 0 }),
    node('ReduceSum', ['err2', 'axis1'], ['row_sse'], 'met/row_sse', { keepdims: 0 }),
    node('Shape', ['x'], ['x_shape'], 'fwd/shape'),
    node('Gather', ['x_shape', 'zero_i'], ['batch_i'], 'fwd/batch', { axis: 0 }),
    node('Cast', ['batch_i'], ['batch_f'], 'fwd/batch_f', { to: F }),
    node('Div', ['sse', 'batch_f'], ['loss'], 'fwd/loss'),
    // Fraction of variance unexplained, and L0, for the metrics log.
    node('ReduceMean', ['x', 'axis0'], ['x_mean'], 'met/mean', { keepdims: 1 }),
    node('Sub', ['x', 'x_mean'], ['x_centered'], 'met/centered'),
    node('Mul', ['x_centered', 'x_centered'], ['var2'], 'met/var2'),
    node('ReduceSum', ['var2'], ['sst'], 'met/sst', { keepdims: 0 }),
    node('Div', ['sse', 'sst'], ['fvu'], 'met/fvu'),
    node('Greater', ['z', 'zero_f'], ['fires'], 'met/fires'),
    node('Cast', ['fires'], ['fires_f'], 'met/fires_f', { to: F }),
    node('ReduceSum', ['fires_f'], ['fire_count'], 'met/fire_count', { keepdims: 0 }),
    node('Div', ['fire_count', 'batch_f'], ['l0'], 'met/l0'),
    node('ReduceMax', ['fires_f', 'axis0'], ['fired'], 'met/fired', { keepdims: 0 }),
    // Backward.
    node('Mul', ['err', 'two'], ['err_2'], 'bwd/2e'),
    node('Div', ['err_2', 'batch_f'], ['g'], 'bwd/g'),
    node('Transpose', ['z'], ['z_t'], 'bwd/z_t', { perm: [1, 0] }),
    node('MatMul', ['z_t', 'g'], ['grad_W_dec'], 'bwd/W_dec'),
    node('Transpose', ['W_dec'], ['W_dec_t'], 'bwd/W_dec_t', { perm: [1, 0] }),
    node('MatMul', ['g', 'W_dec_t'], ['gz'], 'bwd/gz'),
    node('Mul', ['gz', 'fires_f'], ['gpre'], 'bwd/gpre'),
    node('Transpose', ['xc'], ['xc_t'], 'bwd/xc_t', { perm: [1, 0] }),
    node('MatMul', ['xc_t', 'gpre'], ['grad_W_enc'], 'bwd/W_enc'),
    node('ReduceSum', ['gpre', 'axis0'], ['grad_b_enc'], 'bwd/b_enc', { keepdims: 0 }),
    node('Transpose', ['W_enc'], ['W_enc_t'], 'bwd/W_enc_t', { perm: [1, 0] }),
    node('MatMul', ['gpre', 'W_enc_t'], ['gxc'], 'bwd/gxc'),
    node('ReduceSum', ['g', 'axis0'], ['gb_dec_out'], 'bwd/b_dec_out', { keepdims: 0 }),
    node('ReduceSum', ['gxc', 'axis0'], ['gb_dec_in'], 'bwd/b_dec_in', { keepdims: 0 }),
    node('Sub', ['gb_dec_out', 'gb_dec_in'], ['grad_b_dec'], 'bwd/b_dec'),
  ];
  const consts = [floatTensor('two', [], [2]), floatTensor('zero_f', [], [0])];
  return { nodes, consts };
}

function commonInits(s: SaeTrainShape) {
  return [int64Tensor('k', [1], [s.k]), int64Tensor('zero_i', [], [0]), int64Tensor('axis0', [1], [0]), int64Tensor('axis1', [1], [1])];
}

function paramInputs(s: SaeTrainShape) {
  const dims = paramDims(s);
  return [valueInfo('x', F, ['batch', s.dIn]), ...SAE_PARAMS.map((p) => valueInfo(p, F, dims[p]))];
}

/** Loss, FVU and L0 of the batch, and each row's squared error (for per-modality FVU). */
const metricOutputs = () => [valueInfo('loss', F, []), valueInfo('fvu', F, []), valueInfo('l0', F, []), valueInfo('row_sse', F, ['batch'])];

/** Forward + hand-written gradients only (for finite-difference checks). */
export function saeGradientGraph(s: SaeTrainShape): ModelProto {
  const { nodes, consts } = forwardBackward(s);
  const dims = paramDims(s);
  return model(
    graph('sae_grad', nodes, paramInputs(s), [...metricOutputs(), ...SAE_PARAMS.map((p) => valueInfo(`grad_${p}`, F, dims[p]))], [...consts, ...commonInits(s)]),
    18,
  );
}

/** One Adam step: params and moments in, updated params and moments out, with loss, FVU, L0 and which features fired. */
export function saeTrainStepGraph(s: SaeTrainShape, adam = { beta1: 0.9, beta2: 0.999, eps: 1e-8 }): ModelProto {
  const { nodes, consts } = forwardBackward(s);
  const dims = paramDims(s);
  const inputs = [...paramInputs(s), ...SAE_PARAMS.flatMap((p) => [valueInfo(`m_${p}`, F, dims[p]), valueInfo(`v_${p}`, F, dims[p])]), valueInfo('t', F, []), valueInfo('lr', F, [])];
  nodes.push(
    node('Pow', ['beta1', 't'], ['b1t'], 'adam/b1t'),
    node('Pow', ['beta2', 't'], ['b2t'], 'adam/b2t'),
    node('Sub', ['one', 'b1t'], ['bc1'], 'adam/bc1'),
    node('Sub', ['one', 'b2t'], ['bc2'], 'adam/bc2'),
  );
  for (const p of SAE_PARAMS) {
    const a = `adam/${p}`;
    nodes.push(
      node('Mul', [`m_${p}`, 'beta1'], [`${a}/m_old`], `${a}/m_old`),
      node('Mul', [`grad_${p}`, 'one_minus_beta1'], [`${a}/m_new`], `${a}/m_new`),
      node('Add', [`${a}/m_old`, `${a}/m_new`], [`next_m_${p}`], `${a}/m`),
      node('Mul', [`grad_${p}`, `grad_${p}`], [`${a}/g2`], `${a}/g2`),
      node('Mul', [`v_${p}`, 'beta2'], [`${a}/v_old`], `${a}/v_old`),
      node('Mul', [`${a}/g2`, 'one_minus_beta2'], [`${a}/v_new`], `${a}/v_new`),
      node('Add', [`${a}/v_old`, `${a}/v_new`], [`next_v_${p}`], `${a}/v`),
      node('Div', [`next_m_${p}`, 'bc1'], [`${a}/m_hat`], `${a}/m_hat`),
      node('Div', [`next_v_${p}`, 'bc2'], [`${a}/v_hat`], `${a}/v_hat`),
      node('Sqrt', [`${a}/v_hat`], [`${a}/v_sqrt`], `${a}/v_sqrt`),
      node('Add', [`${a}/v_sqrt`, 'eps'], [`${a}/denom`], `${a}/denom`),
      node('Div', [`${a}/m_hat`, `${a}/denom`], [`${a}/dir`], `${a}/dir`),
      node('Mul', [`${a}/dir`, 'lr'], [`${a}/step`], `${a}/step`),
      node('Sub', [p, `${a}/step`], [p === 'W_dec' ? 'W_dec_raw' : `next_${p}`], `${a}/apply`),
    );
  }
  // Unit-norm decoder rows (each feature's direction), as SAELens and sparsify keep them.
  nodes.push(
    node('ReduceL2', ['W_dec_raw', 'axis1'], ['dec_norm'], 'renorm/norm', { keepdims: 1 }),
    node('Max', ['dec_norm', 'eps'], ['dec_norm_safe'], 'renorm/safe'),
    node('Div', ['W_dec_raw', 'dec_norm_safe'], ['next_W_dec'], 'renorm/div'),
  );
  const outputs = [
    ...metricOutputs(),
    valueInfo('fired', F, [s.dSae]),
    ...SAE_PARAMS.flatMap((p) => [valueInfo(`next_${p}`, F, dims[p]), valueInfo(`next_m_${p}`, F, dims[p]), valueInfo(`next_v_${p}`, F, dims[p])]),
  ];
  const inits = [
    ...consts,
    ...commonInits(s),
    floatTensor('beta1', [], [adam.beta1]),
    floatTensor('beta2', [], [adam.beta2]),
    floatTensor('one_minus_beta1', [], [1 - adam.beta1]),
    floatTensor('one_minus_beta2', [], [1 - adam.beta2]),
    floatTensor('one', [], [1]),
    floatTensor('eps', [], [adam.eps]),
  ];
  return model(graph('sae_train_step', nodes, inputs, outputs, inits), 18);
}
