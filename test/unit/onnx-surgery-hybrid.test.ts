/**
 * Graph surgery where the token mixer lives in control flow: a synthetic decoder with If / Loop / Scan
 * mixers, and a runnable random-weight cut of the real Qwen3.5 hybrid decoder (gated delta-net in If
 * bodies, int8 MatMulInteger, fused SkipSimplifiedLayerNormalization, GroupQueryAttention).
 *
 * The Qwen3.5 model: the real graph file, cut after block 3 (three linear-attention blocks and one
 * full-attention block, node for node) by Ocular's own sliceToTensors, with random weights written at
 * the offsets the graph records (test/helpers/random-weights.ts). The whole graph runs the same way
 * (about 14 s and 1.4 GB per session here), too heavy for the several sessions these tests open.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatTensor, graph, model, node, valueInfo } from '../../src-main/core/onnx/builder';
import { writeEditedGraph } from '../../src-main/core/onnx/edited-graph';
import { readModel, writeModel, type ModelProto } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';
import { sliceToLogits, sliceToTensors } from '../../src-main/core/onnx/slice';
import { applySurgery, saeIdentityInputs, type SaeWeights } from '../../src-main/core/onnx/surgery';
import { discoverTowerTaps, type TowerTaps } from '../../src-main/core/onnx/taps';
import { validateModel } from '../../src-main/core/onnx/validate';
import { maxAbsDiff, runModel, type MixedFeeds as Feeds } from '../helpers/ort';
import { writeRunnableCopy } from '../helpers/random-weights';
import { controlFlowDecoder } from '../helpers/synthetic-graphs';
import { mulberry32, randn } from '../helpers/tiny-transformer';
import { qwen35GraphsDir, tmpDir } from '../helpers/tmp';

const QWEN35_DECODER = path.join(qwen35GraphsDir(), 'onnx', 'decoder_model_merged_quantized.onnx');

/** The If's chosen branch written inline: the same computation with no control flow, as a reference. */
function inlineIf(m: ModelProto, decode: boolean): ModelProto {
  const nodes = m.graph.node.flatMap((n) => {
    if (n.op_type !== 'If') return [n];
    const body = n.attribute.find((a) => a.name === (decode ? 'then_branch' : 'else_branch'))!.g!;
    return [...body.node, ...body.output.map((o, i) => node('Identity', [o.name], [n.output[i]!], `${n.name}/out${i}`))];
  });
  return { ...m, graph: { ...m.graph, node: nodes, input: m.graph.input.filter((i) => i.name !== 'decode') } };
}

