/**
 * SAE folders moving between Ocular and Python. Import reads SAELens (cfg.json +
 * sae_weights.safetensors) and sparsify (cfg.json + sae.safetensors) folders, validating everything
 * (config, safetensors structure, shapes against the config, finite values) before anything is
 * written; see saelens-format.ts and sparsify-format.ts for what each setting becomes.
 *
 * Export writes a folder SAELens 6 loads (SAE.load_from_disk): its 6.x config with every metadata
 * field kept, in the SAE's own dtype where the values allow, never into a non-empty folder and only
 * for architectures SAELens has a class for. The workspace keeps each SAE in the same layout; where
 * SAELens has no class (a TopK or groupmax transcoder, a skip connection outside a ReLU transcoder)
 * the copy names the activation and Ocular reads it back, but export refuses it.
 * Pickled weights (.pt, .pkl, .bin) are refused: loading them could run arbitrary code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OcularError } from '../errors.js';
import { describeWriteError, fsyncDir, writeFileAtomic } from '../util/atomic-file.js';
import { readCfg, STORAGE_OF, type SaeDtype, type SaeFile } from './sae-file.js';
import { checkSaeWeights, outWidth } from './sae-model.js';
import { readSaeLens } from './saelens-format.js';
import { readSafetensorsHeader, representable, writeSafetensors, type Tensor } from './safetensors.js';
import { readSparsify } from './sparsify-format.js';

export type { SaeFile } from './sae-file.js';
export { encode, decode } from './sae-encode.js';

const PICKLE = /\.(pt|pth|pkl|pickle|bin|ckpt)$/i;
/** The SAELens release whose config layout export follows (metadata.sae_lens_version marks it as 6.x). */
export const SAELENS_FORMAT_VERSION = '6.18.0';

export function importSae(dir: string): SaeFile {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new OcularError('invalid_request', `No SAE folder at ${abs}.`);
  const files = fs.readdirSync(abs);
  const weights = ['sae_weights.safetensors', 'sae.safetensors'].find((f) => files.includes(f));
  if (!weights) {
    const pickled = files.filter((f) => PICKLE.test(f));
    if (pickled.length > 0) {
      throw new OcularError(
        'invalid_request',
        `${abs} holds pickled weights (${pickled.join(', ')}). Ocular never unpickles files, since that can run arbitrary code; convert them to safetensors in Python first.`,
      );
    }
    throw new OcularError('invalid_request', `${abs} has no sae_weights.safetensors (SAELens) or sae.safetensors (sparsify).`);
  }
  if (!files.includes('cfg.json')) throw new OcularError('invalid_request', `${abs}: cfg.json is missing.`);
  const cfg = readCfg(path.join(abs, 'cfg.json'));
  const header = readSafetensorsHeader(path.join(abs, weights));
  return weights === 'sae.safetensors' ? readSparsify(abs, cfg, header) : readSaeLens(abs, cfg, header);
}

/** The SAELens 6.18 class an SAE loads as, or why none exists. */
export function saeLensArchitecture(sae: Omit<SaeFile, 'format'>): { name: string } | { missing: string } {
  const transcoder = sae.dOut !== undefined;
  if (transcoder) {
    if (sae.applyBDecToInput) return { missing: 'a transcoder centred by b_dec' };
    if (sae.architecture === 'relu') return { name: sae.W_skip ? 'skip_transcoder' : 'transcoder' };
    if (sae.architecture === 'jumprelu' && !sae.W_skip) return { name: 'jumprelu_transcoder' };
    return { missing: `a ${sae.architecture} transcoder${sae.W_skip ? ' with a skip connection' : ''}` };
  }
  if (sae.W_skip) return { missing: 'an SAE with a skip connection (W_skip)' };
  if (sae.architecture === 'groupmax') return { missing: 'a groupmax activation (sparsify)' };
  return { name: sae.architecture === 'relu' ? 'standard' : sae.architecture };
}

/** The dtype the weights are written in: the SAE's own where every value survives it, else float32. */
function storageDtype(sae: Omit<SaeFile, 'format'>, tensors: Record<string, Tensor>): SaeDtype {
  const own = sae.dtype ?? 'float32';
  return Object.values(tensors).every((t) => representable(STORAGE_OF[own], t.data)) ? own : 'float32';
}

