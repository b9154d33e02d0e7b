// Writes test/fixtures/sae-hostile/: SAE folders that must each be refused with a clear one-line
// error before anything is written (test/unit/sae-hostile.test.ts). Every case starts from a file
// written by SAELens or sparsify themselves (test/fixtures/sae-libs) and breaks one thing, by hand,
// with plain Node, so that no case depends on Ocular's own safetensors code. cases.json lists each
// case with the message it must produce. Re-run: node tools/make-sae-hostile.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const libs = path.join(root, 'test', 'fixtures', 'sae-libs');
const out = path.join(root, 'test', 'fixtures', 'sae-hostile');

/** A library-written folder: its cfg (object), weights file name, parsed header and data bytes. */
function load(name) {
  const dir = path.join(libs, name);
  const weights = fs.existsSync(path.join(dir, 'sae.safetensors')) ? 'sae.safetensors' : 'sae_weights.safetensors';
  const bytes = fs.readFileSync(path.join(dir, weights));
  const n = Number(bytes.readBigUInt64LE(0));
  return {
    cfg: JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8')),
    weights,
    header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')),
    data: Buffer.from(bytes.subarray(8 + n)),
  };
}

function safetensors(header, data, headerText = JSON.stringify(header)) {
  const json = Buffer.from(headerText, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

/** Writes float32 `value` at element `index` of a tensor (F32 or BF16) in a copy of the data. */
function poke(sae, name, index, value) {
  const t = sae.header[name];
  const data = Buffer.from(sae.data);
  if (t.dtype === 'F32') data.writeFloatLE(value, t.data_offsets[0] + 4 * index);
  else {
    const f = Buffer.alloc(4);
    f.writeFloatLE(value);
    data.writeUInt16LE(f.readUInt32LE() >>> 16, t.data_offsets[0] + 2 * index);
  }
  return data;
}

/** Removes a tensor, shifting the offsets after it so the file stays valid safetensors. */
function drop(sae, name) {
  const [s, e] = sae.header[name].data_offsets;
  const header = {};
  for (const [k, v] of Object.entries(sae.header)) {
    if (k === name) continue;
    if (k === '__metadata__' || v.data_offsets[0] < s) header[k] = v;
    else header[k] = { ...v, data_offsets: [v.data_offsets[0] - (e - s), v.data_offsets[1] - (e - s)] };
  }
  return { header, data: Buffer.concat([sae.data.subarray(0, s), sae.data.subarray(e)]) };
}

/** Appends a tensor of float32 zeros. */
function add(sae, name, shape, bytes = 4 * shape.reduce((a, b) => a * b, 1)) {
  const start = sae.data.length;
  return {
    header: { ...sae.header, [name]: { dtype: 'F32', shape, data_offsets: [start, start + bytes] } },
    data: Buffer.concat([sae.data, Buffer.alloc(bytes)]),
  };
}

const cases = [];
function write(name, expect, { base, cfg, cfgText, weights, weightsName, extra = {}, noCfg = false }) {
  const sae = load(base);
  const dir = path.join(out, name);
  fs.mkdirSync(dir, { recursive: true });
  if (!noCfg) fs.writeFileSync(path.join(dir, 'cfg.json'), cfgText ?? JSON.stringify(cfg ?? sae.cfg));
  const file = weights === undefined ? safetensors(sae.header, sae.data) : weights;
  if (file !== null) fs.writeFileSync(path.join(dir, weightsName ?? sae.weights), file);
  for (const [f, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, f), text);
  cases.push({ case: name, expect });
}

const std = 'saelens6-standard-f32';
const base = load(std);
const cfg = (patch) => ({ ...base.cfg, ...patch });
const topk = load('saelens6-topk-f16');
const topkCfg = (patch) => ({ ...topk.cfg, ...patch });
const sp = load('sparsify-topk-f32');
const spCfg = (patch) => ({ ...sp.cfg, ...patch });
const st = (header, data = base.data, text) => safetensors(header, data, text);
const h = (name, patch) => ({ ...base.header, [name]: { ...base.header[name], ...patch } });

fs.rmSync(out, { recursive: true, force: true });

// cfg.json itself
write('cfg-invalid-json', 'cfg\\.json is not valid JSON', { base: std, cfgText: '{"d_in": 16,' });
write('cfg-null', 'must hold a JSON object, not null', { base: std, cfgText: 'null' });
write('cfg-array', 'must hold a JSON object, not an array', { base: std, cfgText: '[16, 48]' });
write('cfg-string', 'must hold a JSON object, not string', { base: std, cfgText: '"standard"' });
write('cfg-empty', 'cfg\\.json is not valid JSON', { base: std, cfgText: '' });
write('cfg-missing', 'cfg\\.json is missing', { base: std, noCfg: true });
write('cfg-d-sae-disagrees', 'W_enc has shape \\[16,48\\] but the config implies \\[16,64\\]', { base: std, cfg: cfg({ d_sae: 64 }) });
write('cfg-d-in-disagrees', 'W_enc has shape \\[16,48\\] but the config implies \\[32,48\\]', { base: std, cfg: cfg({ d_in: 32 }) });
write('cfg-d-in-string', 'd_in must be an integer', { base: std, cfg: cfg({ d_in: '16' }) });
write('cfg-d-in-zero', 'd_in must be an integer', { base: std, cfg: cfg({ d_in: 0 }) });
write('cfg-d-in-fraction', 'd_in must be an integer', { base: std, cfg: cfg({ d_in: 16.5 }) });
write('cfg-d-sae-missing', 'd_sae must be an integer', { base: std, cfg: cfg({ d_sae: undefined }) });
write('cfg-architecture-unknown', 'architecture "sparse_magic" is not one Ocular implements', {
  base: std,
  cfg: cfg({ architecture: 'sparse_magic' }),
});
write('cfg-normalize-unknown', 'normalize_activations "batch_norm"', { base: std, cfg: cfg({ normalize_activations: 'batch_norm' }) });
write('cfg-expected-average-no-scaler', 'no activation_scaler\\.json', {
  base: std,
  cfg: cfg({ normalize_activations: 'expected_average_only_in' }),
});
write('cfg-expected-average-null-scale', 'scaling_factor null', {
  base: std,
  cfg: cfg({ normalize_activations: 'expected_average_only_in' }),
  extra: { 'activation_scaler.json': '{"scaling_factor": null}' },
});
write('cfg-expected-average-negative-scale', 'scaling_factor -2', {
  base: std,
  cfg: cfg({ normalize_activations: 'expected_average_only_in' }),
  extra: { 'activation_scaler.json': '{"scaling_factor": -2}' },
});
write('cfg-hook-z', 'reshape_activations "hook_z"', { base: 'saelens6-hookz-f32' });
write('cfg-tanh-relu', "activation_fn 'tanh-relu' is not supported", { base: 'saelens5-tanhrelu-f32' });
write('cfg-pre6-topk-without-k', 'activation_fn topk without activation_fn_kwargs\\.k', {
  base: 'saelens5-topk-bf16',
  cfg: { ...load('saelens5-topk-bf16').cfg, activation_fn_kwargs: {} },
});
write('cfg-transcoder-centred', 'apply_b_dec_to_input is true, which SAELens does not allow', {
  base: 'saelens6-transcoder-f32',
  cfg: { ...load('saelens6-transcoder-f32').cfg, apply_b_dec_to_input: true },
});
write('cfg-dtype-int8', 'dtype "int8" is not a floating-point dtype', { base: std, cfg: cfg({ dtype: 'int8' }) });
write('cfg-apply-b-dec-string', 'apply_b_dec_to_input must be true or false', { base: std, cfg: cfg({ apply_b_dec_to_input: 'yes' }) });
write('cfg-metadata-array', 'metadata must be a JSON object', {
  base: std,
  cfg: cfg({ metadata: [{ sae_lens_version: '6.18.0' }], sae_lens_version: '6.18.0' }),
});
for (const [name, k] of [
  ['zero', 0],
  ['negative', -3],
  ['huge', 1e9],
  ['fraction', 2.5],
  ['string', '5'],
  ['null', null],
])
  write(`cfg-topk-k-${name}`, 'k must be an integer from 1 to 48', { base: 'saelens6-topk-f16', cfg: topkCfg({ k }) });
write('cfg-topk-k-missing', 'k must be an integer from 1 to 48', { base: 'saelens6-topk-f16', cfg: topkCfg({ k: undefined }) });
write('cfg-finetuning-without-tensor', 'has no finetuning_scaling_factor tensor', {
  base: 'saelens5-topk-bf16',
  cfg: { ...load('saelens5-topk-bf16').cfg, finetuning_scaling_factor: true },
});

// sparsify configs
write('sparsify-no-d-in', 'has no d_in', { base: 'sparsify-topk-f32', cfg: spCfg({ d_in: undefined }) });
write('sparsify-activation-unknown', 'activation "softmax" is not one sparsify defines', {
  base: 'sparsify-topk-f32',
  cfg: spCfg({ activation: 'softmax' }),
});
write('sparsify-k-too-large', 'k must be an integer from 1 to 64', { base: 'sparsify-topk-f32', cfg: spCfg({ k: 65 }) });
write('sparsify-groupmax-indivisible', 'groupmax needs d_sae \\(64\\) divisible by k \\(5\\)', {
  base: 'sparsify-topk-f32',
  cfg: spCfg({ activation: 'groupmax', k: 5 }),
});
write('sparsify-num-latents-disagrees', 'encoder\\.weight has shape \\[64,16\\] but the config implies \\[32,16\\]', {
  base: 'sparsify-topk-f32',
  cfg: spCfg({ num_latents: 32 }),
});
write('sparsify-skip-without-w-skip', 'has no W_skip tensor', { base: 'sparsify-topk-f32', cfg: spCfg({ skip_connection: true }) });
write('sparsify-no-decoder', 'has no W_dec tensor', {
  base: 'sparsify-topk-f32',
  weights: (() => {
    const d = drop(sp, 'W_dec');
    return safetensors(d.header, d.data);
  })(),
});

write('sparsify-k-zero', 'k must be an integer from 1 to 64', { base: 'sparsify-topk-f32', cfg: spCfg({ k: 0 }) });
write('sparsify-k-missing', 'k must be an integer from 1 to 64', { base: 'sparsify-topk-f32', cfg: spCfg({ k: undefined }) });
write('sparsify-num-latents-negative', 'num_latents must be an integer', { base: 'sparsify-topk-f32', cfg: spCfg({ num_latents: -64 }) });
write('sparsify-transcode-string', 'transcode must be true or false', { base: 'sparsify-topk-f32', cfg: spCfg({ transcode: 'yes' }) });
write('cfg-pre6-normalize-true', 'no activation_scaler\\.json', {
  base: 'saelens5-jumprelu-f32',
  cfg: { ...load('saelens5-jumprelu-f32').cfg, normalize_activations: true },
});

// tensors against the config
const jump = load('saelens6-jumprelu-f32');
{
  const d = drop(jump, 'threshold');
  const t = add(d, 'threshold', [47]);
  write('tensor-threshold-wrong-length', 'threshold has shape \\[47\\] but the config implies \\[48\\]', {
    base: 'saelens6-jumprelu-f32',
    weights: safetensors(t.header, t.data),
  });
}
{
  const t = h('W_enc', { shape: [48, 16] });
  write('tensor-w-enc-transposed', 'W_enc has shape \\[48,16\\] but the config implies \\[16,48\\] \\(it is transposed\\)', {
    base: std,
    weights: st(t),
  });
}
{
  const d = drop(base, 'b_enc');
  write('tensor-b-enc-missing', 'has no b_enc tensor', { base: std, weights: safetensors(d.header, d.data) });
}
{
  const t = add(base, 'W_enc2', [16, 48]);
  write('tensor-unknown-extra', 'has tensor W_enc2, which this configuration does not use', {
    base: std,
    weights: safetensors(t.header, t.data),
  });
}
{
  const gated = load('saelens6-gated-f32');
  const d = drop(gated, 'r_mag');
  write('tensor-gated-no-r-mag', 'has no r_mag tensor', { base: 'saelens6-gated-f32', weights: safetensors(d.header, d.data) });
}
{
  const gated = load('saelens6-gated-f32');
  const t = add(gated, 'b_enc', [48]);
  write('tensor-gated-with-b-enc', 'has tensor b_enc, which this configuration does not use', {
    base: 'saelens6-gated-f32',
    weights: safetensors(t.header, t.data),
  });
}
{
  const ck = load('saelens6-batchtopk-checkpoint-f32');
  const d = drop(ck, 'topk_threshold');
  write('tensor-batchtopk-no-threshold', 'has no topk_threshold tensor', {
    base: 'saelens6-batchtopk-checkpoint-f32',
    weights: safetensors(d.header, d.data),
  });
}
{
  const t = add(load('saelens5-jumprelu-f32'), 'scaling_factor', [48]);
  const data = Buffer.from(t.data);
  data.writeFloatLE(2, t.header.scaling_factor.data_offsets[0]);
  write('tensor-scaling-factor-without-flag', 'scaling_factor tensor but finetuning_scaling_factor is not true', {
    base: 'saelens5-jumprelu-f32',
    weights: safetensors(t.header, data),
  });
}
write('tensor-nan-w-enc', 'tensor W_enc holds NaN at \\[2,5\\]', {
  base: std,
  weights: st(base.header, poke(base, 'W_enc', 2 * 48 + 5, NaN)),
});
write('tensor-inf-b-dec', 'tensor b_dec holds Infinity at \\[3\\]', {
  base: std,
  weights: st(base.header, poke(base, 'b_dec', 3, Infinity)),
});
write('tensor-neg-inf-threshold', 'tensor threshold holds -Infinity at \\[7\\]', {
  base: 'saelens6-jumprelu-f32',
  weights: safetensors(jump.header, poke(jump, 'threshold', 7, -Infinity)),
});
{
  const bf = load('saelens6-standard-bf16');
  write('tensor-nan-bf16', 'tensor W_dec holds NaN at \\[0,1\\]', {
    base: 'saelens6-standard-bf16',
    weights: safetensors(bf.header, poke(bf, 'W_dec', 1, NaN)),
  });
}

// safetensors structure (each also refused by the Rust safetensors crate)
write('st-header-array', 'its header is not a JSON object', { base: std, weights: st(null, base.data, '[]') });
write('st-header-null', 'its header is not a JSON object', { base: std, weights: st(null, base.data, 'null') });
write('st-header-not-json', 'its header is not UTF-8 JSON', { base: std, weights: st(null, base.data, '{"W_enc": ') });
write('st-header-not-utf8', 'its header is not UTF-8 JSON', {
  base: std,
  weights: Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]),
});
{
  const t = { ...base.header, W_enc: { dtype: 'F32', data_offsets: base.header.W_enc.data_offsets } };
  write('st-no-shape', 'tensor W_enc has shape undefined, which is not a list of non-negative integers', { base: std, weights: st(t) });
}
write('st-shape-fraction', 'tensor W_enc has shape \\[0\\.5,256\\]', { base: std, weights: st(h('W_enc', { shape: [0.5, 256] })) });
write('st-shape-negative', 'tensor b_dec has shape \\[-16\\]', { base: std, weights: st(h('b_dec', { shape: [-16] })) });
write('st-offsets-negative', 'tensor b_dec has data_offsets \\[-64,0\\]', {
  base: std,
  weights: st(h('b_dec', { data_offsets: [-64, 0] })),
});
write('st-offsets-three', 'tensor b_dec has data_offsets \\[6144,6208,1\\]', {
  base: std,
  weights: st(h('b_dec', { data_offsets: [6144, 6208, 1] })),
});
write('st-offsets-overlap', 'offsets must be contiguous', { base: std, weights: st(h('b_dec', { data_offsets: [0, 64] })) });
write('st-offsets-gap', 'offsets must be contiguous', {
  base: std,
  weights: st(h('b_enc', { data_offsets: [6212, 6404] }), Buffer.concat([base.data, Buffer.alloc(4)])),
});
write('st-offsets-past-end', 'its tensors cover 6400 bytes of data but the file holds 6336', {
  base: std,
  weights: st(base.header, base.data.subarray(0, 6336)),
});
write('st-trailing-bytes', 'its tensors cover 6400 bytes of data but the file holds 6464', {
  base: std,
  weights: st(base.header, Buffer.concat([base.data, Buffer.alloc(64)])),
});
write('st-size-mismatch', 'tensor W_enc spans 3072 bytes but a F32 tensor of shape \\[16,40\\] needs 2560', {
  base: std,
  weights: st(h('W_enc', { shape: [16, 40] })),
});
write('st-dtype-unknown', 'tensor W_enc has an unknown dtype "Q4"', { base: std, weights: st(h('W_enc', { dtype: 'Q4' })) });
write('st-dtype-integer', 'tensor b_dec is I32; SAE weights must be F32, F16, BF16 or F64', {
  base: std,
  weights: st(h('b_dec', { dtype: 'I32' })),
});
write('st-metadata-not-strings', '__metadata__ is not a map of strings', {
  base: std,
  weights: st({ __metadata__: { format: 7 }, ...base.header }),
});
write('st-entry-not-object', 'the header entry for b_dec is not an object', { base: std, weights: st({ ...base.header, b_dec: [1, 2] }) });
{
  // JSON's last duplicate wins (in serde_json as in JSON.parse): here it overlaps W_dec.
  const text = JSON.stringify(base.header).replace(/}$/, ',"b_dec":{"dtype":"F32","shape":[16],"data_offsets":[0,64]}}');
  write('st-duplicate-key', 'offsets must be contiguous', { base: std, weights: st(null, base.data, text) });
}
{
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(200_000_000n);
  write('st-header-too-large', 'over the 100000000-byte limit', { base: std, weights: Buffer.concat([len, Buffer.from('{}')]) });
  const len2 = Buffer.alloc(8);
  len2.writeBigUInt64LE(1_000_000n);
  write('st-header-past-end', 'its header claims 1000000 bytes', { base: std, weights: Buffer.concat([len2, Buffer.from('{}')]) });
}
write('st-too-short', 'shorter than the 8-byte header length', { base: std, weights: Buffer.from([1, 2, 3]) });
write('st-empty-file', 'shorter than the 8-byte header length', { base: std, weights: Buffer.alloc(0) });

// folders
write('folder-pickle-only', 'never unpickles', { base: std, weights: null, extra: { 'sae_weights.pt': 'PK\u0003\u0004 pickle' } });
write('folder-no-weights', 'has no sae_weights\\.safetensors \\(SAELens\\) or sae\\.safetensors \\(sparsify\\)', {
  base: std,
  weights: null,
});

fs.writeFileSync(path.join(out, 'cases.json'), JSON.stringify(cases, null, 1) + '\n');
console.log(`wrote ${cases.length} cases to ${path.relative(root, out)}`);
