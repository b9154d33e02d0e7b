/**
 * Graph-only models in the export styles tap discovery must handle: the onnxruntime-genai builder's
 * fused SkipSimplifiedLayerNormalization + GroupQueryAttention + MatMulNBits, quantized
 * MatMulInteger/DynamicQuantizeLinear with plain Adds, and a hybrid with recurrent mixer layers.
 * Names are deliberately unhelpful so discovery has to rely on structure.
 */
import { graph, model, node, valueInfo } from '../../src-main/core/onnx/builder';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';

const MS = 'com.microsoft';

function weight(name: string, dims: number[]): TensorProto {
  return {
    name,
    dims,
    data_type: DataType.FLOAT,
    external_data: [
      { key: 'location', value: 'model.onnx_data' },
      { key: 'offset', value: '0' },
      { key: 'length', value: '4' },
    ],
    data_location: 1,
  };
}

/** onnxruntime-genai builder style: each residual sum is output 3 of a fused SkipSimplifiedLayerNormalization. */
export function genaiFusedDecoder(layers: number, d: number, dtype: number = DataType.FLOAT16): ModelProto {
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const vis = [];
  let n = 0;
  const id = () => `n${n++}`;
  inits.push(weight('g_in', [d]));
  nodes.push(node('SimplifiedLayerNormalization', ['inputs_embeds', 'g_in'], ['norm_0'], id(), { axis: -1, epsilon: 1e-6 }));
  let stream = 'inputs_embeds';
  let normed = 'norm_0';
  for (let l = 0; l < layers; l++) {
    for (const w of ['qkv', 'o', 'up', 'down', 'g1', 'g2']) inits.push(weight(`w${l}${w}`, w.startsWith('g') ? [d] : [d, d]));
    const t = (s: string) => `t${l}_${s}`;
    nodes.push(
      node('MatMulNBits', [normed, `w${l}qkv`], [t('qkv')], id(), { K: d, N: 3 * d, bits: 4, block_size: 32 }, MS),
      node(
        'GroupQueryAttention',
        [t('qkv'), '', '', 'past_k', 'past_v', 'seqlens_k', 'total_len'],
        [t('attn'), t('pk'), t('pv')],
        id(),
        { num_heads: 2, kv_num_heads: 1 },
        MS,
      ),
      node('MatMulNBits', [t('attn'), `w${l}o`], [t('o')], id(), { K: d, N: d, bits: 4, block_size: 32 }, MS),
      node('SkipSimplifiedLayerNormalization', [t('o'), stream, `w${l}g1`], [t('mlp_in'), '', '', t('sum1')], id(), { epsilon: 1e-6 }, MS),
      node('MatMulNBits', [t('mlp_in'), `w${l}up`], [t('up')], id(), { K: d, N: d, bits: 4, block_size: 32 }, MS),
      node('Sigmoid', [t('up')], [t('sig')], id()),
      node('Mul', [t('up'), t('sig')], [t('act')], id()),
      node('MatMulNBits', [t('act'), `w${l}down`], [t('down')], id(), { K: d, N: d, bits: 4, block_size: 32 }, MS),
    );
    const last = l === layers - 1;
    // The builder leaves the last residual sum unnamed: only the final norm's output is used.
    nodes.push(
      node(
        'SkipSimplifiedLayerNormalization',
        [t('down'), t('sum1'), last ? 'g_final' : `w${l + 1}g0`],
        [last ? 'final_norm' : t('next_in'), '', '', last ? '' : t('sum2')],
        id(),
        { epsilon: 1e-6 },
        MS,
      ),
    );
    inits.push(weight(last ? 'g_final' : `w${l + 1}g0`, [d]));
    vis.push(valueInfo(t('sum1'), dtype, ['batch_size', 'sequence_length', d]));
    if (!last) vis.push(valueInfo(t('sum2'), dtype, ['batch_size', 'sequence_length', d]));
    stream = t('sum2');
    normed = t('next_in');
  }
  inits.push(weight('lm_head', [d, 100]));
  nodes.push(node('MatMul', ['final_norm', 'lm_head'], ['logits'], id()));
  const g: GraphProto = graph(
    'genai',
    nodes,
    [
      valueInfo('inputs_embeds', dtype, ['batch_size', 'sequence_length', d]),
      valueInfo('past_k', dtype, null),
      valueInfo('past_v', dtype, null),
      valueInfo('seqlens_k', DataType.INT32, null),
      valueInfo('total_len', DataType.INT32, null),
    ],
    [valueInfo('logits', dtype, ['batch_size', 'sequence_length', 100])],
    inits,
    vis,
  );
  return model(g, 21, [{ domain: MS, version: 1 }]);
}

