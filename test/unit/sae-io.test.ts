import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode, exportSae, importSae, writeSaeFolder, type SaeFile } from '../../src-main/core/sae/sae-io';
import type { SaeArchitecture } from '../../src-main/core/sae/sae-model';
import { readSafetensors, readSafetensorsHeader, readTensor, writeSafetensors } from '../../src-main/core/sae/safetensors';
import { runCli } from '../helpers/cli';
import { maxAbsDiff } from '../helpers/ort';
import { mulberry32, randn } from '../helpers/tiny-transformer';
import { repoRoot, tmpDir } from '../helpers/tmp';

const LIBS = path.join(repoRoot, 'test', 'fixtures', 'sae-libs');
const D_IN = 12;
const D_SAE = 40;

function randomSae(architecture: SaeArchitecture, extra: Partial<SaeFile> = {}): Omit<SaeFile, 'format'> {
  const r = mulberry32(3);
  const dOut = extra.dOut ?? D_IN;
  return {
    architecture,
    dIn: D_IN,
    dSae: D_SAE,
    k: architecture === 'topk' || architecture === 'groupmax' ? 5 : undefined,
    W_enc: randn(r, D_IN * D_SAE, 0.4),
    b_enc: randn(r, D_SAE, 0.1),
    W_dec: randn(r, D_SAE * dOut, 0.4),
    b_dec: randn(r, dOut, 0.1),
    threshold: architecture === 'jumprelu' ? Float32Array.from({ length: D_SAE }, (_, i) => 0.02 * (i % 5)) : undefined,
    ...(architecture === 'gated' ? { b_gate: randn(r, D_SAE, 0.1), r_mag: randn(r, D_SAE, 0.2) } : {}),
    applyBDecToInput: extra.dOut === undefined,
    hookName: 'blocks.1.hook_resid_post',
    modelName: 'ocular-demo-vlm',
    ...extra,
  };
}

const read = (dir: string, file = 'cfg.json') => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
const weightsOf = (s: Omit<SaeFile, 'format'>) =>
  [s.W_enc, s.b_enc, s.W_dec, s.b_dec, s.threshold, s.b_gate, s.r_mag, s.W_skip].map((a) => (a ? Array.from(a) : null));

describe('the workspace copy (a SAELens folder) reads back exactly', () => {
  const variants: Array<[string, Omit<SaeFile, 'format'>]> = [
    ['relu', randomSae('relu')],
    ['topk', randomSae('topk')],
    ['jumprelu', randomSae('jumprelu')],
    ['gated', randomSae('gated')],
    ['groupmax (sparsify)', randomSae('groupmax')],
    ['layer_norm', randomSae('relu', { normalizeActivations: 'layer_norm' })],
    ['constant_norm_rescale', randomSae('jumprelu', { normalizeActivations: 'constant_norm_rescale' })],
    ['TopK transcoder', randomSae('topk', { dOut: 7, hookNameOut: 'blocks.1.hook_mlp_out' })],
    ['skip transcoder', randomSae('relu', { dOut: 7, hookNameOut: null, W_skip: randn(mulberry32(8), 7 * D_IN, 0.2) })],
    ['TopK SAE with a skip connection', randomSae('topk', { W_skip: randn(mulberry32(8), D_IN * D_IN, 0.2) })],
  ];
  for (const [name, sae] of variants) {
    it(name, () => {
      const dir = path.join(tmpDir(), 'sae');
      writeSaeFolder(sae, dir);
      const back = importSae(dir);
      expect(weightsOf(back)).toEqual(weightsOf(sae));
      const fields = (s: Omit<SaeFile, 'format'>) => ({
        architecture: s.architecture,
        dims: [s.dIn, s.dSae, s.dOut],
        k: s.k,
        applyBDecToInput: s.applyBDecToInput,
        normalizeActivations: s.normalizeActivations ?? 'none',
        taps: [s.hookName, s.hookNameOut],
        modelName: s.modelName,
      });
      expect(fields(back)).toEqual(fields(sae));
      const x = randn(mulberry32(9), 7 * D_IN, 1);
      expect(maxAbsDiff(encode(back, x), encode(sae, x))).toBe(0);
    });
  }
});

