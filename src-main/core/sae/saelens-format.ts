/**
 * SAELens folders (cfg.json + sae_weights.safetensors), read as SAELens 6.18 reads them: a config
 * without metadata.sae_lens_version >= 6 is upgraded as handle_pre_6_0_config does (so SAELens 5
 * files read too), every tensor is cast to cfg.dtype, and each architecture's encode is the one in
 * sae_lens/saes/*.py. Layout is fixed by the config: W_enc [d_in, d_sae], W_dec [d_sae, d_out].
 *
 * Folded on import (exact as weights): TopK rescale_acts_by_decoder_norm; SAELens 5's
 * finetuning_scaling_factor; expected_average_only_in when activation_scaler.json gives the scale;
 * BatchTopK and Matryoshka training checkpoints become the JumpReLU SAE that save_inference_model
 * writes (decoder norms folded, threshold = topk_threshold). Kept and applied per row:
 * layer_norm and constant_norm_rescale. Refused, naming the setting: hook_z reshaping,
 * activation functions other than ReLU and TopK, unknown architectures, tensors or values.
 */
import fs from 'node:fs';
import path from 'node:path';
import { foldScale } from './normalize.js';
import { checkTensors, optionalBool, positiveInt, readTensors, refuse, type Cfg, type SaeFile, DTYPE_OF } from './sae-file.js';
import { foldDecoderNorm, foldFinetuningScale } from './sae-folds.js';
import { checkSaeWeights, type SaeArchitecture } from './sae-model.js';
import { roundTo, type FloatDtype, type SafetensorsHeader } from './safetensors.js';

interface ArchSpec {
  activation: SaeArchitecture;
  transcoder?: boolean;
  skip?: boolean;
  /** A BatchTopK-style training checkpoint, saved for inference as JumpReLU. */
  checkpoint?: boolean;
}

/** SAELens 6.18's architectures (inference and training registries), plus Ocular's groupmax. */
const ARCHITECTURES: Record<string, ArchSpec> = {
  standard: { activation: 'relu' },
  topk: { activation: 'topk' },
  jumprelu: { activation: 'jumprelu' },
  gated: { activation: 'gated' },
  transcoder: { activation: 'relu', transcoder: true },
  skip_transcoder: { activation: 'relu', transcoder: true, skip: true },
  jumprelu_transcoder: { activation: 'jumprelu', transcoder: true },
  batchtopk: { activation: 'jumprelu', checkpoint: true },
  matryoshka_batchtopk: { activation: 'jumprelu', checkpoint: true },
  groupmax: { activation: 'groupmax' },
};

/** SAELens 6's LLM_METADATA_KEYS: the flat pre-6.0 fields it moves into metadata (plus hook_layer). */
const METADATA_KEYS = [
  'model_name',
  'hook_name',
  'model_class_name',
  'hook_head_index',
  'model_from_pretrained_kwargs',
  'prepend_bos',
  'exclude_special_tokens',
  'neuronpedia_id',
  'context_size',
  'seqpos_slice',
  'dataset_path',
  'sae_lens_version',
  'sae_lens_training_version',
  'hook_name_out',
  'hook_head_index_out',
  'hook_layer',
];

const DTYPES: Record<string, FloatDtype> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  'torch.float32': 'F32',
  'torch.float64': 'F64',
  'torch.float16': 'F16',
  'torch.bfloat16': 'BF16',
};

const NORMALIZATIONS = ['none', 'expected_average_only_in', 'constant_norm_rescale', 'layer_norm'];

function isPre6(cfg: Cfg): boolean {
  const v = cfg.sae_lens_version ?? cfg.metadata?.sae_lens_version;
  const major = typeof v === 'string' ? Number.parseInt(v, 10) : NaN;
  return !(major >= 6);
}

