import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, externalDataLocations, readModel } from '../../src-main/core/onnx/model-io';
import { discoverTowerTaps } from '../../src-main/core/onnx/taps';
import { DataType } from '../../src-main/core/onnx/schema';
import { genaiFusedDecoder, hybridDecoder, quantizedDecoder } from '../helpers/synthetic-graphs';
import { tinyTransformer } from '../helpers/tiny-transformer';
import { gemmaGraphsDir } from '../helpers/tmp';

const GEMMA = gemmaGraphsDir();

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
    expect(tower.taps.some((t) => t.name === 'blocks.0.hook_attn_out')).toBe(false);
    expect(tower.taps.some((t) => t.name === 'blocks.2.hook_attn_out')).toBe(true);
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

  it('reports fp16 element types', () => {
    const m = genaiFusedDecoder(2, 32, DataType.FLOAT16);
    const tower = discoverTowerTaps(m.graph, '')!;
    expect(tower.taps.find((t) => t.name === 'blocks.0.hook_resid_post')!.shape).toEqual(['batch_size', 'sequence_length', 32]);
  });
});
