/**
 * EleutherAI sparsify folders (cfg.json + sae.safetensors), read as SparseCoder.load_from_disk reads
 * them: d_in from cfg.json, num_latents = cfg.num_latents or d_in * expansion_factor, an nn.Linear
 * encoder (encoder.weight [num_latents, d_in]), W_dec [num_latents, d_in], b_dec [d_in], and W_skip
 * [d_in, d_in] when skip_connection is set; every tensor cast to the dtype of the first key.
 *
 * Encode (fused_encoder): pre = ReLU((x - b_dec if not transcode) W^T + b), then `topk` keeps the k
 * largest and `groupmax` the largest of each of k contiguous groups. A `transcode` coder is a
 * transcoder (no centring; it predicts another tap of the same width). Decode adds x W_skip^T.
 * multi_topk and normalize_decoder only shape training and change nothing at inference.
 */
import path from 'node:path';
import { DTYPE_OF, checkTensors, optionalBool, positiveInt, readTensors, refuse, type Cfg, type SaeFile } from './sae-file.js';
import { checkSaeWeights } from './sae-model.js';
import type { FloatDtype, SafetensorsHeader } from './safetensors.js';

export function readSparsify(dir: string, cfg: Cfg, header: SafetensorsHeader): SaeFile {
  const source = path.join(dir, 'cfg.json');
  if (cfg.d_in === undefined) refuse(source, 'has no d_in (sparsify writes it beside the config); the input width is unknown.');
  const dIn = positiveInt(source, cfg, 'd_in');
  const explicit = cfg.num_latents ?? 0;
  const dSae = explicit === 0 ? dIn * positiveInt(source, cfg, 'expansion_factor') : positiveInt(source, cfg, 'num_latents');
  const activation = cfg.activation ?? 'topk';
  if (activation !== 'topk' && activation !== 'groupmax')
    refuse(source, `activation ${JSON.stringify(activation)} is not one sparsify defines (topk, groupmax).`);
  const k = positiveInt(source, cfg, 'k', dSae);
  const transcode = optionalBool(source, cfg, 'transcode', false);
  const skip = optionalBool(source, cfg, 'skip_connection', false);

  const expected = new Map<string, number[]>([
    ['encoder.weight', [dSae, dIn]],
    ['encoder.bias', [dSae]],
    ['W_dec', [dSae, dIn]],
    ['b_dec', [dIn]],
  ]);
  if (skip) expected.set('W_skip', [dIn, dIn]);
  checkTensors(source, header, expected);
  // SparseCoder is built in the dtype of the file's first key (sorted), and load_model casts into it.
  const dtype = header.tensors.get([...header.tensors.keys()].sort()[0]!)!.dtype as FloatDtype;
  if (!(dtype in DTYPE_OF)) refuse(source, `its tensors are ${dtype}; expected F32, F16, BF16 or F64.`);
  const t = readTensors(header, expected.keys(), dtype);

  const encoder = t.get('encoder.weight')!; // nn.Linear: [num_latents, d_in]
  const W_enc = new Float32Array(dIn * dSae);
  for (let f = 0; f < dSae; f++) for (let i = 0; i < dIn; i++) W_enc[i * dSae + f] = encoder[f * dIn + i]!;
  const sae: SaeFile = {
    architecture: activation,
    dIn,
    dSae,
    ...(transcode ? { dOut: dIn, hookNameOut: null } : {}),
    k,
    W_enc,
    b_enc: t.get('encoder.bias')!,
    W_dec: t.get('W_dec')!,
    b_dec: t.get('b_dec')!,
    ...(skip ? { W_skip: t.get('W_skip')! } : {}),
    applyBDecToInput: !transcode,
    normalizeActivations: 'none',
    hookName: null,
    modelName: null,
    format: 'sparsify',
    dtype: DTYPE_OF[dtype],
    metadata: {},
    folded: dtype === 'F64' ? ['float64 weights held as float32'] : [],
  };
  checkSaeWeights(sae, source);
  return sae;
}
