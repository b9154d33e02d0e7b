/**
 * SAEs written by the libraries' own save code (test/fixtures/sae-libs, tools/make_sae_fixtures.py:
 * SAELens 6.18 and 5.11, sparsify 1.3), each with what the library itself computes on fixed inputs.
 * Ocular must compute the same feature activations and reconstructions in its reference maths, in
 * the analysis encoder graph and in the SAE edit spliced into a model, or refuse the file by name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analysisEncodeGraph } from '../../src-main/core/analysis/encode-graph';
import { writeEditedGraph } from '../../src-main/core/onnx/edited-graph';
import { writeModel } from '../../src-main/core/onnx/model-io';
import { saeIdentityInputs } from '../../src-main/core/onnx/surgery';
import { decode, encode, featureActivations } from '../../src-main/core/sae/sae-encode';
import { importSae, type SaeFile } from '../../src-main/core/sae/sae-io';
import { readSafetensors } from '../../src-main/core/sae/safetensors';
import { maxAbsDiff, runModel } from '../helpers/ort';
import { mulberry32, randn, tinyTransformer } from '../helpers/tiny-transformer';
import { repoRoot, tmpDir } from '../helpers/tmp';

const LIBS = path.join(repoRoot, 'test', 'fixtures', 'sae-libs');
const TOL = 2e-4;

type Expect = Partial<
  Pick<
    SaeFile,
    'architecture' | 'dSae' | 'dOut' | 'k' | 'dtype' | 'format' | 'normalizeActivations' | 'hookName' | 'modelName' | 'applyBDecToInput'
  >
> & {
  folded?: RegExp;
  skip?: boolean;
};

const IMPORTED: Record<string, Expect> = {
  'saelens6-standard-f32': {
    architecture: 'relu',
    dSae: 48,
    dtype: 'float32',
    hookName: 'blocks.0.hook_resid_post',
    modelName: 'ocular-demo-vlm',
  },
  'saelens6-standard-bf16': { architecture: 'relu', dtype: 'bfloat16' },
  'saelens6-square-f32': { architecture: 'relu', dSae: 16 },
  'saelens6-topk-f16': { architecture: 'topk', k: 5, dtype: 'float16' },
  'saelens6-topk-rescale-f32': { architecture: 'topk', k: 5, folded: /rescale_acts_by_decoder_norm/ },
  'saelens6-jumprelu-f32': { architecture: 'jumprelu' },
  'saelens6-gated-f32': { architecture: 'gated' },
  'saelens6-layernorm-f32': { architecture: 'relu', normalizeActivations: 'layer_norm' },
  'saelens6-constnorm-f32': { architecture: 'relu', normalizeActivations: 'constant_norm_rescale' },
  'saelens6-transcoder-f32': { architecture: 'relu', dOut: 24, applyBDecToInput: false },
  'saelens6-skip-transcoder-f32': { architecture: 'relu', dOut: 24, skip: true },
  'saelens6-jumprelu-transcoder-f32': { architecture: 'jumprelu', dOut: 24 },
  'saelens6-batchtopk-checkpoint-f32': {
    architecture: 'jumprelu',
    folded: /rescale_acts_by_decoder_norm.*batchtopk checkpoint as JumpReLU/,
  },
  'saelens6-matryoshka-checkpoint-f32': { architecture: 'jumprelu', folded: /matryoshka_batchtopk checkpoint as JumpReLU/ },
  'saelens6-topk-checkpoint-f32': { architecture: 'topk', k: 5, folded: /rescale_acts_by_decoder_norm/ },
  'saelens6-expected-average-checkpoint-f32': {
    architecture: 'relu',
    normalizeActivations: 'none',
    folded: /expected_average_only_in \(scale 0.0625\)/,
  },
  'saelens5-finetuning-scale-f32': {
    architecture: 'relu',
    folded: /finetuning_scaling_factor/,
    hookName: 'blocks.3.hook_resid_pre',
    modelName: 'gpt2',
  },
  'saelens5-topk-bf16': { architecture: 'topk', k: 6, dtype: 'bfloat16' },
  'saelens5-jumprelu-f32': { architecture: 'jumprelu' },
  'saelens5-gated-f32': { architecture: 'gated' },
  'sparsify-topk-f32': { architecture: 'topk', k: 4, dSae: 64, format: 'sparsify', applyBDecToInput: true },
  'sparsify-topk-square-f32': { architecture: 'topk', k: 3, dSae: 16 },
  'sparsify-topk-bf16': { architecture: 'topk', k: 5, dSae: 40, dtype: 'bfloat16' },
  'sparsify-groupmax-f32': { architecture: 'groupmax', k: 4, dSae: 32 },
  'sparsify-transcoder-f32': { architecture: 'topk', dOut: 16, applyBDecToInput: false },
  'sparsify-skip-transcoder-f32': { architecture: 'topk', dOut: 16, skip: true },
  'sparsify-skip-sae-f32': { architecture: 'topk', skip: true, applyBDecToInput: true },
};

const REFUSED: Record<string, RegExp> = {
  'saelens6-hookz-f32': /reshape_activations "hook_z" is not supported/,
  'saelens5-tanhrelu-f32': /activation_fn 'tanh-relu' is not supported/,
};

function reference(name: string) {
  const t = readSafetensors(path.join(LIBS, name, 'reference.safetensors')).tensors;
  return { x: t.get('x')!.data, acts: t.get('acts')!.data, out: t.get('out')!.data };
}

describe('SAE files written by SAELens and sparsify', () => {
  it('every fixture is either expected to import or expected to be refused', () => {
    const all = fs.readdirSync(LIBS).filter((f) => fs.statSync(path.join(LIBS, f)).isDirectory());
    expect(all.sort()).toEqual([...Object.keys(IMPORTED), ...Object.keys(REFUSED)].sort());
  });

  for (const [name, want] of Object.entries(IMPORTED)) {
    it(`${name}: imports as the library wrote it and encodes / decodes as the library does`, () => {
      const sae = importSae(path.join(LIBS, name));
      const { folded, skip, ...fields } = want;
      expect(sae).toMatchObject(fields);
      if (folded) expect(sae.folded!.join('; ')).toMatch(folded);
      expect(Boolean(sae.W_skip)).toBe(Boolean(skip));
      if (want.dOut === undefined) expect(sae.dOut).toBeUndefined();
      const ref = reference(name);
      const acts = encode(sae, ref.x);
      expect(maxAbsDiff(acts, ref.acts)).toBeLessThan(TOL);
      expect(acts.some((v) => v > 0)).toBe(true);
      expect(maxAbsDiff(decode(sae, acts, ref.x), ref.out)).toBeLessThan(TOL);
    });
  }

  for (const [name, why] of Object.entries(REFUSED)) {
    it(`${name}: refused, naming the setting`, () => {
      expect(() => importSae(path.join(LIBS, name))).toThrow(why);
    });
  }

  it('the analysis encoder graph reproduces every library encode (sparse values and indices)', async () => {
    const dir = tmpDir();
    for (const name of Object.keys(IMPORTED)) {
      const sae = importSae(path.join(LIBS, name));
      const ref = reference(name);
      const rows = ref.x.length / sae.dIn;
      const file = path.join(dir, `${name}.onnx`);
      writeModel(analysisEncodeGraph(sae), file);
      const out = await runModel(file, {
        x: { dims: [rows, sae.dIn], data: ref.x },
        ...(sae.architecture === 'topk' ? {} : { img: { dims: [1, rows], data: new Float32Array(rows) } }),
      });
      const perRow = out.vals!.dims[1]!;
      const dense = new Float32Array(rows * sae.dSae);
      const idx = out.idx32!.data as unknown as Int32Array;
      for (let r = 0; r < rows; r++)
        for (let j = 0; j < perRow; j++) dense[r * sae.dSae + idx[r * perRow + j]!] = out.vals!.data[r * perRow + j]!;
      expect(maxAbsDiff(dense, ref.acts), name).toBeLessThan(TOL);
    }
  });

  it('feature pages recompute each feature from its encoder column as the library encodes it', () => {
    for (const name of Object.keys(IMPORTED)) {
      const sae = importSae(path.join(LIBS, name));
      const ref = reference(name);
      const rows = ref.x.length / sae.dIn;
      // TopK needs each row's k-th largest pre-activation, which the analysis stores; compute it here.
      const kth =
        sae.architecture === 'topk'
          ? Float32Array.from({ length: rows }, (_, r) => {
              const pre = Array.from({ length: sae.dSae }, (_, f) => {
                const one = featureActivations(
                  { ...sae, architecture: 'relu' },
                  f,
                  ref.x.subarray(r * sae.dIn, (r + 1) * sae.dIn),
                  null,
                )[0]!;
                return one;
              });
              return [...pre].sort((a, b) => b - a)[sae.k! - 1]!;
            })
          : null;
      if (sae.architecture === 'topk' && (kth ?? []).some((v) => v <= 0)) continue; // ReLU hides the k-th pre-activation when it is negative
      for (let f = 0; f < sae.dSae; f++) {
        const got = featureActivations(sae, f, ref.x, kth);
        const want = Float32Array.from({ length: rows }, (_, r) => ref.acts[r * sae.dSae + f]!);
        expect(maxAbsDiff(got, want), `${name} feature ${f}`).toBeLessThan(TOL);
      }
    }
  });

  it('spliced into a model, each SAE makes the tap its reconstruction (keep_error 0) and an identity edit changes nothing', async () => {
    const dir = tmpDir();
    const { model } = tinyTransformer({ layers: 1, d: 16, dff: 32, vocab: 24, seed: 11 });
    const file = path.join(dir, 'decoder.onnx');
    writeModel(model, file);
    const [B, S] = [2, 5];
    const feeds = { inputs_embeds: { dims: [B, S, 16], data: randn(mulberry32(3), B * S * 16, 2) } };
    const tap = 'blocks.0.hook_resid_post';
    const plain = writeEditedGraph(file, { expose: [tap] }, { cacheDir: dir });
    const base = await runModel(plain.path, feeds);
    const x = base[tap]!.data;
    for (const name of Object.keys(IMPORTED)) {
      const sae = importSae(path.join(LIBS, name));
      if (sae.dOut !== undefined) continue; // a transcoder cannot replace the tap it reads
      const edited = writeEditedGraph(file, { saeEdits: [{ id: 's', tap, sae }], expose: [tap] }, { cacheDir: dir });
      const identity = await runModel(edited.path, { ...feeds, ...saeIdentityInputs('s', sae.dSae, B, S) });
      expect(maxAbsDiff(identity.logits!.data, base.logits!.data), name).toBeLessThan(1e-5);
      const splice = saeIdentityInputs('s', sae.dSae, B, S);
      splice['sae.s.keep_error']!.data.fill(0);
      const spliced = await runModel(edited.path, { ...feeds, ...splice });
      expect(maxAbsDiff(spliced[tap]!.data, decode(sae, encode(sae, x), x)), name).toBeLessThan(TOL);
    }
  });

  it('refuses to splice a transcoder into the tap it reads', () => {
    const dir = tmpDir();
    const { model } = tinyTransformer({ layers: 1, d: 16, dff: 32, vocab: 24, seed: 11 });
    const file = path.join(dir, 'decoder.onnx');
    writeModel(model, file);
    const sae = importSae(path.join(LIBS, 'sparsify-transcoder-f32'));
    expect(() => writeEditedGraph(file, { saeEdits: [{ id: 's', tap: 'blocks.0.hook_resid_post', sae }] }, { cacheDir: dir })).toThrow(
      /A transcoder \(d_in 16, d_out 16\) cannot replace a single tap/,
    );
  });
});