describe('workspace copies written by earlier Ocular versions', () => {
  it('read back with their taps, as JumpReLU where they were labelled batchtopk', () => {
    const dir = tmpDir();
    const sae = randomSae('jumprelu');
    writeSafetensors(path.join(dir, 'sae_weights.safetensors'), {
      W_enc: { shape: [D_IN, D_SAE], data: sae.W_enc },
      b_enc: { shape: [D_SAE], data: sae.b_enc },
      W_dec: { shape: [D_SAE, D_IN], data: sae.W_dec },
      b_dec: { shape: [D_IN], data: sae.b_dec },
      threshold: { shape: [D_SAE], data: sae.threshold! },
    });
    // The cfg.json Ocular wrote before metadata.sae_lens_version was set.
    fs.writeFileSync(
      path.join(dir, 'cfg.json'),
      JSON.stringify({
        architecture: 'batchtopk',
        d_in: D_IN,
        d_sae: D_SAE,
        k: 5,
        apply_b_dec_to_input: true,
        normalize_activations: 'none',
        dtype: 'float32',
        device: 'cpu',
        reshape_activations: 'none',
        metadata: {
          hook_name: 'blocks.1.hook_resid_post',
          model_name: 'ocular-demo-vlm',
          hook_head_index: null,
          prepend_bos: true,
          exported_by: 'ocular',
        },
      }),
    );
    const back = importSae(dir);
    expect(back).toMatchObject({ architecture: 'jumprelu', hookName: 'blocks.1.hook_resid_post', modelName: 'ocular-demo-vlm' });
    const x = randn(mulberry32(9), 7 * D_IN, 1);
    expect(maxAbsDiff(encode(back, x), encode(sae, x))).toBe(0);
  });
});

describe('export: a folder SAELens 6 loads', () => {
  // SAELens's own inference folders: export after import gives back its cfg.json and weights byte for byte.
  for (const name of [
    'saelens6-standard-f32',
    'saelens6-standard-bf16',
    'saelens6-topk-f16',
    'saelens6-jumprelu-f32',
    'saelens6-gated-f32',
    'saelens6-layernorm-f32',
    'saelens6-transcoder-f32',
    'saelens6-skip-transcoder-f32',
    'saelens6-jumprelu-transcoder-f32',
  ])
    it(`${name}: cfg.json (every metadata field) and sae_weights.safetensors come back as SAELens wrote them`, () => {
      const out = path.join(tmpDir(), 'export');
      exportSae(importSae(path.join(LIBS, name)), out);
      expect(read(out)).toEqual(read(path.join(LIBS, name)));
      expect(
        fs
          .readFileSync(path.join(out, 'sae_weights.safetensors'))
          .equals(fs.readFileSync(path.join(LIBS, name, 'sae_weights.safetensors'))),
      ).toBe(true);
    });

  it('a SAELens 5 file exports with a 6.x config: sae_lens_version set and every pre-6 metadata field kept', () => {
    const out = path.join(tmpDir(), 'export');
    exportSae(importSae(path.join(LIBS, 'saelens5-topk-bf16')), out);
    const cfg = read(out);
    expect(cfg).toMatchObject({
      architecture: 'topk',
      k: 6,
      dtype: 'bfloat16',
      rescale_acts_by_decoder_norm: false,
      apply_b_dec_to_input: true,
    });
    expect(cfg.metadata).toEqual({
      sae_lens_version: '6.18.0',
      sae_lens_training_version: '5.11.0',
      exported_by: 'ocular',
      model_name: 'gpt2',
      hook_name: 'blocks.3.hook_resid_pre',
      hook_layer: 3,
      hook_head_index: null,
      prepend_bos: true,
      dataset_path: 'Skylion007/openwebtext',
      context_size: 128,
      neuronpedia_id: null,
      model_from_pretrained_kwargs: {},
      seqpos_slice: [null],
    });
    expect(readSafetensorsHeader(path.join(out, 'sae_weights.safetensors')).tensors.get('W_enc')!.dtype).toBe('BF16');
  });

  it('BatchTopK and Matryoshka checkpoints export as the JumpReLU SAE SAELens saves for inference, never as batchtopk', () => {
    for (const name of ['saelens6-batchtopk-checkpoint-f32', 'saelens6-matryoshka-checkpoint-f32']) {
      const out = path.join(tmpDir(), 'export');
      exportSae(importSae(path.join(LIBS, name)), out);
      expect(read(out).architecture).toBe(fs.readFileSync(path.join(LIBS, name, 'inference-architecture.txt'), 'utf8').trim());
      expect([...readSafetensorsHeader(path.join(out, 'sae_weights.safetensors')).tensors.keys()].sort()).toEqual([
        'W_dec',
        'W_enc',
        'b_dec',
        'b_enc',
        'threshold',
      ]);
    }
  });

  it('weights a fold made unrepresentable in the SAE dtype are written as float32, never rounded', () => {
    const sae = importSae(path.join(LIBS, 'saelens6-standard-bf16'));
    const out = path.join(tmpDir(), 'export');
    exportSae({ ...sae, W_dec: sae.W_dec.map((v) => v / 3) }, out);
    expect(read(out).dtype).toBe('float32');
    expect(readSafetensorsHeader(path.join(out, 'sae_weights.safetensors')).tensors.get('W_dec')!.dtype).toBe('F32');
  });

  it('refuses a non-empty folder (a sparsify folder keeps its cfg.json), a file, and architectures SAELens has no class for', () => {
    const sparsify = path.join(tmpDir(), 'sparsify');
    fs.cpSync(path.join(LIBS, 'sparsify-topk-f32'), sparsify, { recursive: true });
    const cfgBefore = fs.readFileSync(path.join(sparsify, 'cfg.json'));
    const sae = importSae(path.join(LIBS, 'saelens6-standard-f32'));
    expect(() => exportSae(sae, sparsify)).toThrow(/is not empty; choose an empty or new folder/);
    expect(fs.readFileSync(path.join(sparsify, 'cfg.json')).equals(cfgBefore)).toBe(true);
    const file = path.join(tmpDir(), 'sae.json');
    fs.writeFileSync(file, '{}');
    expect(() => exportSae(sae, file)).toThrow(/is a file; export writes a folder/);
    const empty = tmpDir();
    exportSae(sae, empty);
    expect(fs.readdirSync(empty).sort()).toEqual(['cfg.json', 'sae_weights.safetensors']);
    for (const [name, why] of [
      ['sparsify-groupmax-f32', /no class for a groupmax activation/],
      ['sparsify-transcoder-f32', /no class for a topk transcoder/],
      ['sparsify-skip-sae-f32', /no class for an SAE with a skip connection/],
    ] as const) {
      const out = path.join(tmpDir(), 'x');
      expect(() => exportSae(importSae(path.join(LIBS, name)), out)).toThrow(why);
      expect(fs.existsSync(out)).toBe(false);
    }
  });
});

