import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, externalDataLocations, readModel } from '../../src-main/core/onnx/model-io';
import { discoverTowerTaps } from '../../src-main/core/onnx/taps';
import { DataType } from '../../src-main/core/onnx/schema';
import { controlFlowDecoder, genaiFusedDecoder, hybridDecoder, quantizedDecoder } from '../helpers/synthetic-graphs';
import { tinyTransformer } from '../helpers/tiny-transformer';
import { gemmaGraphsDir, qwen35GraphsDir, repoRoot } from '../helpers/tmp';

const GEMMA = gemmaGraphsDir();
const QWEN35 = qwen35GraphsDir();
const TINY = path.join(repoRoot, 'test', 'fixtures', 'vlm');

describe('ONNX graph I/O', () => {
  it('reads a real export graph without its weights and writes it back intact', () => {
    const file = path.join(GEMMA, 'decoder_model_merged.onnx');
    const model = readModel(file);
    expect(model.graph.node.length).toBe(773);
    expect(externalDataLocations(model).length).toBeGreaterThan(0);
    const again = decodeModel(encodeModel(model));
    expect(again.graph.node.length).toBe(model.graph.node.length);
    expect(again.graph.initializer.map((t) => t.external_data.map((e) => `${e.key}=${e.value}`).join(','))).toEqual(
      model.graph.initializer.map((t) => t.external_data.map((e) => `${e.key}=${e.value}`).join(',')),
    );
    // Re-encoding is stable: the writer keeps every field the reader saw.
    expect(Buffer.from(encodeModel(again)).equals(Buffer.from(encodeModel(model)))).toBe(true);
    expect(Math.abs(encodeModel(model).length - fs.statSync(file).size)).toBeLessThan(fs.statSync(file).size * 0.01);
  });

  it('names the problem for a file that is not ONNX', () => {
    expect(() => decodeModel(Buffer.from('definitely not protobuf \u00ff\u00ff\u00ff'), 'bad.onnx')).toThrow(
      /bad.onnx is not (a valid ONNX model|an ONNX model)/,
    );
  });
});

describe('tap discovery on the real Gemma-3-4B-it export', () => {
  it('finds exactly 34 decoder resid_post taps in order, width 2560 (not 35: the final norm is named layers.34)', () => {
    const tower = discoverTowerTaps(readModel(path.join(GEMMA, 'decoder_model_merged.onnx')).graph, '')!;
    const post = tower.taps.filter((t) => t.hook === 'hook_resid_post');
    expect(post.map((t) => t.name)).toEqual(Array.from({ length: 34 }, (_, i) => `blocks.${i}.hook_resid_post`));
    expect(post.every((t) => t.width === 2560)).toBe(true);
    expect(post.map((t) => t.ref.tensor)).toEqual(Array.from({ length: 34 }, (_, i) => `/model/layers.${i}/Add_2/output_0`));
    expect(tower.layers).toBe(34);
    expect(tower.width).toBe(2560);
    expect(tower.taps.find((t) => t.name === 'blocks.0.hook_resid_pre')!.ref.tensor).toBe('inputs_embeds');
    expect(tower.taps.find((t) => t.name === 'blocks.5.hook_mlp_in')!.ref.tensor).toBe(
      '/model/layers.5/pre_feedforward_layernorm/output_0',
    );
    expect(tower.sublayerKinds.every((k) => k.join() === 'attention,mlp')).toBe(true);
  });

  it('finds exactly 27 vision resid_post taps, width 1152 (not 28: the post-layernorm is named layers.27)', () => {
    const tower = discoverTowerTaps(readModel(path.join(GEMMA, 'vision_encoder.onnx')).graph, 'vision.')!;
    const post = tower.taps.filter((t) => t.hook === 'hook_resid_post');
    expect(post.map((t) => t.name)).toEqual(Array.from({ length: 27 }, (_, i) => `vision.blocks.${i}.hook_resid_post`));
    expect(post.every((t) => t.width === 1152)).toBe(true);
    expect(tower.width).toBe(1152);
  });
});

