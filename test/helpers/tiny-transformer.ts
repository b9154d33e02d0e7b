/**
 * A tiny, runnable transformer decoder built with standard ONNX ops (LayerNormalization, causal
 * softmax attention, Gelu MLP, plain Add residuals — the optimum/transformers.js export style), with
 * seeded random weights. Tests run it with onnxruntime-node and re-compute parts of it by hand.
 */
import { floatTensor, graph, int64Tensor, model, node, valueInfo } from '../../src-main/core/onnx/builder';
import type { ModelProto, TensorProto } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';

export interface TinyWeights {
  d: number;
  dff: number;
  vocab: number;
  layers: Array<Record<'Wq' | 'Wk' | 'Wv' | 'Wo' | 'W1' | 'W2' | 'g1' | 'b1' | 'g2' | 'b2', Float32Array>>;
  gf: Float32Array;
  bf: Float32Array;
  Wu: Float32Array;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(rand: () => number, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()) * scale;
  }
  return out;
}

export function tinyTransformer(options: { layers?: number; d?: number; dff?: number; vocab?: number; seed?: number } = {}): { model: ModelProto; weights: TinyWeights } {
  const L = options.layers ?? 2;
  const d = options.d ?? 16;
  const dff = options.dff ?? 32;
  const vocab = options.vocab ?? 24;
  const rand = mulberry32(options.seed ?? 7);
  const w = (n: number, fanIn: number) => randn(rand, n, 1 / Math.sqrt(fanIn));
  const near1 = (n: number) => Float32Array.from(randn(rand, n, 0.1), (v) => 1 + v);
  const weights: TinyWeights = { d, dff, vocab, layers: [], gf: near1(d), bf: randn(rand, d, 0.1), Wu: w(d * vocab, d) };

  const nodes = [];
  const inits: TensorProto[] = [];
  // Causal mask [seq, seq]: 0 on and below the diagonal, -1e9 above.
  nodes.push(
    node('Shape', ['inputs_embeds'], ['shape'], 'mask/Shape'),
    node('Gather', ['shape', 'one_i64'], ['seq'], 'mask/Gather', { axis: 0 }),
    node('Concat', ['seq', 'seq'], ['seq_seq'], 'mask/Concat', { axis: 0 }),
    node('ConstantOfShape', ['seq_seq'], ['ones'], 'mask/Ones', { value: { tensor: floatTensor('v', [1], [1]) } }),
    node('Trilu', ['ones'], ['lower'], 'mask/Trilu', { upper: 0 }),
    node('Sub', ['lower', 'one_f'], ['lower_m1'], 'mask/Sub'),
    node('Mul', ['lower_m1', 'big_f'], ['mask'], 'mask/Mul'),
  );
  inits.push(int64Tensor('one_i64', [1], [1]), floatTensor('one_f', [], [1]), floatTensor('big_f', [], [1e9]), floatTensor('attn_scale', [], [1 / Math.sqrt(d)]));

  let x = 'inputs_embeds';
  for (let l = 0; l < L; l++) {
    const lw = {
      Wq: w(d * d, d), Wk: w(d * d, d), Wv: w(d * d, d), Wo: w(d * d, d),
      W1: w(d * dff, d), W2: w(dff * d, dff), g1: near1(d), b1: randn(rand, d, 0.1), g2: near1(d), b2: randn(rand, d, 0.1),
    };
    weights.layers.push(lw);
    const p = `/model/layers.${l}`;
    const dims: Record<string, number[]> = { Wq: [d, d], Wk: [d, d], Wv: [d, d], Wo: [d, d], W1: [d, dff], W2: [dff, d], g1: [d], b1: [d], g2: [d], b2: [d] };
    for (const [k, v] of Object.entries(lw)) inits.push(floatTensor(`${p}.${k}`, dims[k]!, v));
    nodes.push(
      node('LayerNormalization', [x, `${p}.g1`, `${p}.b1`], [`${p}/ln1`], `${p}/input_layernorm`, { axis: -1, epsilon: 1e-5 }),
      node('MatMul', [`${p}/ln1`, `${p}.Wq`], [`${p}/q`], `${p}/attn/q_proj`),
      node('MatMul', [`${p}/ln1`, `${p}.Wk`], [`${p}/k`], `${p}/attn/k_proj`),
      node('MatMul', [`${p}/ln1`, `${p}.Wv`], [`${p}/v`], `${p}/attn/v_proj`),
      node('Transpose', [`${p}/k`], [`${p}/kt`], `${p}/attn/Transpose`, { perm: [0, 2, 1] }),
      node('MatMul', [`${p}/q`, `${p}/kt`], [`${p}/scores`], `${p}/attn/QK`),
      node('Mul', [`${p}/scores`, 'attn_scale'], [`${p}/scaled`], `${p}/attn/Scale`),
      node('Add', [`${p}/scaled`, 'mask'], [`${p}/masked`], `${p}/attn/Mask`),
      node('Softmax', [`${p}/masked`], [`${p}/probs`], `${p}/attn/Softmax`, { axis: -1 }),
      node('MatMul', [`${p}/probs`, `${p}/v`], [`${p}/ctx`], `${p}/attn/PV`),
      node('MatMul', [`${p}/ctx`, `${p}.Wo`], [`${p}/attn_out`], `${p}/attn/o_proj`),
      node('Add', [x, `${p}/attn_out`], [`${p}/resid_mid`], `${p}/Add_1`),
      node('LayerNormalization', [`${p}/resid_mid`, `${p}.g2`, `${p}.b2`], [`${p}/ln2`], `${p}/post_attention_layernorm`, { axis: -1, epsilon: 1e-5 }),
      node('MatMul', [`${p}/ln2`, `${p}.W1`], [`${p}/h`], `${p}/mlp/fc1`),
      node('Gelu', [`${p}/h`], [`${p}/act`], `${p}/mlp/act`),
      node('MatMul', [`${p}/act`, `${p}.W2`], [`${p}/mlp_out`], `${p}/mlp/fc2`),
      node('Add', [`${p}/resid_mid`, `${p}/mlp_out`], [`${p}/resid_post`], `${p}/Add_2`),
    );
    x = `${p}/resid_post`;
  }
  inits.push(floatTensor('/model/norm.g', [d], weights.gf), floatTensor('/model/norm.b', [d], weights.bf), floatTensor('lm_head.W', [d, vocab], weights.Wu));
  nodes.push(
    node('LayerNormalization', [x, '/model/norm.g', '/model/norm.b'], ['/model/norm/out'], `/model/layers.${L}/final_norm`, { axis: -1, epsilon: 1e-5 }),
    node('MatMul', ['/model/norm/out', 'lm_head.W'], ['logits'], '/lm_head/MatMul'),
  );
  const g = graph(
    'tiny_decoder',
    nodes,
    [valueInfo('inputs_embeds', DataType.FLOAT, ['batch_size', 'sequence_length', d])],
    [valueInfo('logits', DataType.FLOAT, ['batch_size', 'sequence_length', vocab])],
    inits,
  );
  return { model: model(g, 21), weights };
}
