import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeEditedGraph } from '../../src-main/core/onnx/edited-graph';
import { readModel, writeModel } from '../../src-main/core/onnx/model-io';
import { applySurgery, saeIdentityInputs, type SaeWeights } from '../../src-main/core/onnx/surgery';
import { discoverTowerTaps } from '../../src-main/core/onnx/taps';
import { validateModel } from '../../src-main/core/onnx/validate';
import { maxAbsDiff, runModel, type Feeds } from '../helpers/ort';
import { genaiFusedDecoder } from '../helpers/synthetic-graphs';
import { mulberry32, randn, tinyTransformer } from '../helpers/tiny-transformer';
import { gemmaGraphsDir, tmpDir } from '../helpers/tmp';

const GEMMA = gemmaGraphsDir();
const B = 2;
const S = 5;
const D = 16;

function fixture() {
  const dir = tmpDir();
  const { model, weights } = tinyTransformer({ layers: 2, d: D, dff: 32, vocab: 24, seed: 11 });
  const file = path.join(dir, 'decoder.onnx');
  writeModel(model, file);
  const embeds = randn(mulberry32(3), B * S * D, 1);
  return { dir, file, weights, feeds: { inputs_embeds: { dims: [B, S, D], data: embeds } } as Feeds };
}

function randomSae(dSae: number, architecture: SaeWeights['architecture'] = 'topk', seed = 5): SaeWeights {
  const r = mulberry32(seed);
  return {
    architecture,
    dIn: D,
    dSae,
    W_enc: randn(r, D * dSae, 0.3),
    b_enc: randn(r, dSae, 0.1),
    W_dec: randn(r, dSae * D, 0.3),
    b_dec: randn(r, D, 0.1),
    threshold: architecture === 'jumprelu' ? Float32Array.from({ length: dSae }, () => 0.05) : undefined,
    k: architecture === 'topk' ? 4 : undefined,
    applyBDecToInput: true,
  };
}

function layerNorm(x: Float32Array, g: Float32Array, b: Float32Array, d: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let row = 0; row < x.length / d; row++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[row * d + i]!;
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[row * d + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + 1e-5);
    for (let i = 0; i < d; i++) out[row * d + i] = (x[row * d + i]! - mean) * inv * g[i]! + b[i]!;
  }
  return out;
}

function matmul(x: Float32Array, w: Float32Array, n: number, m: number): Float32Array {
  const rows = x.length / n;
  const out = new Float32Array(rows * m);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[r * n + i]! * w[i * m + j]!;
      out[r * m + j] = s;
    }
  return out;
}