/** handle_pre_6_0_config: renamed keys, defaults, TopK from activation_fn_kwargs, metadata gathered. */
function upgradePre6(source: string, old: Cfg): Cfg {
  const rename: Record<string, string> = {
    hook_point: 'hook_name',
    hook_point_head_index: 'hook_head_index',
    activation_fn_str: 'activation_fn',
  };
  const cfg: Cfg = Object.fromEntries(Object.entries(old).map(([k, v]) => [rename[k] ?? k, v]));
  cfg.activation_fn ??= 'relu';
  cfg.architecture ??= 'standard';
  cfg.finetuning_scaling_factor ??= false;
  if (typeof cfg.normalize_activations === 'boolean')
    cfg.normalize_activations = cfg.normalize_activations ? 'expected_average_only_in' : 'none';
  cfg.normalize_activations ??= 'none';
  cfg.reshape_activations ??= String(cfg.hook_name ?? '').includes('hook_z') ? 'hook_z' : 'none';
  if (cfg.activation_fn === 'topk') {
    const k = cfg.activation_fn_kwargs?.k;
    if (k === undefined || k === null)
      refuse(source, 'activation_fn topk without activation_fn_kwargs.k; the number of active features is unknown.');
    cfg.architecture = 'topk';
    cfg.k = k;
  } else if (cfg.activation_fn !== 'relu')
    refuse(
      source,
      `activation_fn '${cfg.activation_fn}' is not supported (Ocular implements ReLU and TopK activations exactly, and no other).`,
    );
  // Copies written by earlier Ocular versions nest their metadata without a version: keep it too.
  const nested = old.metadata && typeof old.metadata === 'object' && !Array.isArray(old.metadata) ? old.metadata : {};
  cfg.metadata = { ...nested, ...Object.fromEntries(METADATA_KEYS.filter((k) => k in cfg).map((k) => [k, cfg[k]])) };
  return cfg;
}

/** The scale an expected_average_only_in SAE was trained with, from SAELens's activation_scaler.json. */
function activationScale(source: string, dir: string): number {
  const file = path.join(dir, 'activation_scaler.json');
  const why =
    'normalize_activations expected_average_only_in means the SAE reads activations times a constant that this folder does not record';
  if (!fs.existsSync(file))
    refuse(source, `${why} (no activation_scaler.json). Fold it in Python with sae.fold_activation_norm_scaling_factor(s) and save again.`);
  let s: unknown;
  try {
    s = (JSON.parse(fs.readFileSync(file, 'utf8')) as { scaling_factor?: unknown } | null)?.scaling_factor;
  } catch {
    refuse(source, `${why}, and activation_scaler.json is not valid JSON.`);
  }
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0)
    refuse(source, `${why}; activation_scaler.json gives scaling_factor ${JSON.stringify(s)}, not a positive number.`);
  return s;
}

