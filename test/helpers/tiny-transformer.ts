/**
 * A tiny, runnable transformer decoder built with standard ONNX ops (LayerNormalization, causal
 * softmax attention, Gelu MLP, plain Add residuals — the optimum/transformers.js export style), with
 * seeded random weights. Tests run it with onnxruntime-node and re-compute parts of it by hand.
 */
import { floatTensor, graph, int64Tensor, model, node, valueInfo } from '../../src-main/core/onnx/builder';
import type { ModelProto, TensorProto } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';
import { mulberry32 } from '../../src-main/core/util/random';

export interface TinyWeights {
  d: number;
  dff: number;
  vocab: number;
  layers: Array<Record<'Wq' | 'Wk' | 'Wv' | 'Wo' | 'W1' | 'W2' | 'g1' | 'b1' | 'g2' | 'b2', Float32Array>>;
  gf: Float32Array;
  bf: Float32Array;
  Wu: Float32Array;
}

export { mulberry32 };

/** The mixer's residual join, then LayerNorm -> Gelu MLP -> the second residual join. */
function residualAndMlp(p: string, x: string) {
  return [
    node('Add', [x, `${p}/attn_out`], [`${p}/resid_mid`], `${p}/Add_1`),
    node('LayerNormalization', [`${p}/resid_mid`, `${p}.g2`, `${p}.b2`], [`${p}/ln2`], `${p}/post_attention_layernorm`, {
      axis: -1,
      epsilon: 1e-5,
    }),
    node('MatMul', [`${p}/ln2`, `${p}.W1`], [`${p}/h`], `${p}/mlp/fc1`),
    node('Gelu', [`${p}/h`], [`${p}/act`], `${p}/mlp/act`),
    node('MatMul', [`${p}/act`, `${p}.W2`], [`${p}/mlp_out`], `${p}/mlp/fc2`),
    node('Add', [`${p}/resid_mid`, `${p}/mlp_out`], [`${p}/resid_post`], `${p}/Add_2`),
  ];
}

export function randn(rand: () => number, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()) * scale;
  }
  return out;
}

/**
 * With `kvCache`, the graph has the onnx-community decoder signature: inputs_embeds, attention_mask
 * (int64 [batch, total]) and past_key_values.{L}.key/value ([batch, 1, past, d]); outputs logits and
 * present.{L}.key/value. The causal mask is offset by the past length, and padded positions are masked.
 */
/**
 * `convLayers` (with kvCache) turns those layers' attention into a causal depthwise convolution
 * mixer (kernel 3) carrying a conv state past_conv.{L} [batch, d, 2] -> present_conv.{L}: the shape
 * of the recurrent/conv caches hybrid models use.
 */