function saeLensTensors(sae: Omit<SaeFile, 'format'>): Record<string, Tensor> {
  const dOut = outWidth(sae);
  const tensors: Record<string, Tensor> = {
    W_enc: { shape: [sae.dIn, sae.dSae], data: sae.W_enc },
    W_dec: { shape: [sae.dSae, dOut], data: sae.W_dec },
    b_dec: { shape: [dOut], data: sae.b_dec },
  };
  if (sae.architecture === 'gated') {
    tensors.b_mag = { shape: [sae.dSae], data: sae.b_enc };
    tensors.b_gate = { shape: [sae.dSae], data: sae.b_gate! };
    tensors.r_mag = { shape: [sae.dSae], data: sae.r_mag! };
  } else tensors.b_enc = { shape: [sae.dSae], data: sae.b_enc };
  if (sae.architecture === 'jumprelu') tensors.threshold = { shape: [sae.dSae], data: sae.threshold! };
  if (sae.W_skip) tensors.W_skip = { shape: [dOut, sae.dIn], data: sae.W_skip };
  return tensors;
}

/** SAELens 6's cfg.json for this SAE (the fields SAEConfig.to_dict writes, then metadata and architecture). */
function saeLensConfig(sae: Omit<SaeFile, 'format'>, architecture: string, dtype: SaeDtype): Record<string, unknown> {
  const kept = sae.metadata ?? {};
  const version =
    typeof kept.sae_lens_version === 'string' && Number.parseInt(kept.sae_lens_version, 10) >= 6 ? kept.sae_lens_version : null;
  const metadata: Record<string, unknown> = {
    ...kept,
    sae_lens_version: version ?? SAELENS_FORMAT_VERSION,
    sae_lens_training_version: kept.sae_lens_training_version ?? null,
    model_name: sae.modelName,
    hook_name: sae.hookName,
    hook_head_index: kept.hook_head_index ?? null,
    ...(sae.dOut !== undefined ? { hook_name_out: sae.hookNameOut ?? null } : {}),
  };
  if (!version) metadata.exported_by = 'ocular';
  return {
    d_in: sae.dIn,
    d_sae: sae.dSae,
    dtype,
    device: 'cpu',
    apply_b_dec_to_input: sae.applyBDecToInput,
    normalize_activations: sae.normalizeActivations ?? 'none',
    reshape_activations: 'none',
    metadata,
    ...(sae.dOut !== undefined ? { d_out: sae.dOut } : {}),
    // Decoder-norm rescaling is folded into the weights on import, so it is off here.
    ...(sae.architecture === 'topk' || sae.architecture === 'groupmax' ? { k: sae.k, rescale_acts_by_decoder_norm: false } : {}),
    architecture,
  };
}

/**
 * Writes the SAE as a SAELens folder at `dir`, which must not exist or be empty: the files go into
 * a temp folder beside it that is renamed into place, so a failure leaves nothing behind.
 */
export function writeSaeFolder(sae: Omit<SaeFile, 'format'>, dir: string, options: { replace?: boolean } = {}): void {
  checkSaeWeights(sae);
  const arch = saeLensArchitecture(sae);
  const tensors = saeLensTensors(sae);
  const dtype = storageDtype(sae, tensors);
  const target = path.resolve(dir);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  try {
    fs.mkdirSync(tmp, { recursive: true });
    writeSafetensors(path.join(tmp, 'sae_weights.safetensors'), tensors, {}, STORAGE_OF[dtype]);
    const cfg = saeLensConfig(sae, 'name' in arch ? arch.name : sae.architecture === 'relu' ? 'standard' : sae.architecture, dtype);
    writeFileAtomic(path.join(tmp, 'cfg.json'), JSON.stringify(cfg, null, 2) + '\n');
    if (fs.existsSync(target)) {
      if (!options.replace && fs.readdirSync(target).length > 0)
        throw new OcularError('conflict', `${target} is not empty; choose an empty or new folder.`);
      fs.rmSync(target, { recursive: true, force: true });
    }
    fs.renameSync(tmp, target);
    fsyncDir(path.dirname(target));
  } catch (err) {
    throw err instanceof OcularError ? err : describeWriteError(err, target);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** `ocular sae export`: a folder SAELens 6 loads, or a one-line refusal before anything is written. */
export function exportSae(sae: Omit<SaeFile, 'format'>, dir: string): string {
  const target = path.resolve(dir);
  if (fs.existsSync(target)) {
    if (!fs.statSync(target).isDirectory())
      throw new OcularError('invalid_request', `${target} is a file; export writes a folder (cfg.json + sae_weights.safetensors).`);
    if (fs.readdirSync(target).length > 0) throw new OcularError('conflict', `${target} is not empty; choose an empty or new folder.`);
  }
  const arch = saeLensArchitecture(sae);
  if ('missing' in arch)
    throw new OcularError(
      'invalid_request',
      `SAELens 6.18 has no class for ${arch.missing} (it has standard, gated, topk, jumprelu, transcoder, skip_transcoder and jumprelu_transcoder), so this SAE cannot be exported in a form SAELens loads.`,
    );
  fs.mkdirSync(path.dirname(target), { recursive: true });
  writeSaeFolder(sae, target);
  return target;
}