describe('safetensors', () => {
  it('reads F16, BF16 and F64 tensors and writes F32, F16 and BF16 exactly', () => {
    const dir = tmpDir();
    const file = path.join(dir, 't.safetensors');
    // 1.0, -2.0, 0.5 in float16, bfloat16 and float64
    const f16 = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer);
    const bf16 = Buffer.from(new Uint16Array([0x3f80, 0xc000, 0x3f00]).buffer);
    const f64 = Buffer.from(new Float64Array([1, -2, 0.5]).buffer);
    const header = Buffer.from(
      JSON.stringify({
        a: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
        b: { dtype: 'BF16', shape: [3], data_offsets: [6, 12] },
        c: { dtype: 'F64', shape: [3], data_offsets: [12, 36] },
      }),
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([len, header, f16, bf16, f64]));
    const { tensors } = readSafetensors(file);
    for (const n of ['a', 'b', 'c']) expect(Array.from(tensors.get(n)!.data)).toEqual([1, -2, 0.5]);
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      writeSafetensors(path.join(dir, `copy-${dtype}.safetensors`), { a: tensors.get('a')! }, { source: 'test' }, dtype);
      const again = readSafetensors(path.join(dir, `copy-${dtype}.safetensors`));
      expect(Array.from(again.tensors.get('a')!.data)).toEqual([1, -2, 0.5]);
      expect(again.metadata).toEqual({ source: 'test' });
    }
  });

  it('streams files over 2 GiB: tensors past the 2 GiB mark read by offset, a NaN in one refused by name', async () => {
    // A 4096 x 131072 bf16 SAE (an ordinary size) is 2 GiB; a sparse file holds it without using the disk.
    const dir = tmpDir();
    const [dIn, dSae] = [4096, 131072];
    const header: Record<string, unknown> = {};
    let at = 0;
    const layout: Array<[string, number[]]> = [
      ['W_dec', [dSae, dIn]],
      ['W_enc', [dIn, dSae]],
      ['b_dec', [dIn]],
      ['b_enc', [dSae]],
    ];
    for (const [name, shape] of layout) {
      const bytes = 2 * shape.reduce((a, b) => a * b, 1);
      header[name] = { dtype: 'BF16', shape, data_offsets: [at, at + bytes] };
      at += bytes;
    }
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const file = path.join(dir, 'sae_weights.safetensors');
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, Buffer.concat([len, json]), 0, 8 + json.length, 0);
    const bDec = (header.b_dec as { data_offsets: number[] }).data_offsets[0]!;
    const oneTwo = Buffer.from(new Uint16Array([0x3f80, 0x4000]).buffer); // 1.0, 2.0 in bf16
    fs.writeSync(fd, oneTwo, 0, 4, 8 + json.length + bDec);
    fs.ftruncateSync(fd, 8 + json.length + at);
    fs.closeSync(fd);
    expect(fs.statSync(file).size).toBeGreaterThan(2 ** 31);

    const h = readSafetensorsHeader(file);
    const b = readTensor(h, 'b_dec', { finite: true });
    expect(Array.from(b.data.subarray(0, 3))).toEqual([1, 2, 0]);
    expect(h.dataStart + bDec).toBeGreaterThan(2 ** 31);

    // The CLI refuses it in one line (a NaN in b_dec, found before the 2 GiB of matrices are read).
    const nanFd = fs.openSync(file, 'r+');
    fs.writeSync(nanFd, Buffer.from(new Uint16Array([0x7fc0]).buffer), 0, 2, 8 + json.length + bDec + 2);
    fs.closeSync(nanFd);
    fs.writeFileSync(
      path.join(dir, 'cfg.json'),
      JSON.stringify({ architecture: 'standard', d_in: dIn, d_sae: dSae, dtype: 'bfloat16', metadata: { sae_lens_version: '6.18.0' } }),
    );
    const ws = path.join(tmpDir(), 'ws');
    const r = await runCli(['sae', 'import', dir, '--workspace', ws]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/tensor b_dec holds NaN at \[1\]/);
    expect(fs.existsSync(ws)).toBe(false);
  });
});