export function readSaeLens(dir: string, rawCfg: Cfg, header: SafetensorsHeader): SaeFile {
  const source = path.join(dir, 'cfg.json');
  const pre6 = isPre6(rawCfg);
  const cfg = pre6 ? upgradePre6(source, rawCfg) : rawCfg;
  const metadata = (cfg.metadata ?? {}) as Record<string, unknown>;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) refuse(source, 'metadata must be a JSON object.');

  const spec = ARCHITECTURES[String(cfg.architecture)];
  if (!spec)
    refuse(
      source,
      `architecture ${JSON.stringify(cfg.architecture)} is not one Ocular implements (${Object.keys(ARCHITECTURES).join(', ')}).`,
    );
  const dIn = positiveInt(source, cfg, 'd_in');
  const dSae = positiveInt(source, cfg, 'd_sae');
  const transcoder = Boolean(spec.transcoder) || (cfg.d_out !== undefined && cfg.d_out !== null);
  const dOut = transcoder ? positiveInt(source, cfg, 'd_out') : dIn;
  const applyBDecToInput = optionalBool(source, cfg, 'apply_b_dec_to_input', true);
  if (spec.transcoder && applyBDecToInput)
    refuse(source, `apply_b_dec_to_input is true, which SAELens does not allow for a ${cfg.architecture}.`);
  const norm = cfg.normalize_activations ?? 'none';
  if (!NORMALIZATIONS.includes(norm))
    refuse(source, `normalize_activations ${JSON.stringify(norm)} is not one of ${NORMALIZATIONS.join(', ')}.`);
  if ((cfg.reshape_activations ?? 'none') !== 'none')
    refuse(
      source,
      `reshape_activations ${JSON.stringify(cfg.reshape_activations)} is not supported (Ocular's taps are never per-head hook_z).`,
    );
  if (cfg.dtype !== undefined && !(cfg.dtype in DTYPES))
    refuse(source, `dtype ${JSON.stringify(cfg.dtype)} is not a floating-point dtype SAELens loads.`);
  const dtype: FloatDtype =
    cfg.dtype !== undefined ? DTYPES[cfg.dtype]! : ((header.tensors.get('W_enc')?.dtype as FloatDtype | undefined) ?? 'F32');
  const k = spec.activation === 'topk' || spec.activation === 'groupmax' ? positiveInt(source, cfg, 'k', dSae) : undefined;
  if (spec.checkpoint && cfg.k !== undefined && !(typeof cfg.k === 'number' && cfg.k > 0))
    refuse(source, `k must be a positive number, got ${JSON.stringify(cfg.k)}.`);
  // Copies written by earlier Ocular versions labelled the inference form batchtopk, with a per-feature threshold.
  const checkpoint = Boolean(spec.checkpoint) && !header.tensors.has('threshold');
  // TopKSAEConfig defaults rescaling off; the training configs SAELens saves checkpoints with default it on.
  const rescale = spec.activation === 'topk' || checkpoint ? optionalBool(source, cfg, 'rescale_acts_by_decoder_norm', checkpoint) : false;
  const finetuning = pre6 && optionalBool(source, cfg, 'finetuning_scaling_factor', false);
  if (norm === 'expected_average_only_in' && rescale)
    refuse(
      source,
      'expected_average_only_in together with rescale_acts_by_decoder_norm: SAELens scales the two folds differently from how the SAE was trained; import the SAE SAELens saves for inference at the end of training.',
    );

  const expected = new Map<string, number[]>([
    ['W_enc', [dIn, dSae]],
    ['W_dec', [dSae, dOut]],
    ['b_dec', [dOut]],
  ]);
  if (spec.activation === 'gated') for (const n of ['b_gate', 'r_mag', 'b_mag']) expected.set(n, [dSae]);
  else expected.set('b_enc', [dSae]);
  // A BatchTopK checkpoint's threshold is one scalar (float64) for every feature.
  if (spec.activation === 'jumprelu') expected.set(checkpoint ? 'topk_threshold' : 'threshold', checkpoint ? [] : [dSae]);
  if (spec.skip || header.tensors.has('W_skip')) expected.set('W_skip', [dOut, dIn]);
  if (finetuning) expected.set('finetuning_scaling_factor', [dSae]);
  if (header.tensors.has('scaling_factor')) expected.set('scaling_factor', [dSae]);
  checkTensors(source, header, expected);

  const t = readTensors(header, expected.keys(), dtype);
  const folded: string[] = [];
  if (dtype === 'F64') folded.push('float64 weights held as float32');
  let w = {
    dIn,
    dSae,
    ...(transcoder ? { dOut } : {}),
    W_enc: t.get('W_enc')!,
    b_enc: t.get('b_enc') ?? t.get('b_mag')!,
    W_dec: t.get('W_dec')!,
    b_dec: t.get('b_dec')!,
  };
  // SAELens 6 drops an all-ones scaling_factor and otherwise treats it as the fine-tuning scale.
  const scaling = t.get('scaling_factor');
  if (scaling && scaling.some((v) => v !== 1) && !finetuning)
    refuse(source, 'has a scaling_factor tensor but finetuning_scaling_factor is not true.');
  const fineScale = t.get('finetuning_scaling_factor') ?? (scaling?.some((v) => v !== 1) ? scaling : undefined);
  if (fineScale) {
    w = foldFinetuningScale(w, fineScale);
    folded.push('finetuning_scaling_factor');
  }
  if (norm === 'expected_average_only_in') {
    const s = activationScale(source, dir);
    w = { ...w, ...foldScale(w, s, s) };
    folded.push(`expected_average_only_in (scale ${s})`);
  }
  if (rescale) {
    w = foldDecoderNorm(w);
    folded.push('rescale_acts_by_decoder_norm');
  }
  let threshold = t.get('threshold');
  if (checkpoint) {
    threshold = new Float32Array(dSae).fill(roundTo(dtype, t.get('topk_threshold')![0]!));
    folded.push(`${cfg.architecture} checkpoint as JumpReLU (threshold ${threshold[0]})`);
  }
  const sae: SaeFile = {
    ...w,
    architecture: spec.activation,
    ...(k !== undefined ? { k } : {}),
    ...(threshold ? { threshold } : {}),
    ...(spec.activation === 'gated' ? { b_gate: t.get('b_gate')!, r_mag: t.get('r_mag')! } : {}),
    ...(t.has('W_skip') ? { W_skip: t.get('W_skip')! } : {}),
    applyBDecToInput,
    normalizeActivations: norm === 'expected_average_only_in' ? 'none' : norm,
    hookName: typeof metadata.hook_name === 'string' ? metadata.hook_name : null,
    ...(transcoder ? { hookNameOut: typeof metadata.hook_name_out === 'string' ? metadata.hook_name_out : null } : {}),
    modelName: typeof metadata.model_name === 'string' ? metadata.model_name : null,
    format: 'saelens',
    dtype: DTYPE_OF[dtype],
    metadata,
    folded,
  };
  checkSaeWeights(sae, source);
  return sae;
}