const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-4; use a series/continued fraction split.
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    1 -
    t *
      Math.exp(
        -x * x -
          1.26551223 +
          t *
            (1.00002368 +
              t *
                (0.37409196 +
                  t *
                    (0.09678418 +
                      t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
}

describe('graph surgery on a runnable model', () => {
  it('exposes taps whose values match a manual re-computation', async () => {
    const { dir, file, weights, feeds } = fixture();
    const edited = writeEditedGraph(
      file,
      {
        expose: [
          'blocks.0.hook_resid_pre',
          'blocks.0.hook_resid_mid',
          'blocks.0.hook_mlp_in',
          'blocks.0.hook_mlp_out',
          'blocks.0.hook_resid_post',
          'blocks.1.hook_resid_post',
        ],
      },
      { cacheDir: dir },
    );
    const out = await runModel(edited.path, feeds);
    const base = await runModel(file, feeds);
    expect(maxAbsDiff(out.logits!.data, base.logits!.data)).toBe(0);
    const l0 = weights.layers[0]!;
    expect(maxAbsDiff(out['blocks.0.hook_resid_pre']!.data, feeds.inputs_embeds!.data)).toBe(0);
    // mlp_in = LN2(resid_mid); mlp_out = Gelu(mlp_in W1) W2; resid_post = resid_mid + mlp_out
    const mid = out['blocks.0.hook_resid_mid']!.data;
    const mlpIn = layerNorm(mid, l0.g2, l0.b2, D);
    expect(maxAbsDiff(out['blocks.0.hook_mlp_in']!.data, mlpIn)).toBeLessThan(1e-4);
    const h = matmul(mlpIn, l0.W1, D, 32).map(gelu);
    const mlpOut = matmul(h, l0.W2, 32, D);
    expect(maxAbsDiff(out['blocks.0.hook_mlp_out']!.data, mlpOut)).toBeLessThan(1e-4);
    expect(
      maxAbsDiff(
        out['blocks.0.hook_resid_post']!.data,
        mid.map((v, i) => v + mlpOut[i]!),
      ),
    ).toBeLessThan(1e-4);
    // logits = LN_f(final resid_post) Wu
    const logits = matmul(layerNorm(out['blocks.1.hook_resid_post']!.data, weights.gf, weights.bf, D), weights.Wu, D, 24);
    expect(maxAbsDiff(out.logits!.data, logits)).toBeLessThan(1e-4);
  });

  it('an identity SAE edit reproduces the logits within 1e-5, for every architecture', async () => {
    const { dir, file, feeds } = fixture();
    const base = await runModel(file, feeds);
    for (const arch of ['topk', 'relu', 'jumprelu'] as const) {
      const sae = randomSae(48, arch);
      const edited = writeEditedGraph(file, { saeEdits: [{ id: 'a', tap: 'blocks.0.hook_resid_post', sae }] }, { cacheDir: dir });
      const out = await runModel(edited.path, { ...feeds, ...saeIdentityInputs('a', 48, B, S) });
      expect(maxAbsDiff(out.logits!.data, base.logits!.data), arch).toBeLessThan(1e-5);
    }
  });

  it('an SAE edit that zeroes features changes the logits exactly as (f(z) - z) W_dec predicts', async () => {
    const { dir, file, feeds } = fixture();
    const sae = randomSae(48, 'relu');
    const edited = writeEditedGraph(
      file,
      { saeEdits: [{ id: 'a', tap: 'blocks.1.hook_resid_post', sae }], expose: ['blocks.1.hook_resid_post'] },
      { cacheDir: dir },
    );
    const plain = writeEditedGraph(file, { expose: ['blocks.1.hook_resid_post'] }, { cacheDir: dir });
    const before = (await runModel(plain.path, feeds))['blocks.1.hook_resid_post']!.data;
    const inputs = saeIdentityInputs('a', 48, B, S);
    inputs['sae.a.scale']!.data.fill(0); // zero-ablate every feature: x - decode(z) + b_dec  (error term kept)
    const after = (await runModel(edited.path, { ...feeds, ...inputs }))['blocks.1.hook_resid_post']!.data;
    const centered = before.map((v, i) => v - sae.b_dec[i % D]!);
    const z = matmul(centered, sae.W_enc, D, 48).map((v, i) => Math.max(0, v + sae.b_enc[i % 48]!));
    const recon = matmul(z, sae.W_dec, 48, D);
    const expected = before.map((v, i) => v - recon[i]!);
    expect(maxAbsDiff(after, expected)).toBeLessThan(1e-4);
    expect(maxAbsDiff(after, before)).toBeGreaterThan(1e-2);
  });

  it('splicing (keep_error 0) makes the tap the SAE reconstruction; output_scale 0 zero-ablates it, only where the position mask is 1', async () => {
    const { dir, file, feeds } = fixture();
    const sae = randomSae(48, 'relu');
    const edited = writeEditedGraph(
      file,
      { saeEdits: [{ id: 'a', tap: 'blocks.1.hook_resid_post', sae }], expose: ['blocks.1.hook_resid_post'] },
      { cacheDir: dir },
    );
    const plain = writeEditedGraph(file, { expose: ['blocks.1.hook_resid_post'] }, { cacheDir: dir });
    const before = (await runModel(plain.path, feeds))['blocks.1.hook_resid_post']!.data;
    const centered = before.map((v, i) => v - sae.b_dec[i % D]!);
    const z = matmul(centered, sae.W_enc, D, 48).map((v, i) => Math.max(0, v + sae.b_enc[i % 48]!));
    const recon = matmul(z, sae.W_dec, 48, D).map((v, i) => v + sae.b_dec[i % D]!);
    const spliceInputs = saeIdentityInputs('a', 48, B, S);
    spliceInputs['sae.a.keep_error']!.data.fill(0);
    const spliced = (await runModel(edited.path, { ...feeds, ...spliceInputs }))['blocks.1.hook_resid_post']!.data;
    expect(maxAbsDiff(spliced, recon)).toBeLessThan(1e-4);
    const zeroInputs = saeIdentityInputs('a', 48, B, S);
    zeroInputs['sae.a.output_scale']!.data.fill(0);
    zeroInputs['sae.a.position_mask']!.data.fill(0, 0, S); // first row untouched
    const zeroed = (await runModel(edited.path, { ...feeds, ...zeroInputs }))['blocks.1.hook_resid_post']!.data;
    expect(maxAbsDiff(zeroed.slice(0, S * D), before.slice(0, S * D))).toBeLessThan(1e-5);
    expect(Math.max(...Array.from(zeroed.slice(S * D), Math.abs))).toBe(0);
  });

  it('a steering vector changes logits deterministically; a zero vector does not', async () => {
    const { dir, file, feeds } = fixture();
    const edited = writeEditedGraph(file, { steer: ['blocks.0.hook_resid_post'] }, { cacheDir: dir });
    expect(edited.addedInputs).toEqual(['steer.blocks.0.hook_resid_post']);
    const base = await runModel(file, feeds);
    const zero = await runModel(edited.path, {
      ...feeds,
      'steer.blocks.0.hook_resid_post': { dims: [1, 1, D], data: new Float32Array(D) },
    });
    expect(maxAbsDiff(zero.logits!.data, base.logits!.data)).toBe(0);
    const v = randn(mulberry32(9), D, 2);
    const s1 = await runModel(edited.path, { ...feeds, 'steer.blocks.0.hook_resid_post': { dims: [1, 1, D], data: v } });
    const s2 = await runModel(edited.path, { ...feeds, 'steer.blocks.0.hook_resid_post': { dims: [1, 1, D], data: v } });
    expect(maxAbsDiff(s1.logits!.data, base.logits!.data)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(s1.logits!.data, s2.logits!.data)).toBe(0);
  });

  it('caches edited graphs by content hash and keeps weights shared', () => {
    const { dir, file } = fixture();
    const first = writeEditedGraph(file, { expose: ['blocks.1.hook_resid_mid'] }, { cacheDir: dir });
    const second = writeEditedGraph(file, { expose: ['blocks.1.hook_resid_mid'] }, { cacheDir: dir });
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.path).toBe(first.path);
    expect(path.dirname(first.path)).toBe(dir);
    const other = writeEditedGraph(file, { expose: ['blocks.0.hook_resid_mid'] }, { cacheDir: dir });
    expect(other.path).not.toBe(first.path);
  });

  it('refuses an SAE whose width does not match the tap, naming both', () => {
    const { model } = tinyTransformer({ layers: 1, d: D });
    const tower = discoverTowerTaps(model.graph, '')!;
    const sae = { ...randomSae(8), dIn: 12, W_enc: new Float32Array(12 * 8), W_dec: new Float32Array(12 * 8), b_dec: new Float32Array(12) };
    expect(() => applySurgery(model, tower, { saeEdits: [{ id: 'x', tap: 'blocks.0.hook_resid_post', sae }] })).toThrow(
      /SAE d_in 12 does not match blocks.0.hook_resid_post width 16/,
    );
    expect(() => applySurgery(model, tower, { expose: ['blocks.9.hook_resid_post'] })).toThrow(/Unknown tap 'blocks.9.hook_resid_post'/);
  });
});

describe('graph surgery on graphs that cannot run here', () => {
  it('edits the real Gemma-3 decoder into graphs that validate, sharing its external data', () => {
    const cache = tmpDir();
    const spec = {
      expose: ['blocks.12.hook_resid_post', 'blocks.33.hook_resid_post'],
      steer: ['blocks.20.hook_resid_post'],
      saeEdits: [
        {
          id: 'g',
          tap: 'blocks.12.hook_resid_post',
          sae: {
            ...randomSae(64, 'jumprelu'),
            dIn: 2560,
            W_enc: new Float32Array(2560 * 64),
            W_dec: new Float32Array(64 * 2560),
            b_dec: new Float32Array(2560),
          },
        },
      ],
    };
    // The graph is read through a link in a read-only temp folder: the fixture folder is never written,
    // whatever its permissions, and the edited graph lands in the cache beside links to the weights.
    const source = tmpDir();
    fs.symlinkSync(path.join(GEMMA, 'decoder_model_merged.onnx'), path.join(source, 'decoder_model_merged.onnx'));
    fs.chmodSync(source, 0o555);
    const edited = writeEditedGraph(path.join(source, 'decoder_model_merged.onnx'), spec, { cacheDir: cache });
    fs.chmodSync(source, 0o755); // so the temp folder can be removed after the test
    expect(edited.path.startsWith(cache)).toBe(true);
    const model = readModel(edited.path);
    validateModel(model);
    expect(model.graph.output.map((o) => o.name)).toEqual(
      expect.arrayContaining(['logits', 'blocks.12.hook_resid_post', 'blocks.33.hook_resid_post']),
    );
    expect(model.graph.input.map((i) => i.name)).toEqual(
      expect.arrayContaining(['steer.blocks.20.hook_resid_post', 'sae.g.scale', 'sae.g.position_mask']),
    );
    for (const link of ['decoder_model_merged.onnx_data']) {
      const p = path.join(path.dirname(edited.path), link);
      if (fs.existsSync(path.join(GEMMA, link)) || fs.lstatSync(p, { throwIfNoEntry: false }))
        expect(fs.lstatSync(p).isSymbolicLink()).toBe(true);
    }
    const saeData = fs.readdirSync(path.dirname(edited.path)).find((f) => f.endsWith('.sae.onnx_data'))!;
    expect(fs.statSync(path.join(path.dirname(edited.path), saeData)).size).toBeGreaterThanOrEqual((2560 * 64 * 2 + 64 * 2 + 2560) * 4);
  });

  it('names the unnamed residual sum of a fused norm when a tap there is used; an edit there unfuses it, keeping fp16 with casts', () => {
    const m = genaiFusedDecoder(3, 32);
    const tower = discoverTowerTaps(m.graph, '')!;
    const exposed = applySurgery(m, tower, { expose: ['blocks.2.hook_resid_post'] });
    const fused = exposed.model.graph.node.find((n) => n.output[3] === 'ocular/blocks.2.hook_resid_post');
    expect(fused?.op_type).toBe('SkipSimplifiedLayerNormalization');
    validateModel(exposed.model);
    // Steered, the final norm must read the steered sum: the fused node becomes Add + SimplifiedLayerNormalization.
    const result = applySurgery(m, tower, { expose: ['blocks.2.hook_resid_post'], steer: ['blocks.2.hook_resid_post'] });
    const nodes = result.model.graph.node;
    expect(nodes.find((n) => n.output[0] === 'ocular/blocks.2.hook_resid_post')?.op_type).toBe('Add');
    const norm = nodes.find((n) => n.output[0] === 'final_norm')!;
    expect(norm.op_type).toBe('SimplifiedLayerNormalization');
    expect(norm.input).toEqual(['ocular/steer.blocks.2.hook_resid_post/out', 'g_final']);
    expect(nodes.some((n) => n.op_type === 'Cast')).toBe(true);
    validateModel(result.model);
  });

  it('validation catches a type mismatch and a use before definition', () => {
    const m = genaiFusedDecoder(1, 32);
    const broken = structuredClone(m);
    broken.graph.node.unshift({ op_type: 'Add', input: ['inputs_embeds', 'later'], output: ['x'], name: 'bad', domain: '', attribute: [] });
    expect(() => validateModel(broken)).toThrow(/uses 'later' before it is defined/);
    const { model } = tinyTransformer({ layers: 1, d: D });
    const mixed = structuredClone(model);
    mixed.graph.input.push({ name: 'half', type: { tensor_type: { elem_type: 10, shape: { dim: [{ dim_value: D }] } } } });
    mixed.graph.node.push({ op_type: 'Add', input: ['logits', 'half'], output: ['y'], name: 'mix', domain: '', attribute: [] });
    mixed.graph.value_info.push({ name: 'logits', type: { tensor_type: { elem_type: 1 } } });
    expect(() => validateModel(mixed)).toThrow(/mixes element types float32 and float16/);
  });
});
