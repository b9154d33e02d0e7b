/**
 * Graph-only models in the export styles tap discovery must handle: the onnxruntime-genai builder's
 * fused SkipSimplifiedLayerNormalization + GroupQueryAttention + MatMulNBits, quantized
 * MatMulInteger/DynamicQuantizeLinear with plain Adds, and a hybrid with recurrent mixer layers;
 * and one runnable decoder with its mixers inside If / Loop / Scan bodies.
 * Names are deliberately unhelpful so discovery has to rely on structure.
 */
import { floatTensor, graph, int64Tensor, model, node, valueInfo } from '../../src-main/core/onnx/builder';
import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';
import { mulberry32, randn } from './tiny-transformer';

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

export type ControlFlowMixer = 'if' | 'loop' | 'scan' | 'attention';

/**
 * A runnable decoder whose token mixers sit in control flow, the way real exports put a gated
 * delta-net's recurrence in an If (prefill / decode branches). Weights are inline and seeded.
 *   - 'if': an If on the graph input `decode` (not computed from the stream: only the branches' outer-scope
 *     reads connect it to the stream). Both branches are elementwise, like a delta-net's decode step:
 *     state = past_state.L * decay + h, y = state * sigmoid(h) + c * x (x, the block's input, read from the
 *     outer scope), with present_state.L as a graph output.
 *   - 'loop': a Loop (2 iterations) accumulating tanh(n W) from the outer scope.
 *   - 'scan': a Scan over the sequence with state s_t = s_{t-1}/2 + h_t, initial state `scan_state.L` [b, d].
 *   - 'attention': plain softmax self-attention.
 * Each is followed by an output projection, the residual Add, a LayerNorm -> Relu MLP and the second Add.
 */