describe('graph surgery through control flow', () => {
  const D = 8;
  const B = 2;
  const S = 3;
  const feeds = (l: number[], decode: boolean): Feeds => ({
    inputs_embeds: { dims: [B, S, D], data: randn(mulberry32(5), B * S * D, 1) },
    decode: new ort.Tensor('bool', [decode], []),
    ...Object.fromEntries(l.map((i) => [`past_state.${i}`, { dims: [B, 1, D], data: randn(mulberry32(6 + i), B * D, 1) }])),
  });

  it('steering the stream an If body reads from the outer scope steers it there too: equal to steering the input', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'cf.onnx');
    writeModel(controlFlowDecoder(['if', 'attention'], D), file);
    const edited = writeEditedGraph(file, { steer: ['blocks.0.hook_resid_pre'] }, { cacheDir: dir });
    const v = randn(mulberry32(9), D, 1);
    for (const decode of [false, true]) {
      const f = feeds([0], decode);
      const x = f.inputs_embeds as { dims: number[]; data: Float32Array };
      const steered = await runModel(edited.path, { ...f, 'steer.blocks.0.hook_resid_pre': { dims: [1, 1, D], data: v } });
      const reference = await runModel(file, { ...f, inputs_embeds: { dims: x.dims, data: x.data.map((e, i) => e + v[i % D]!) } });
      expect(maxAbsDiff(steered.out!.data, reference.out!.data)).toBe(0);
      expect(maxAbsDiff(steered['present_state.0']!.data, reference['present_state.0']!.data)).toBe(0);
    }
  });

  it('steering, exposing and an SAE edit at a tap a deeper If body reads match the same edits on the If written inline', async () => {
    const dir = tmpDir();
    const m = controlFlowDecoder(['attention', 'if'], D);
    const sae: SaeWeights = {
      architecture: 'relu',
      dIn: D,
      dSae: 16,
      W_enc: randn(mulberry32(1), D * 16, 0.5),
      b_enc: randn(mulberry32(2), 16, 0.1),
      W_dec: randn(mulberry32(3), 16 * D, 0.5),
      b_dec: randn(mulberry32(4), D, 0.1),
      applyBDecToInput: true,
    };
    const spec = {
      steer: ['blocks.1.hook_resid_pre'],
      saeEdits: [{ id: 's', tap: 'blocks.1.hook_resid_pre', sae }],
      expose: ['blocks.1.hook_resid_pre', 'blocks.1.hook_attn_out'],
    };
    const identity = saeIdentityInputs('s', 16, B, S);
    identity['sae.s.scale']!.data.fill(0.25);
    const inputs = {
      ...identity,
      'steer.blocks.1.hook_resid_pre': { dims: [1, 1, D], data: randn(mulberry32(8), D, 1) },
    };
    for (const decode of [false, true]) {
      const files = [m, inlineIf(m, decode)].map((g, i) => {
        const file = path.join(dir, `${decode}-${i}.onnx`);
        writeModel(g, file);
        return writeEditedGraph(file, spec, { cacheDir: dir }).path;
      });
      const [inControlFlow, inline] = await Promise.all(files.map((f) => runModel(f, { ...feeds([1], decode), ...inputs })));
      for (const name of ['out', 'present_state.1', 'blocks.1.hook_resid_pre', 'blocks.1.hook_attn_out'])
        expect(maxAbsDiff(inControlFlow![name]!.data, inline![name]!.data), name).toBeLessThan(1e-6);
      const plain = await runModel(path.join(dir, `${decode}-0.onnx`), feeds([1], decode));
      expect(maxAbsDiff(inControlFlow!.out!.data, plain.out!.data)).toBeGreaterThan(1e-3);
    }
  });

  it('the logits slice from a fused final norm computes what the whole graph does from that sum', async () => {
    // x -> h = x W; SkipSimplifiedLayerNormalization(h, x) -> (normed, -, -, unnamed sum); logits = normed U.
    const rand = mulberry32(4);
    const g = graph(
      'fused',
      [
        node('MatMul', ['inputs_embeds', 'W'], ['h'], 'proj'),
        node(
          'SkipSimplifiedLayerNormalization',
          ['h', 'inputs_embeds', 'gamma'],
          ['normed', '', '', ''],
          'final_norm',
          { epsilon: { float: 1e-6 } },
          'com.microsoft',
        ),
        node('MatMul', ['normed', 'U'], ['logits'], 'unembed'),
      ],
      [valueInfo('inputs_embeds', DataType.FLOAT, ['b', 's', D])],
      [valueInfo('logits', DataType.FLOAT, ['b', 's', 5])],
      [
        floatTensor('W', [D, D], randn(rand, D * D, 0.5)),
        floatTensor(
          'gamma',
          [D],
          randn(rand, D, 0.2).map((v) => 1 + v),
        ),
        floatTensor('U', [D, 5], randn(rand, D * 5, 0.5)),
      ],
    );
    const dir = tmpDir();
    const file = path.join(dir, 'fused.onnx');
    writeModel(model(g, 21, [{ domain: 'com.microsoft', version: 1 }]), file);
    const x = randn(mulberry32(5), B * S * D, 1);
    const withSum = writeEditedGraph(file, { expose: ['blocks.0.hook_resid_post'] }, { cacheDir: dir });
    const whole = await runModel(withSum.path, { inputs_embeds: { dims: [B, S, D], data: x } });
    const { model: sliced } = sliceToLogits(readModel(file));
    writeModel(sliced, path.join(dir, 'unembed.onnx'));
    const fromSum = await runModel(path.join(dir, 'unembed.onnx'), {
      'ocular/blocks.0.hook_resid_post': { dims: [B, S, D], data: whole['blocks.0.hook_resid_post']!.data },
    });
    expect(maxAbsDiff(fromSum.logits!.data, whole.logits!.data)).toBeLessThan(1e-5);
  });

  it('validation sees a body reading a tensor the outer graph defines only later', () => {
    const m = controlFlowDecoder(['if'], D);
    const at = m.graph.node.findIndex((n) => n.op_type === 'If');
    const [ifNode] = m.graph.node.splice(at, 1);
    m.graph.node.splice(1, 0, ifNode!); // before the MatMul whose output L0/h its branches read
    expect(() => validateModel(m)).toThrow(/L0\/If \(If\) uses 'L0\/h' before it is defined/);
  });
});

