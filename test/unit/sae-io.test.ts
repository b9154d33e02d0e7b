import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode, exportSaeLens, importSae, type SaeFile } from '../../src-main/core/sae/sae-io';
import { readSafetensors, writeSafetensors } from '../../src-main/core/sae/safetensors';
import { mulberry32, randn } from '../helpers/tiny-transformer';
import { tmpDir } from '../helpers/tmp';

const D_IN = 12;
const D_SAE = 40;

function randomSae(architecture: SaeFile['architecture']): Omit<SaeFile, 'format'> {
  const r = mulberry32(3);
  return {
    architecture,
    dIn: D_IN,
    dSae: D_SAE,
    k: architecture === 'topk' ? 5 : undefined,
    W_enc: randn(r, D_IN * D_SAE, 0.4),
    b_enc: randn(r, D_SAE, 0.1),
    W_dec: randn(r, D_SAE * D_IN, 0.4),
    b_dec: randn(r, D_IN, 0.1),
    threshold: architecture === 'jumprelu' ? Float32Array.from({ length: D_SAE }, (_, i) => 0.02 * (i % 5)) : undefined,
    applyBDecToInput: true,
    hookName: 'blocks.1.hook_resid_post',
    modelName: 'ocular-demo-vlm',
    normalizeActivations: 'none',
  };
}

const maxDiff = (a: Float32Array, b: Float32Array) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

/** A safetensors file assembled byte by byte, independent of Ocular's writer. */
function handWrittenSafetensors(file: string, tensors: Array<[string, number[], Float32Array]>): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape, data] of tensors) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...tensors.map(([, , d]) => Buffer.from(d.buffer, d.byteOffset, d.byteLength))]));
}