export function controlFlowDecoder(mixers: ControlFlowMixer[], d: number, seed = 3): ModelProto {
  const rand = mulberry32(seed);
  const w = (name: string, dims: number[], scale: number, offset = 0) =>
    floatTensor(
      name,
      dims,
      randn(
        rand,
        dims.reduce((a, b) => a * b, 1),
        scale,
      ).map((v) => v + offset),
    );
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [int64Tensor('two', [], [2]), floatTensor('zero', [], [0])];
  const inputs = [valueInfo('inputs_embeds', DataType.FLOAT, ['b', 's', d]), valueInfo('decode', DataType.BOOL, [])];
  const outputs: ValueInfoProto[] = [];
  let x = 'inputs_embeds';
  mixers.forEach((kind, l) => {
    const p = `L${l}`;
    inits.push(
      w(`${p}.g1`, [d], 0.1, 1),
      w(`${p}.b1`, [d], 0.1),
      w(`${p}.g2`, [d], 0.1, 1),
      w(`${p}.b2`, [d], 0.1),
      w(`${p}.Wm`, [d, d], 1 / Math.sqrt(d)),
      w(`${p}.Wo`, [d, d], 1 / Math.sqrt(d)),
      w(`${p}.Wu`, [d, 2 * d], 1 / Math.sqrt(d)),
      w(`${p}.Wd`, [2 * d, d], 1 / Math.sqrt(2 * d)),
    );
    nodes.push(
      node('LayerNormalization', [x, `${p}.g1`, `${p}.b1`], [`${p}/n`], `${p}/ln1`, { axis: -1 }),
      node('MatMul', [`${p}/n`, `${p}.Wm`], [`${p}/h`], `${p}/proj_in`),
    );
    const mix = `${p}/mix`;
    if (kind === 'if') {
      inits.push(floatTensor(`${p}.c`, [], [0.5]));
      inputs.push(valueInfo(`past_state.${l}`, DataType.FLOAT, ['b', 1, d]));
      outputs.push(valueInfo(`present_state.${l}`, DataType.FLOAT, null));
      const branch = (name: string, decay: number): GraphProto => {
        const q = `${p}/${name}`;
        return graph(
          name,
          [
            node('Constant', [], [`${q}/decay`], `${q}/decay`, { value: { tensor: floatTensor(`${q}/decay_t`, [], [decay]) } }),
            node('Mul', [`past_state.${l}`, `${q}/decay`], [`${q}/decayed`], `${q}/decayed`),
            node('Add', [`${q}/decayed`, `${p}/h`], [`${q}/state`], `${q}/state`),
            node('Sigmoid', [`${p}/h`], [`${q}/gate`], `${q}/gate`),
            node('Mul', [`${q}/state`, `${q}/gate`], [`${q}/gated`], `${q}/gated`),
            node('Mul', [x, `${p}.c`], [`${q}/skip`], `${q}/skip`),
            node('Add', [`${q}/gated`, `${q}/skip`], [`${q}/y`], `${q}/y`),
          ],
          [],
          [valueInfo(`${q}/y`, DataType.FLOAT, null), valueInfo(`${q}/state`, DataType.FLOAT, null)],
        );
      };
      nodes.push(
        node('If', ['decode'], [mix, `present_state.${l}`], `${p}/If`, {
          then_branch: { graph: branch('then', 0.9) },
          else_branch: { graph: branch('else', 0.5) },
        }),
      );
    } else if (kind === 'loop') {
      nodes.push(
        node('Mul', [`${p}/h`, 'zero'], [`${p}/acc0`], `${p}/acc0`),
        node('Loop', ['two', '', `${p}/acc0`], [mix], `${p}/Loop`, {
          body: {
            graph: graph(
              'body',
              [
                node('Identity', [`${p}/cond_in`], [`${p}/cond_out`], `${p}/cond`),
                node('Tanh', [`${p}/h`], [`${p}/t`], `${p}/tanh`),
                node('Add', [`${p}/acc_in`, `${p}/t`], [`${p}/acc_out`], `${p}/acc`),
              ],
              [
                valueInfo(`${p}/iter`, DataType.INT64, []),
                valueInfo(`${p}/cond_in`, DataType.BOOL, []),
                valueInfo(`${p}/acc_in`, DataType.FLOAT, null),
              ],
              [valueInfo(`${p}/cond_out`, DataType.BOOL, []), valueInfo(`${p}/acc_out`, DataType.FLOAT, null)],
            ),
          },
        }),
      );
    } else if (kind === 'scan') {
      inputs.push(valueInfo(`scan_state.${l}`, DataType.FLOAT, ['b', d]));
      nodes.push(
        node('Scan', [`scan_state.${l}`, `${p}/h`], [`${p}/last`, mix], `${p}/Scan`, {
          num_scan_inputs: 1,
          scan_input_axes: [1],
          scan_output_axes: [1],
          body: {
            graph: graph(
              'body',
              [
                node('Constant', [], [`${p}/half`], `${p}/half`, { value: { tensor: floatTensor(`${p}/half_t`, [], [0.5]) } }),
                node('Mul', [`${p}/s_in`, `${p}/half`], [`${p}/s_half`], `${p}/s_half`),
                node('Add', [`${p}/s_half`, `${p}/x_t`], [`${p}/s_out`], `${p}/s_out`),
                node('Identity', [`${p}/s_out`], [`${p}/y_t`], `${p}/y_t`),
              ],
              [valueInfo(`${p}/s_in`, DataType.FLOAT, ['b', d]), valueInfo(`${p}/x_t`, DataType.FLOAT, ['b', d])],
              [valueInfo(`${p}/s_out`, DataType.FLOAT, ['b', d]), valueInfo(`${p}/y_t`, DataType.FLOAT, ['b', d])],
            ),
          },
        }),
      );
    } else {
      nodes.push(
        node('Transpose', [`${p}/h`], [`${p}/hT`], `${p}/hT`, { perm: [0, 2, 1] }),
        node('MatMul', [`${p}/h`, `${p}/hT`], [`${p}/scores`], `${p}/scores`),
        node('Softmax', [`${p}/scores`], [`${p}/probs`], `${p}/softmax`, { axis: -1 }),
        node('MatMul', [`${p}/probs`, `${p}/h`], [mix], `${p}/attend`),
      );
    }
    nodes.push(
      node('MatMul', [mix, `${p}.Wo`], [`${p}/o`], `${p}/proj_out`),
      node('Add', [x, `${p}/o`], [`${p}/r1`], `${p}/add1`),
      node('LayerNormalization', [`${p}/r1`, `${p}.g2`, `${p}.b2`], [`${p}/n2`], `${p}/ln2`, { axis: -1 }),
      node('MatMul', [`${p}/n2`, `${p}.Wu`], [`${p}/u`], `${p}/up`),
      node('Relu', [`${p}/u`], [`${p}/a`], `${p}/act`),
      node('MatMul', [`${p}/a`, `${p}.Wd`], [`${p}/dn`], `${p}/down`),
      node('Add', [`${p}/r1`, `${p}/dn`], [`${p}/r2`], `${p}/add2`),
    );
    x = `${p}/r2`;
  });
  inits.push(w('gf', [d], 0.1, 1), w('bf', [d], 0.1));
  nodes.push(node('LayerNormalization', [x, 'gf', 'bf'], ['out'], 'final_norm', { axis: -1 }));
  return model(graph('control-flow', nodes, inputs, [valueInfo('out', DataType.FLOAT, ['b', 's', d]), ...outputs], inits), 21);
}