describe('tap discovery on the real Qwen3.5 hybrid export (gated delta-net inside If, every fourth layer full attention)', () => {
  const decoder = readModel(path.join(QWEN35, 'onnx', 'decoder_model_merged_quantized.onnx'));
  const config = JSON.parse(fs.readFileSync(path.join(QWEN35, 'config.json'), 'utf8')) as { text_config: { layer_types: string[] } };
  const tap = (tower: ReturnType<typeof discoverTowerTaps>, name: string) => tower!.taps.find((t) => t.name === name)!.ref;

  it('finds 24 decoder blocks at width 1024, not 42: the If holding the recurrence is the first half of its block', () => {
    const tower = discoverTowerTaps(decoder.graph, '')!;
    expect(tower.layers).toBe(24);
    expect(tower.width).toBe(1024);
    expect(tower.sublayerKinds.map((k) => k.join())).toEqual(
      config.text_config.layer_types.map((t) => (t === 'linear_attention' ? 'recurrent,mlp' : 'attention,mlp')),
    );
    // Every block has all six hooks, and each block starts where the previous one ended.
    for (let l = 0; l < 24; l++) {
      const hooks = tower.taps.filter((t) => t.layer === l).map((t) => t.hook);
      expect(hooks.sort(), `block ${l}`).toEqual([
        'hook_attn_out',
        'hook_mlp_in',
        'hook_mlp_out',
        'hook_resid_mid',
        'hook_resid_post',
        'hook_resid_pre',
      ]);
      if (l > 0) expect(tap(tower, `blocks.${l}.hook_resid_pre`)).toEqual(tap(tower, `blocks.${l - 1}.hook_resid_post`));
    }
    expect(tower.taps.every((t) => t.width === 1024)).toBe(true);
  });

  it('puts each hook of a linear-attention block on the tensor read off the graph by hand', () => {
    const tower = discoverTowerTaps(decoder.graph, '')!;
    // Block 0: input_layernorm -> in_proj_{qkv,z,b,a} -> If(is_decode){conv + delta rule} -> out_proj,
    // joined by layer 0's post_attention_layernorm (fused Skip norm: output 3 the sum, output 0 the MLP input).
    expect(tap(tower, 'blocks.0.hook_resid_pre').tensor).toBe('inputs_embeds');
    expect(tap(tower, 'blocks.0.hook_attn_out').tensor).toBe('/model/layers.0/gdn/out_proj/MatMul/output_0');
    expect(tap(tower, 'blocks.0.hook_resid_mid')).toMatchObject({
      tensor: '/model/layers.0/post_attention_layernorm/output_3',
      node: '/model/layers.0/post_attention_layernorm/SkipLayerNorm',
      output: 3,
    });
    expect(tap(tower, 'blocks.0.hook_mlp_in')).toMatchObject({ tensor: '/model/layers.0/post_attention_layernorm/output_0', output: 0 });
    expect(tap(tower, 'blocks.0.hook_mlp_out').tensor).toBe('/model/layers.0/mlp/down_proj/MatMul/output_0');
    expect(tap(tower, 'blocks.0.hook_resid_post')).toMatchObject({ tensor: '/model/layers.1/input_layernorm/output_3', output: 3 });
    expect(tap(tower, 'blocks.2.hook_attn_out').tensor).toBe('/model/layers.2/gdn/out_proj/MatMul/output_0');
    expect(tap(tower, 'blocks.22.hook_resid_mid').tensor).toBe('/model/layers.22/post_attention_layernorm/output_3');
  });

  it('puts each hook of a full-attention block on the tensor read off the graph by hand', () => {
    const tower = discoverTowerTaps(decoder.graph, '')!;
    expect(tap(tower, 'blocks.3.hook_resid_pre').tensor).toBe('/model/layers.3/input_layernorm/output_3');
    expect(tap(tower, 'blocks.3.hook_attn_out').tensor).toBe('/model/layers.3/attn/o_proj/MatMul/output_0');
    expect(tap(tower, 'blocks.3.hook_resid_mid').tensor).toBe('/model/layers.3/post_attention_layernorm/output_3');
    expect(tap(tower, 'blocks.3.hook_mlp_in').tensor).toBe('/model/layers.3/post_attention_layernorm/output_0');
    expect(tap(tower, 'blocks.3.hook_mlp_out').tensor).toBe('/model/layers.3/mlp/down_proj/MatMul/output_0');
    expect(tap(tower, 'blocks.3.hook_resid_post').tensor).toBe('/model/layers.4/input_layernorm/output_3');
    // The last residual sum is output 3 of the final norm (named layers.24), which the export leaves unnamed.
    expect(tap(tower, 'blocks.23.hook_attn_out').tensor).toBe('/model/layers.23/attn/o_proj/MatMul/output_0');
    expect(tap(tower, 'blocks.23.hook_resid_post')).toMatchObject({
      tensor: null,
      node: '/model/layers.24/final_norm_layernorm/SkipLayerNorm',
      output: 3,
    });
  });

  it('finds 12 vision blocks at width 768, each hook on the tensor read off the graph by hand', () => {
    const vision = discoverTowerTaps(readModel(path.join(QWEN35, 'onnx', 'vision_encoder_quantized.onnx')).graph, 'vision.')!;
    expect(vision.layers).toBe(12);
    expect(vision.width).toBe(768);
    expect(vision.sublayerKinds.every((k) => k.join() === 'attention,mlp')).toBe(true);
    const expected = (l: number) => ({
      'vision.blocks.L.hook_resid_pre': l === 0 ? '/model/pos_embed/Add/output_0' : `/model/layers.${l - 1}/Add_MLP/output_0`,
      'vision.blocks.L.hook_attn_out': `/model/layers.${l}/attn/proj/Add/output_0`,
      'vision.blocks.L.hook_resid_mid': `/model/layers.${l}/Add_Attn/output_0`,
      'vision.blocks.L.hook_mlp_in': `/model/layers.${l}/norm2_layernorm/output_0`,
      'vision.blocks.L.hook_mlp_out': `/model/layers.${l}/mlp/linear_fc2/Add/output_0`,
      'vision.blocks.L.hook_resid_post': `/model/layers.${l}/Add_MLP/output_0`,
    });
    for (const l of [0, 5, 11])
      for (const [name, tensor] of Object.entries(expected(l))) expect(tap(vision, name.replace('.L.', `.${l}.`)).tensor).toBe(tensor);
  });
});