describe('SAE files', () => {
  for (const arch of ['topk', 'relu', 'jumprelu'] as const) {
    it(`SAELens round trip (${arch}) reproduces encode outputs within 1e-6`, () => {
      const sae = randomSae(arch);
      const dir = tmpDir();
      exportSaeLens(sae, dir);
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8'));
      expect(cfg).toMatchObject({
        d_in: D_IN,
        d_sae: D_SAE,
        architecture: arch === 'relu' ? 'standard' : arch,
        metadata: { hook_name: 'blocks.1.hook_resid_post' },
      });
      const back = importSae(dir);
      expect(back.format).toBe('saelens');
      const x = randn(mulberry32(9), 7 * D_IN, 1);
      expect(maxDiff(encode(back, x), encode(sae, x))).toBeLessThanOrEqual(1e-6);
      expect(back.hookName).toBe('blocks.1.hook_resid_post');
    });
  }

  it('imports a hand-written SAELens folder with a pre-6.0 flat config', () => {
    const sae = randomSae('topk');
    const dir = tmpDir();
    handWrittenSafetensors(path.join(dir, 'sae_weights.safetensors'), [
      ['W_enc', [D_IN, D_SAE], sae.W_enc],
      ['b_enc', [D_SAE], sae.b_enc],
      ['W_dec', [D_SAE, D_IN], sae.W_dec],
      ['b_dec', [D_IN], sae.b_dec],
    ]);
    fs.writeFileSync(
      path.join(dir, 'cfg.json'),
      JSON.stringify({
        d_in: D_IN,
        d_sae: D_SAE,
        hook_name: 'blocks.3.hook_resid_post',
        model_name: 'gpt2',
        activation_fn_str: 'topk',
        activation_fn_kwargs: { k: 5 },
        apply_b_dec_to_input: true,
      }),
    );
    const imported = importSae(dir);
    expect(imported).toMatchObject({
      architecture: 'topk',
      k: 5,
      dIn: D_IN,
      dSae: D_SAE,
      hookName: 'blocks.3.hook_resid_post',
      modelName: 'gpt2',
    });
    expect(Array.from(imported.W_enc)).toEqual(Array.from(sae.W_enc));
    const x = randn(mulberry32(1), 3 * D_IN, 1);
    expect(maxDiff(encode(imported, x), encode(sae, x))).toBeLessThanOrEqual(1e-6);
  });

  it('imports a sparsify folder, transposing the encoder by shape', () => {
    const sae = randomSae('topk');
    const encoderWeight = new Float32Array(D_SAE * D_IN); // nn.Linear stores [out, in] = [d_sae, d_in]
    for (let i = 0; i < D_IN; i++) for (let j = 0; j < D_SAE; j++) encoderWeight[j * D_IN + i] = sae.W_enc[i * D_SAE + j]!;
    const dir = tmpDir();
    handWrittenSafetensors(path.join(dir, 'sae.safetensors'), [
      ['encoder.weight', [D_SAE, D_IN], encoderWeight],
      ['encoder.bias', [D_SAE], sae.b_enc],
      ['W_dec', [D_SAE, D_IN], sae.W_dec],
      ['b_dec', [D_IN], sae.b_dec],
    ]);
    fs.writeFileSync(
      path.join(dir, 'cfg.json'),
      JSON.stringify({ expansion_factor: 4, normalize_decoder: true, num_latents: D_SAE, k: 5 }),
    );
    const imported = importSae(dir);
    expect(imported.format).toBe('sparsify');
    expect(Array.from(imported.W_enc)).toEqual(Array.from(sae.W_enc));
    const x = randn(mulberry32(2), 4 * D_IN, 1);
    expect(maxDiff(encode(imported, x), encode(sae, x))).toBeLessThanOrEqual(1e-6);
  });

  it('refuses pickled weights, names missing and mis-shaped tensors', () => {
    const pickled = tmpDir();
    fs.writeFileSync(path.join(pickled, 'cfg.json'), '{}');
    fs.writeFileSync(path.join(pickled, 'sae_weights.pt'), 'pickle bytes');
    expect(() => importSae(pickled)).toThrow(/never unpickles/);
    const bad = tmpDir();
    handWrittenSafetensors(path.join(bad, 'sae_weights.safetensors'), [
      ['W_enc', [D_IN + 1, D_SAE], new Float32Array((D_IN + 1) * D_SAE)],
      ['b_enc', [D_SAE], new Float32Array(D_SAE)],
      ['W_dec', [D_SAE, D_IN], new Float32Array(D_SAE * D_IN)],
      ['b_dec', [D_IN], new Float32Array(D_IN)],
    ]);
    fs.writeFileSync(path.join(bad, 'cfg.json'), JSON.stringify({ d_in: D_IN, d_sae: D_SAE }));
    expect(() => importSae(bad)).toThrow(/fits neither \[12, 40\] nor its transpose/);
  });

  it('reads F16 and BF16 tensors, and writes what it reads', () => {
    const dir = tmpDir();
    const file = path.join(dir, 't.safetensors');
    // 1.0, -2.0, 0.5 in float16 and bfloat16
    const f16 = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer);
    const bf16 = Buffer.from(new Uint16Array([0x3f80, 0xc000, 0x3f00]).buffer);
    const header = Buffer.from(
      JSON.stringify({ a: { dtype: 'F16', shape: [3], data_offsets: [0, 6] }, b: { dtype: 'BF16', shape: [3], data_offsets: [6, 12] } }),
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([len, header, f16, bf16]));
    const { tensors } = readSafetensors(file);
    expect(Array.from(tensors.get('a')!.data)).toEqual([1, -2, 0.5]);
    expect(Array.from(tensors.get('b')!.data)).toEqual([1, -2, 0.5]);
    writeSafetensors(path.join(dir, 'copy.safetensors'), { a: tensors.get('a')! }, { source: 'test' });
    const again = readSafetensors(path.join(dir, 'copy.safetensors'));
    expect(Array.from(again.tensors.get('a')!.data)).toEqual([1, -2, 0.5]);
    expect(again.metadata).toEqual({ source: 'test' });
  });
});

describe('SAEs in a workspace and `ocular sae`', () => {
  it('imports into the workspace, lists and exports back to SAELens with identical encodes', async () => {
    const { runCli } = await import('../helpers/cli');
    const src = tmpDir();
    const sae = randomSae('jumprelu');
    exportSaeLens(sae, src);
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
    expect(maxDiff(encode(importSae(out), x), encode(sae, x))).toBeLessThanOrEqual(1e-6);
    const refused = await runCli(['sae', 'import', tmpDir(), '--workspace', ws]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/has no sae_weights.safetensors \(SAELens\) or sae.safetensors \(sparsify\)/);
  });
});