/** Dynamic int8 quantization: DynamicQuantizeLinear + MatMulInteger + dequantise, plain Add residuals, LayerNorm. */
export function quantizedDecoder(layers: number, d: number): ModelProto {
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let n = 0;
  const id = () => `op${n++}`;
  let stream = 'inputs_embeds';
  const qmm = (x: string, w: string, out: string) => {
    inits.push(weight(w, [d, d]), weight(`${w}_scale`, []));
    nodes.push(
      node('DynamicQuantizeLinear', [x], [`${out}_q`, `${out}_s`, `${out}_z`], id()),
      node('MatMulInteger', [`${out}_q`, w, `${out}_z`], [`${out}_i32`], id()),
      node('Cast', [`${out}_i32`], [`${out}_f`], id(), { to: DataType.FLOAT }),
      node('Mul', [`${out}_s`, `${w}_scale`], [`${out}_sc`], id()),
      node('Mul', [`${out}_f`, `${out}_sc`], [out], id()),
    );
  };
  for (let l = 0; l < layers; l++) {
    inits.push(weight(`ln${l}a`, [d]), weight(`ln${l}b`, [d]));
    nodes.push(node('LayerNormalization', [stream, `ln${l}a`], [`a${l}_n`], id(), { axis: -1 }));
    qmm(`a${l}_n`, `wq${l}`, `a${l}_q`);
    nodes.push(node('Softmax', [`a${l}_q`], [`a${l}_p`], id(), { axis: -1 }));
    qmm(`a${l}_p`, `wo${l}`, `a${l}_o`);
    nodes.push(node('Add', [stream, `a${l}_o`], [`r${l}_mid`], id()));
    nodes.push(node('LayerNormalization', [`r${l}_mid`, `ln${l}b`], [`m${l}_n`], id(), { axis: -1 }));
    qmm(`m${l}_n`, `wu${l}`, `m${l}_u`);
    nodes.push(node('Gelu', [`m${l}_u`], [`m${l}_g`], id()));
    qmm(`m${l}_g`, `wd${l}`, `m${l}_d`);
    nodes.push(node('Add', [`r${l}_mid`, `m${l}_d`], [`r${l}_post`], id()));
    stream = `r${l}_post`;
  }
  inits.push(weight('lnf', [d]));
  nodes.push(node('LayerNormalization', [stream, 'lnf'], ['out'], id(), { axis: -1 }));
  return model(
    graph(
      'quant',
      nodes,
      [valueInfo('inputs_embeds', DataType.FLOAT, ['b', 's', d])],
      [valueInfo('out', DataType.FLOAT, ['b', 's', d])],
      inits,
    ),
  );
}

/** Hybrid: recurrent (linear-attention/conv) mixer layers alternating with attention layers, each followed by an MLP. */
export function hybridDecoder(pattern: Array<'attention' | 'recurrent'>, d: number): ModelProto {
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let n = 0;
  const id = () => `k${n++}`;
  let stream = 'inputs_embeds';
  pattern.forEach((kind, l) => {
    for (const w of ['g1', 'g2']) inits.push(weight(`${w}_${l}`, [d]));
    for (const w of ['w_in', 'w_out', 'w_up', 'w_down']) inits.push(weight(`${w}_${l}`, [d, d]));
    nodes.push(node('SimplifiedLayerNormalization', [stream, `g1_${l}`], [`x${l}_n`], id(), { axis: -1 }, ''));
    nodes.push(node('MatMul', [`x${l}_n`, `w_in_${l}`], [`x${l}_h`], id()));
    if (kind === 'attention') {
      nodes.push(node('MultiHeadAttention', [`x${l}_h`, `x${l}_h`, `x${l}_h`], [`x${l}_mix`], id(), { num_heads: 2 }, MS));
    } else {
      inits.push(weight(`conv_${l}`, [d, 1, 4]));
      nodes.push(
        node('Conv', [`x${l}_h`, `conv_${l}`], [`x${l}_c`], id(), { group: d }),
        node('CumSum', [`x${l}_c`, 'axis1'], [`x${l}_mix`], id()),
      );
    }
    nodes.push(node('MatMul', [`x${l}_mix`, `w_out_${l}`], [`x${l}_o`], id()));
    nodes.push(node('Add', [`x${l}_o`, stream], [`x${l}_r1`], id())); // branch first: operand order must not matter
    nodes.push(node('SimplifiedLayerNormalization', [`x${l}_r1`, `g2_${l}`], [`x${l}_n2`], id(), { axis: -1 }, ''));
    nodes.push(node('MatMul', [`x${l}_n2`, `w_up_${l}`], [`x${l}_u`], id()));
    nodes.push(node('Silu', [`x${l}_u`], [`x${l}_a`], id(), {}, MS));
    nodes.push(node('MatMul', [`x${l}_a`, `w_down_${l}`], [`x${l}_dn`], id()));
    nodes.push(node('Add', [`x${l}_r1`, `x${l}_dn`], [`x${l}_r2`], id()));
    stream = `x${l}_r2`;
  });
  inits.push({ name: 'axis1', dims: [], data_type: DataType.INT64, external_data: [], raw_data: new Uint8Array(8) });
  return model(
    graph(
      'hybrid',
      nodes,
      [valueInfo('inputs_embeds', DataType.FLOAT, ['b', 's', d])],
      [valueInfo(stream, DataType.FLOAT, ['b', 's', d])],
      inits,
    ),
    21,
    [{ domain: MS, version: 1 }],
  );
}