describe('tap discovery through control flow (If, Loop, Scan)', () => {
  it('counts a branch inside an If / Loop / Scan body as what it computes, outer-scope reads included', () => {
    // The If's only explicit input is a graph flag: the stream reaches it through its branches' outer-scope reads.
    const tower = discoverTowerTaps(controlFlowDecoder(['if', 'attention', 'loop', 'scan'], 8).graph, '')!;
    expect(tower.layers).toBe(4);
    expect(tower.sublayerKinds.map((k) => k.join())).toEqual(['recurrent,mlp', 'attention,mlp', 'recurrent,mlp', 'recurrent,mlp']);
    for (let l = 0; l < 4; l++) {
      expect(tower.taps.find((t) => t.name === `blocks.${l}.hook_attn_out`)!.ref.tensor).toBe(`L${l}/o`);
      expect(tower.taps.find((t) => t.name === `blocks.${l}.hook_resid_mid`)!.ref.tensor).toBe(`L${l}/r1`);
      expect(tower.taps.find((t) => t.name === `blocks.${l}.hook_mlp_in`)!.ref.tensor).toBe(`L${l}/n2`);
      expect(tower.taps.find((t) => t.name === `blocks.${l}.hook_resid_post`)!.ref.tensor).toBe(`L${l}/r2`);
    }
    expect(tower.width).toBe(8);
  });

  it('a mixer written in elementwise ops inside an If counts as recurrent because it carries state (cache in, cache out)', () => {
    // Without the state it would read as an MLP (Sigmoid, Mul, Add) and split the block in two.
    const m = controlFlowDecoder(['if', 'if'], 8);
    expect(discoverTowerTaps(m.graph, '')!.sublayerKinds.map((k) => k.join())).toEqual(['recurrent,mlp', 'recurrent,mlp']);
  });
});