export function tinyTransformer(
  options: { layers?: number; d?: number; dff?: number; vocab?: number; seed?: number; kvCache?: boolean; convLayers?: number[] } = {},
): { model: ModelProto; weights: TinyWeights } {
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
  const kv = options.kvCache ?? false;
  // Causal mask [seq, past + seq]: 0 where key j <= past + query i, -1e9 elsewhere.
  nodes.push(
    node('Shape', ['inputs_embeds'], ['shape'], 'mask/Shape'),
    node('Gather', ['shape', 'one_i64'], ['seq'], 'mask/Gather', { axis: 0 }),
  );
  if (kv) {
    nodes.push(
      // total = attention_mask length; past = total - seq (works whatever kind of cache each layer has).
      node('Shape', ['attention_mask'], ['am_shape'], 'mask/AmShape'),
      node('Gather', ['am_shape', 'one_i64'], ['total'], 'mask/Total', { axis: 0 }),
      node('Sub', ['total', 'seq'], ['past_len'], 'mask/PastLen'),
      node('Concat', ['seq', 'total'], ['mask_shape'], 'mask/Concat', { axis: 0 }),
      node('Squeeze', ['past_len', 'zero_axis'], ['past_scalar'], 'mask/PastScalar'),
      node('ConstantOfShape', ['mask_shape'], ['ones'], 'mask/Ones', { value: { tensor: floatTensor('v', [1], [1]) } }),
      node('Trilu', ['ones', 'past_scalar'], ['lower'], 'mask/Trilu', { upper: 0 }),
      // Padding: attention_mask [b, total] -> [b, 1, total] additive (0 keep, -1e9 padded).
      node('Cast', ['attention_mask'], ['am_f'], 'mask/AmFloat', { to: DataType.FLOAT }),
      node('Unsqueeze', ['am_f', 'one_i64'], ['am_3'], 'mask/AmUnsqueeze'),
      node('Sub', ['am_3', 'one_f'], ['am_m1'], 'mask/AmSub'),
      node('Mul', ['am_m1', 'big_f'], ['pad_mask'], 'mask/AmMul'),
    );
    inits.push(int64Tensor('zero_axis', [1], [0]));
  } else {
    nodes.push(
      node('Concat', ['seq', 'seq'], ['mask_shape'], 'mask/Concat', { axis: 0 }),
      node('ConstantOfShape', ['mask_shape'], ['ones'], 'mask/Ones', { value: { tensor: floatTensor('v', [1], [1]) } }),
      node('Trilu', ['ones'], ['lower'], 'mask/Trilu', { upper: 0 }),
    );
  }
  nodes.push(
    node('Sub', ['lower', 'one_f'], ['lower_m1'], 'mask/Sub'),
    node('Mul', ['lower_m1', 'big_f'], kv ? ['causal'] : ['mask'], 'mask/Mul'),
  );
  if (kv) nodes.push(node('Add', ['causal', 'pad_mask'], ['mask'], 'mask/Combine'));
  inits.push(
    int64Tensor('one_i64', [1], [1]),
    floatTensor('one_f', [], [1]),
    floatTensor('big_f', [], [1e9]),
    floatTensor('attn_scale', [], [1 / Math.sqrt(d)]),
  );
  const kvInputs = [];
  const kvOutputs = [];

  let x = 'inputs_embeds';
  for (let l = 0; l < L; l++) {
    const lw = {
      Wq: w(d * d, d),
      Wk: w(d * d, d),
      Wv: w(d * d, d),
      Wo: w(d * d, d),
      W1: w(d * dff, d),
      W2: w(dff * d, dff),
      g1: near1(d),
      b1: randn(rand, d, 0.1),
      g2: near1(d),
      b2: randn(rand, d, 0.1),
    };
    weights.layers.push(lw);
    const p = `/model/layers.${l}`;
    const dims: Record<string, number[]> = {
      Wq: [d, d],
      Wk: [d, d],
      Wv: [d, d],
      Wo: [d, d],
      W1: [d, dff],
      W2: [dff, d],
      g1: [d],
      b1: [d],
      g2: [d],
      b2: [d],
    };
    for (const [k, v] of Object.entries(lw)) inits.push(floatTensor(`${p}.${k}`, dims[k]!, v));
    nodes.push(
      node('LayerNormalization', [x, `${p}.g1`, `${p}.b1`], [`${p}/ln1`], `${p}/input_layernorm`, { axis: -1, epsilon: 1e-5 }),
      node('MatMul', [`${p}/ln1`, `${p}.Wq`], [`${p}/q`], `${p}/attn/q_proj`),
      node('MatMul', [`${p}/ln1`, `${p}.Wk`], [`${p}/k`], `${p}/attn/k_proj`),
      node('MatMul', [`${p}/ln1`, `${p}.Wv`], [`${p}/v`], `${p}/attn/v_proj`),
    );
    let keys = `${p}/k`;
    let values = `${p}/v`;
    if (kv && options.convLayers?.includes(l)) {
      // Causal depthwise conv over [state | x]: the state holds the last two normalised inputs.
      const conv = randn(rand, d * 3, 0.5);
      inits.push(
        floatTensor(`${p}.conv`, [d, 1, 3], conv),
        int64Tensor(`${p}.keep_from`, [1], [-2]),
        int64Tensor(`${p}.keep_to`, [1], [2 ** 31]),
        int64Tensor(`${p}.time_axis`, [1], [2]),
      );
      kvInputs.push(valueInfo(`past_conv.${l}`, DataType.FLOAT, ['batch_size', d, 2]));
      kvOutputs.push(valueInfo(`present_conv.${l}`, DataType.FLOAT, ['batch_size', d, 2]));
      nodes.push(
        node('Transpose', [`${p}/ln1`], [`${p}/xt`], `${p}/mix/T`, { perm: [0, 2, 1] }),
        node('Concat', [`past_conv.${l}`, `${p}/xt`], [`${p}/ext`], `${p}/mix/Cat`, { axis: 2 }),
        node('Conv', [`${p}/ext`, `${p}.conv`], [`${p}/convd`], `${p}/mix/Conv`, { group: d, kernel_shape: [3] }),
        node('Slice', [`${p}/ext`, `${p}.keep_from`, `${p}.keep_to`, `${p}.time_axis`], [`present_conv.${l}`], `${p}/mix/State`),
        node('Transpose', [`${p}/convd`], [`${p}/ctx`], `${p}/mix/T2`, { perm: [0, 2, 1] }),
        node('MatMul', [`${p}/ctx`, `${p}.Wo`], [`${p}/attn_out`], `${p}/mix/o_proj`),
        ...residualAndMlp(p, x),
      );
      x = `${p}/resid_post`;
      continue;
    }
    if (kv) {
      // One head: cache tensors are [batch, 1, total, d]; the graph keeps [batch, total, d] inside.
      const past = (w: 'key' | 'value') => `past_key_values.${l}.${w}`;
      const present = (w: 'key' | 'value') => `present.${l}.${w}`;
      kvInputs.push(
        valueInfo(past('key'), DataType.FLOAT, ['batch_size', 1, 'past_sequence_length', d]),
        valueInfo(past('value'), DataType.FLOAT, ['batch_size', 1, 'past_sequence_length', d]),
      );
      kvOutputs.push(
        valueInfo(present('key'), DataType.FLOAT, ['batch_size', 1, 'total_sequence_length', d]),
        valueInfo(present('value'), DataType.FLOAT, ['batch_size', 1, 'total_sequence_length', d]),
      );
      nodes.push(
        node('Unsqueeze', [`${p}/k`, 'one_i64'], [`${p}/k4`], `${p}/attn/K4`),
        node('Unsqueeze', [`${p}/v`, 'one_i64'], [`${p}/v4`], `${p}/attn/V4`),
        node('Concat', [past('key'), `${p}/k4`], [present('key')], `${p}/attn/CatK`, { axis: 2 }),
        node('Concat', [past('value'), `${p}/v4`], [present('value')], `${p}/attn/CatV`, { axis: 2 }),
        node('Squeeze', [present('key'), 'one_i64'], [`${p}/k_all`], `${p}/attn/K3`),
        node('Squeeze', [present('value'), 'one_i64'], [`${p}/v_all`], `${p}/attn/V3`),
      );
      keys = `${p}/k_all`;
      values = `${p}/v_all`;
    }
    nodes.push(
      node('Transpose', [keys], [`${p}/kt`], `${p}/attn/Transpose`, { perm: [0, 2, 1] }),
      node('MatMul', [`${p}/q`, `${p}/kt`], [`${p}/scores`], `${p}/attn/QK`),
      node('Mul', [`${p}/scores`, 'attn_scale'], [`${p}/scaled`], `${p}/attn/Scale`),
      node('Add', [`${p}/scaled`, 'mask'], [`${p}/masked`], `${p}/attn/Mask`),
      node('Softmax', [`${p}/masked`], [`${p}/probs`], `${p}/attn/Softmax`, { axis: -1 }),
      node('MatMul', [`${p}/probs`, values], [`${p}/ctx`], `${p}/attn/PV`),
      node('MatMul', [`${p}/ctx`, `${p}.Wo`], [`${p}/attn_out`], `${p}/attn/o_proj`),
      ...residualAndMlp(p, x),
    );
    x = `${p}/resid_post`;
  }
  inits.push(
    floatTensor('/model/norm.g', [d], weights.gf),
    floatTensor('/model/norm.b', [d], weights.bf),
    floatTensor('lm_head.W', [d, vocab], weights.Wu),
  );
  nodes.push(
    node('LayerNormalization', [x, '/model/norm.g', '/model/norm.b'], ['/model/norm/out'], `/model/layers.${L}/final_norm`, {
      axis: -1,
      epsilon: 1e-5,
    }),
    node('MatMul', ['/model/norm/out', 'lm_head.W'], ['logits'], '/lm_head/MatMul'),
  );
  const g = graph(
    'tiny_decoder',
    nodes,
    [
      valueInfo('inputs_embeds', DataType.FLOAT, ['batch_size', 'sequence_length', d]),
      ...(kv ? [valueInfo('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length'])] : []),
      ...kvInputs,
    ],
    [valueInfo('logits', DataType.FLOAT, ['batch_size', 'sequence_length', vocab]), ...kvOutputs],
    inits,
  );
  return { model: model(g, 21), weights };
}