describe('SAEs in a workspace and `ocular sae`', () => {
  it('imports into the workspace, lists and exports back to SAELens with identical encodes', async () => {
    const src = path.join(tmpDir(), 'src');
    const sae = randomSae('jumprelu');
    writeSaeFolder(sae, src);
    const ws = path.join(tmpDir(), 'ws');
    const imported = await runCli(['sae', 'import', src, '--workspace', ws, '--name', 'resid-1', '--json']);
    expect(imported.code).toBe(0);
    const record = JSON.parse(imported.stdout) as { id: number; folder: string; architecture: string };
    expect(record).toMatchObject({ architecture: 'jumprelu', folder: path.join('blobs', 'saes', String(record.id)) });
    const list = JSON.parse((await runCli(['sae', 'list', '--workspace', ws, '--json'])).stdout) as unknown[];
    expect(list).toHaveLength(1);
    const out = path.join(tmpDir(), 'exported');
    expect((await runCli(['sae', 'export', String(record.id), '--workspace', ws, '--out', out])).code).toBe(0);
    const x = randn(mulberry32(4), 5 * D_IN, 1);
    expect(maxAbsDiff(encode(importSae(out), x), encode(sae, x))).toBeLessThanOrEqual(1e-6);
    const refused = await runCli(['sae', 'import', tmpDir(), '--workspace', ws]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/has no sae_weights.safetensors \(SAELens\) or sae.safetensors \(sparsify\)/);
    // export --out naming a file, or a folder that holds anything, is one line and exit 2
    const file = path.join(tmpDir(), 'out.txt');
    fs.writeFileSync(file, 'keep me');
    for (const target of [file, path.dirname(file)]) {
      const r = await runCli(['sae', 'export', String(record.id), '--workspace', ws, '--out', target]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/is a file|is not empty/);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('prints what it folded into the weights, and cfg.json that is not an object is one line, not a stack trace', async () => {
    const ws = path.join(tmpDir(), 'ws');
    const ok = await runCli(['sae', 'import', path.join(LIBS, 'saelens6-batchtopk-checkpoint-f32'), '--workspace', ws]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/jumprelu.*\n {2}folded into the weights: rescale_acts_by_decoder_norm; batchtopk checkpoint as JumpReLU/);
    for (const text of ['null', '{"d_in":', '[1]']) {
      const dir = tmpDir();
      fs.copyFileSync(path.join(LIBS, 'saelens6-standard-f32', 'sae_weights.safetensors'), path.join(dir, 'sae_weights.safetensors'));
      fs.writeFileSync(path.join(dir, 'cfg.json'), text);
      const r = await runCli(['sae', 'import', dir, '--workspace', ws]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/cfg\.json (must hold a JSON object|is not valid JSON)/);
    }
  });
});