describe('tap discovery across export styles', () => {
  it('onnxruntime-genai builder: fused SkipSimplifiedLayerNormalization, GroupQueryAttention, MatMulNBits', () => {
    const tower = discoverTowerTaps(genaiFusedDecoder(4, 64).graph, '')!;
    expect(tower.layers).toBe(4);
    expect(tower.width).toBe(64);
    const post = tower.taps.filter((t) => t.hook === 'hook_resid_post');
    expect(post.map((t) => t.ref.output)).toEqual([3, 3, 3, 3]);
    expect(post.map((t) => t.ref.tensor)).toEqual(['t0_sum2', 't1_sum2', 't2_sum2', null]); // the last sum is unnamed in the export
    expect(tower.taps.find((t) => t.name === 'blocks.2.hook_resid_mid')!.ref.tensor).toBe('t2_sum1');
    expect(tower.taps.find((t) => t.name === 'blocks.2.hook_mlp_in')!.ref.tensor).toBe('t2_mlp_in');
    expect(tower.taps.find((t) => t.name === 'blocks.2.hook_mlp_out')!.ref.tensor).toBe('t2_down');
    expect(tower.sublayerKinds.every((k) => k.join() === 'attention,mlp')).toBe(true);
  });

  it('dynamic int8 quantization: DynamicQuantizeLinear + MatMulInteger', () => {
    const tower = discoverTowerTaps(quantizedDecoder(3, 32).graph, '')!;
    expect(tower.layers).toBe(3);
    expect(tower.taps.filter((t) => t.hook === 'hook_resid_post').map((t) => t.ref.tensor)).toEqual(['r0_post', 'r1_post', 'r2_post']);
    expect(tower.taps.find((t) => t.name === 'blocks.1.hook_mlp_in')!.ref.tensor).toBe('m1_n');
  });

  it('hybrid recurrent/attention layers, with the branch as the first Add operand', () => {
    const tower = discoverTowerTaps(hybridDecoder(['recurrent', 'recurrent', 'attention', 'recurrent'], 16).graph, '')!;
    expect(tower.layers).toBe(4);
    expect(tower.sublayerKinds.map((k) => k.join())).toEqual(['recurrent,mlp', 'recurrent,mlp', 'attention,mlp', 'recurrent,mlp']);
    expect(tower.taps.filter((t) => t.hook === 'hook_resid_post').map((t) => t.ref.tensor)).toEqual(['x0_r2', 'x1_r2', 'x2_r2', 'x3_r2']);
    // The token mixer's output is hook_attn_out whether it is softmax attention or a recurrence.
    expect(tower.taps.find((t) => t.name === 'blocks.0.hook_attn_out')!.ref.tensor).toBe('x0_o');
    expect(tower.taps.find((t) => t.name === 'blocks.2.hook_attn_out')!.ref.tensor).toBe('x2_o');
  });

  it('optimum-style plain Adds with unfused attention; width from the norm when no shapes are declared', () => {
    const tower = discoverTowerTaps(tinyTransformer({ layers: 3, d: 16 }).model.graph, '')!;
    expect(tower.layers).toBe(3);
    expect(tower.width).toBe(16);
    expect(tower.taps.filter((t) => t.hook === 'hook_resid_post').map((t) => t.ref.tensor)).toEqual([
      '/model/layers.0/resid_post',
      '/model/layers.1/resid_post',
      '/model/layers.2/resid_post',
    ]);
  });

  it('a position embedding sized from the patch embeddings (reads only their shape) is no sublayer: tiny Idefics3 with splitting', () => {
    const file = path.join(TINY, 'tiny-idefics3-split', 'onnx', 'vision_encoder.onnx');
    const tower = discoverTowerTaps(readModel(file).graph, 'vision.')!;
    expect(tower.layers).toBe(2);
    expect(tower.sublayerKinds.map((k) => k.join())).toEqual(['attention,mlp', 'attention,mlp']);
    // The stream starts after the position embedding is added, as in transformers' Idefics3VisionEmbeddings.
    expect(tower.taps.find((t) => t.name === 'vision.blocks.0.hook_resid_pre')!.ref.tensor).toBe('/Add_output_0');
    expect(tower.taps.find((t) => t.name === 'vision.blocks.1.hook_resid_post')!.ref.tensor).toBe('/encoder/layers.1/Add_1_output_0');
  });

  it('width from the projections when the graph declares no shapes (Gemm with transB: tiny Qwen2.5-VL / Qwen3-VL vision)', () => {
    for (const family of ['tiny-qwen2_5_vl', 'tiny-qwen3_vl', 'tiny-idefics3-split']) {
      const file = path.join(TINY, family, 'onnx', 'vision_encoder.onnx');
      const tower = discoverTowerTaps(readModel(file).graph, 'vision.')!;
      expect(tower.width, family).toBe(32);
      for (const t of tower.taps.filter((x) => x.hook !== 'hook_mlp_in')) expect(t.width, `${family} ${t.name}`).toBe(32);
    }
  });

  it('reports fp16 element types', () => {
    const m = genaiFusedDecoder(2, 32, DataType.FLOAT16);
    const tower = discoverTowerTaps(m.graph, '')!;
    expect(tower.taps.find((t) => t.name === 'blocks.0.hook_resid_post')!.shape).toEqual(['batch_size', 'sequence_length', 32]);
  });
});