describe('graph surgery at linear-attention taps of the real Qwen3.5 decoder', () => {
  const full = readModel(QWEN35_DECODER);
  const fullTower = discoverTowerTaps(full.graph, '')!;

  it('expose, steer and SAE edits at linear-attention taps validate on the whole graph; a fused norm whose sum is edited is unfused', () => {
    const sae = randomSae(1024, 32, 3);
    const result = applySurgery(full, fullTower, {
      expose: ['blocks.0.hook_attn_out', 'blocks.1.hook_resid_mid', 'blocks.1.hook_mlp_in', 'blocks.23.hook_resid_post'],
      steer: ['blocks.1.hook_resid_mid', 'blocks.22.hook_resid_post'],
      saeEdits: [{ id: 'q', tap: 'blocks.2.hook_resid_mid', sae }],
    });
    validateModel(result.model);
    const nodes = result.model.graph.node;
    for (const layer of [1, 2]) {
      expect(nodes.some((n) => n.name === `/model/layers.${layer}/post_attention_layernorm/SkipLayerNorm`)).toBe(false);
      const norm = nodes.find((n) => n.output[0] === `/model/layers.${layer}/post_attention_layernorm/output_0`)!;
      expect(norm.op_type).toBe('SimplifiedLayerNormalization');
      expect(norm.input).toEqual([
        layer === 1 ? 'ocular/steer.blocks.1.hook_resid_mid/x_steered' : 'ocular/sae.q/x_edited',
        `model.layers.${layer}.post_attention_layernorm.weight`,
      ]);
      expect(norm.attribute.find((a) => a.name === 'epsilon')!.f).toBeCloseTo(1e-6, 12);
    }
    // Block 22's residual sum is output 3 of layer 23's input norm; the last block's sum stays fused (only exposed).
    expect(nodes.some((n) => n.name === '/model/layers.23/input_layernorm/SkipLayerNorm')).toBe(false);
    expect(nodes.find((n) => n.name === '/model/layers.24/final_norm_layernorm/SkipLayerNorm')!.output[3]).toBe(
      'ocular/blocks.23.hook_resid_post',
    );
    expect(result.addedOutputs).toContain('blocks.23.hook_resid_post');
  });

  it('logit effects slice from the last residual sum although the final norm fuses it (output 3, unnamed)', () => {
    const { model: sliced } = sliceToLogits(full);
    expect(sliced.graph.input.map((i) => i.name)).toEqual(['ocular/blocks.23.hook_resid_post']);
    expect(sliced.graph.node.map((n) => n.op_type)).toEqual([
      'SimplifiedLayerNormalization',
      'DynamicQuantizeLinear',
      'Mul',
      'MatMulInteger',
      'Cast',
      'Mul',
    ]);
    expect(sliced.graph.node[0]!.input).toEqual(['ocular/blocks.23.hook_resid_post', 'model.layers.24.final_norm_layernorm.weight']);
    validateModel(sliced);
  });

  describe('on a runnable cut (blocks 0-3 of the real graph, random weights at the recorded offsets)', () => {
    const B = 1;
    const S = 5;
    const W = 1024;
    let dir = '';
    let file = '';
    let cut: ModelProto;
    let tower: TowerTaps;

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-qwen35-'));
      const end = fullTower.taps.find((t) => t.name === 'blocks.3.hook_resid_post')!;
      cut = sliceToTensors(full, [valueInfo(end.ref.tensor!, DataType.FLOAT, ['batch_size', 'sequence_length', W])]);
      file = writeRunnableCopy(cut, dir, 'decoder.onnx');
      tower = discoverTowerTaps(cut.graph, '')!;
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Prefill feeds (empty caches), or a one-token decode step continuing from `past` (a prefill's outputs). */
    const feeds = (step: 'prefill' | 'decode', past?: Record<string, { dims: readonly number[]; data: Float32Array }>): Feeds => {
      const seq = step === 'prefill' ? S : 1;
      const total = step === 'prefill' ? S : S + 1;
      const f: Feeds = {
        inputs_embeds: { dims: [B, seq, W], data: randn(mulberry32(step === 'prefill' ? 11 : 12), B * seq * W, 1) },
        attention_mask: new ort.Tensor('int64', new BigInt64Array(B * total).fill(1n), [B, total]),
        position_ids: new ort.Tensor(
          'int64',
          BigInt64Array.from({ length: 3 * B * seq }, (_, i) => BigInt(total - seq + (i % seq))),
          [3, B, seq],
        ),
      };
      for (const input of cut.graph.input) {
        const name = input.name;
        if (name in f) continue;
        const present = name.replace('past_key_values.', 'present.').replace('past_', 'present_');
        if (past) f[name] = { dims: [...past[present]!.dims], data: past[present]!.data };
        else if (name.startsWith('past_conv')) f[name] = { dims: [B, 6144, 4], data: new Float32Array(B * 6144 * 4) };
        else if (name.startsWith('past_recurrent')) f[name] = { dims: [B, 16, 128, 128], data: new Float32Array(B * 16 * 128 * 128) };
        else f[name] = { dims: [B, 2, 0, 256], data: new Float32Array(0) };
      }
      return f;
    };
    const edit = (spec: Parameters<typeof writeEditedGraph>[1]) => writeEditedGraph(file, spec, { cacheDir: dir }).path;
    const stream = () => tower.taps.find((t) => t.name === 'blocks.3.hook_resid_post')!.ref.tensor!;
    /** The weights the helper wrote for an initializer, read back from the external-data file. */
    const weight = (name: string): Float32Array => {
      const t = cut.graph.initializer.find((i) => i.name === name)!;
      const ext = Object.fromEntries(t.external_data.map((e) => [e.key, e.value]));
      const bytes = Buffer.alloc(Number(ext.length));
      const fd = fs.openSync(path.join(dir, ext.location!), 'r');
      fs.readSync(fd, bytes, 0, bytes.length, Number(ext.offset));
      fs.closeSync(fd);
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    };

    it('is the real graph node for node: the same taps on the same tensors for blocks 0-3, three linear-attention blocks and one full', () => {
      expect(tower.layers).toBe(4);
      expect(tower.sublayerKinds.map((k) => k.join())).toEqual(['recurrent,mlp', 'recurrent,mlp', 'recurrent,mlp', 'attention,mlp']);
      const refs = (t: TowerTaps) => t.taps.filter((x) => x.layer < 4).map((x) => `${x.name}=${x.ref.tensor}`);
      expect(refs(tower)).toEqual(refs(fullTower));
      const names = new Set(cut.graph.node.map((n) => n.name));
      expect(full.graph.node.filter((n) => names.has(n.name)).length).toBe(cut.graph.node.length);
      expect(cut.graph.node.filter((n) => n.op_type === 'If').length).toBe(3);
    });

    it('exposed taps read the stream exactly; resid_mid = resid_pre + attn_out in a linear-attention block; nothing else changes', async () => {
      const base = await runModel(file, feeds('prefill'));
      const exposed = await runModel(
        edit({ expose: ['blocks.1.hook_resid_pre', 'blocks.1.hook_attn_out', 'blocks.1.hook_resid_mid', 'blocks.3.hook_resid_post'] }),
        feeds('prefill'),
      );
      for (const [name, value] of Object.entries(base)) expect(maxAbsDiff(exposed[name]!.data, value.data), name).toBe(0);
      expect(maxAbsDiff(exposed['blocks.3.hook_resid_post']!.data, base[stream()]!.data)).toBe(0);
      const pre = exposed['blocks.1.hook_resid_pre']!.data;
      const attn = exposed['blocks.1.hook_attn_out']!.data;
      expect(
        maxAbsDiff(
          exposed['blocks.1.hook_resid_mid']!.data,
          pre.map((v, i) => v + attn[i]!),
        ),
      ).toBeLessThan(1e-4);
      expect(Math.max(...Array.from(attn, Math.abs))).toBeGreaterThan(1e-2);
    });

    it('steering a linear-attention block’s fused residual sum reaches its MLP input: mlp_in = RMSNorm(resid_mid + v) * gamma', async () => {
      const base = await runModel(file, feeds('prefill'));
      const steered = edit({ steer: ['blocks.1.hook_resid_mid'], expose: ['blocks.1.hook_resid_mid', 'blocks.1.hook_mlp_in'] });
      const zero = await runModel(steered, {
        ...feeds('prefill'),
        'steer.blocks.1.hook_resid_mid': { dims: [1, 1, W], data: new Float32Array(W) },
      });
      expect(maxAbsDiff(zero[stream()]!.data, base[stream()]!.data)).toBeLessThan(1e-4);
      const v = randn(mulberry32(21), W, 0.5);
      const out = await runModel(steered, { ...feeds('prefill'), 'steer.blocks.1.hook_resid_mid': { dims: [1, 1, W], data: v } });
      const mid = out['blocks.1.hook_resid_mid']!.data;
      expect(
        maxAbsDiff(
          mid,
          zero['blocks.1.hook_resid_mid']!.data.map((x, i) => x + v[i % W]!),
        ),
      ).toBeLessThan(1e-5);
      const gamma = weight('model.layers.1.post_attention_layernorm.weight');
      const expected = new Float32Array(mid.length);
      for (let r = 0; r < mid.length / W; r++) {
        let ms = 0;
        for (let i = 0; i < W; i++) ms += mid[r * W + i]! ** 2;
        const inv = 1 / Math.sqrt(ms / W + 1e-6);
        for (let i = 0; i < W; i++) expected[r * W + i] = mid[r * W + i]! * inv * gamma[i]!;
      }
      expect(maxAbsDiff(out['blocks.1.hook_mlp_in']!.data, expected)).toBeLessThan(1e-4);
      // Caches of earlier layers are untouched; the next linear-attention layer's state moves.
      expect(maxAbsDiff(out['present_recurrent.1']!.data, base['present_recurrent.1']!.data)).toBe(0);
      expect(maxAbsDiff(out['present_recurrent.2']!.data, base['present_recurrent.2']!.data)).toBeGreaterThan(1e-4);
    });

    it('an SAE edit at a linear-attention mixer’s output keeps the error term (identity: unchanged; f = 0: x − decode(z) + b_dec), in prefill and decode', async () => {
      const sae = randomSae(W, 64, 7);
      const tap = 'blocks.2.hook_attn_out';
      const edited = edit({ saeEdits: [{ id: 'q', tap, sae }], expose: [tap] });
      const plain = edit({ expose: [tap] });
      const prefillBase = await runModel(plain, feeds('prefill'));
      for (const step of ['prefill', 'decode'] as const) {
        const f = step === 'prefill' ? feeds('prefill') : feeds('decode', prefillBase);
        const seq = step === 'prefill' ? S : 1;
        const base = step === 'prefill' ? prefillBase : await runModel(plain, f);
        const identity = await runModel(edited, { ...f, ...saeIdentityInputs('q', 64, B, seq) });
        expect(maxAbsDiff(identity[stream()]!.data, base[stream()]!.data), step).toBeLessThan(1e-4);
        expect(maxAbsDiff(identity['present_recurrent.2']!.data, base['present_recurrent.2']!.data), step).toBe(0);
        const zeroed = saeIdentityInputs('q', 64, B, seq);
        zeroed['sae.q.scale']!.data.fill(0);
        const out = await runModel(edited, { ...f, ...zeroed });
        const x = base[tap]!.data;
        const z = matmul(
          x.map((v, i) => v - sae.b_dec[i % W]!),
          sae.W_enc,
          W,
          64,
        ).map((v, i) => Math.max(0, v + sae.b_enc[i % 64]!));
        const recon = matmul(z, sae.W_dec, 64, W);
        expect(
          maxAbsDiff(
            out[tap]!.data,
            x.map((v, i) => v - recon[i]!),
          ),
          step,
        ).toBeLessThan(1e-4);
        expect(maxAbsDiff(out[stream()]!.data, base[stream()]!.data), step).toBeGreaterThan(1e-3);
      }
    });
  });
});

function randomSae(dIn: number, dSae: number, seed: number): SaeWeights {
  const r = mulberry32(seed);
  return {
    architecture: 'relu',
    dIn,
    dSae,
    W_enc: randn(r, dIn * dSae, 1 / Math.sqrt(dIn)),
    b_enc: randn(r, dSae, 0.1),
    W_dec: randn(r, dSae * dIn, 0.1),
    b_dec: randn(r, dIn, 0.1),
    applyBDecToInput: true,
  };
}

function matmul(x: Float32Array, w: Float32Array, n: number, m: number): Float32Array {
  const out = new Float32Array((x.length / n) * m);
  for (let r = 0; r < x.length / n; r++)
    for (let i = 0; i < n; i++) {
      const xv = x[r * n + i]!;
      if (xv !== 0) for (let j = 0; j < m; j++) out[r * m + j] = out[r * m + j]! + xv * w[i * m + j]!;
    }
  return out;
}
