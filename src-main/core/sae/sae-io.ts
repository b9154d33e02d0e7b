/**
 * SAE files that move between Ocular and Python:
 *   - SAELens: cfg.json + sae_weights.safetensors with W_enc [d_in, d_sae], b_enc, W_dec [d_sae, d_in],
 *     b_dec, threshold (JumpReLU / BatchTopK). Both the 6.x config (architecture, metadata.hook_name)
 *     and the older flat config (hook_name, activation_fn_str / activation_fn_kwargs) are read.
 *   - sparsify (EleutherAI): cfg.json + sae.safetensors with encoder.weight / encoder.bias / W_dec /
 *     b_dec, always TopK.
 * Orientation is decided from tensor shapes against d_in and d_sae (read from the biases), never
 * from key names, because the two ecosystems store the encoder transposed relative to each other.
 * Pickled weights (.pt, .pkl, .bin) are refused: loading them could run arbitrary code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OcularError } from '../errors.js';
import type { SaeArchitecture, SaeWeights } from '../onnx/surgery.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { readSafetensors, writeSafetensors, type Tensor } from './safetensors.js';

export interface SaeFile extends SaeWeights {
  hookName: string | null;
  /** A transcoder's output tap (it reads hookName and predicts this one). */
  hookNameOut?: string | null;
  modelName: string | null;
  normalizeActivations: string;
  format: 'saelens' | 'sparsify' | 'ocular';
}

const PICKLE = /\.(pt|pth|pkl|pickle|bin|ckpt)$/i;

function transposeIfNeeded(t: Tensor, rows: number, cols: number, name: string): Float32Array {
  const [a, b] = t.shape;
  if (t.shape.length !== 2) throw new OcularError('invalid_request', `${name} must be a matrix, got shape [${t.shape}].`);
  if (a === rows && b === cols) return t.data;
  if (a === cols && b === rows) {
    const out = new Float32Array(rows * cols);
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[j * cols + i] = t.data[i * b + j]!;
    return out;
  }
  throw new OcularError('invalid_request', `${name} has shape [${t.shape}], which fits neither [${rows}, ${cols}] nor its transpose.`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a foreign cfg.json, read field by field
function architectureFrom(cfg: Record<string, any>): { architecture: SaeArchitecture; k?: number } {
  const arch = String(cfg.architecture ?? '').toLowerCase();
  const kwargs = cfg.activation_fn_kwargs ?? {};
  const k = cfg.k ?? kwargs.k;
  if (arch === 'transcoder') return { architecture: 'relu' };
  if (arch === 'topk' || cfg.activation_fn_str === 'topk' || cfg.activation_fn === 'topk') return { architecture: 'topk', k: Number(k) };
  if (arch === 'jumprelu') return { architecture: 'jumprelu' };
  if (arch === 'batchtopk') return { architecture: 'batchtopk', k: k === undefined ? undefined : Number(k) };
  if (arch === '' || arch === 'standard' || arch === 'relu' || arch === 'gated') {
    if (arch === 'gated')
      throw new OcularError('invalid_request', 'Gated SAEs are not supported yet (standard, TopK, BatchTopK and JumpReLU are).');
    return { architecture: 'relu' };
  }
  throw new OcularError('invalid_request', `Unknown SAE architecture '${cfg.architecture}'.`);
}

export function importSae(dir: string): SaeFile {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new OcularError('invalid_request', `No SAE folder at ${abs}.`);
  const files = fs.readdirSync(abs);
  const cfgFile = path.join(abs, 'cfg.json');
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
  if (!fs.existsSync(cfgFile)) throw new OcularError('invalid_request', `${abs}: cfg.json is missing.`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a foreign cfg.json, read field by field
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, any>;
  const { tensors } = readSafetensors(path.join(abs, weights));
  const need = (...names: string[]) => {
    for (const n of names) {
      const t = tensors.get(n);
      if (t) return t;
    }
    throw new OcularError('invalid_request', `${weights} has no ${names.join(' or ')} tensor.`);
  };
  const sparsify = weights === 'sae.safetensors';
  const bEnc = need('b_enc', 'encoder.bias');
  const bDec = need('b_dec');
  const dSae = bEnc.data.length;
  const dOut = bDec.data.length;
  const encT = need('W_enc', 'encoder.weight');
  // An SAE's input width is its output width; a transcoder's comes from cfg.d_in or the encoder's other axis.
  const transcoder = cfg.d_out !== undefined || cfg.metadata?.hook_name_out !== undefined;
  const dIn = transcoder ? Number(cfg.d_in ?? (encT.shape[0] === dSae ? encT.shape[1] : encT.shape[0])) : dOut;
  if (!transcoder && cfg.d_in !== undefined && Number(cfg.d_in) !== dIn)
    throw new OcularError('invalid_request', `cfg.json says d_in ${cfg.d_in} but b_dec has ${dIn} values.`);
  if (transcoder && cfg.d_out !== undefined && Number(cfg.d_out) !== dOut)
    throw new OcularError('invalid_request', `cfg.json says d_out ${cfg.d_out} but b_dec has ${dOut} values.`);
  const wEnc = transposeIfNeeded(encT, dIn, dSae, 'the encoder weight');
  const wDec = transposeIfNeeded(need('W_dec'), dSae, dOut, 'W_dec');
  const arch = sparsify ? { architecture: 'topk' as const, k: Number(cfg.k) } : architectureFrom(cfg);
  const threshold = tensors.get('threshold')?.data;
  if ((arch.architecture === 'jumprelu' || arch.architecture === 'batchtopk') && !threshold) {
    throw new OcularError('invalid_request', `A ${arch.architecture} SAE needs a threshold tensor in ${weights}.`);
  }
  const meta = cfg.metadata ?? {};
  return {
    ...arch,
    dIn,
    dSae,
    ...(transcoder ? { dOut, hookNameOut: (cfg.metadata?.hook_name_out ?? null) as string | null } : {}),
    W_enc: wEnc,
    b_enc: bEnc.data,
    W_dec: wDec,
    b_dec: bDec.data,
    threshold,
    applyBDecToInput: sparsify ? true : Boolean(cfg.apply_b_dec_to_input ?? true),
    hookName: (meta.hook_name ?? cfg.hook_name ?? cfg.hookpoint ?? null) as string | null,
    modelName: (meta.model_name ?? cfg.model_name ?? null) as string | null,
    normalizeActivations: String(cfg.normalize_activations ?? 'none'),
    format: sparsify ? 'sparsify' : 'saelens',
  };
}

const SAELENS_ARCH: Record<SaeArchitecture, string> = { relu: 'standard', topk: 'topk', batchtopk: 'batchtopk', jumprelu: 'jumprelu' };

export function exportSaeLens(sae: Omit<SaeFile, 'format'>, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const dOut = sae.dOut ?? sae.dIn;
  const transcoder = sae.dOut !== undefined;
  const tensors: Record<string, Tensor> = {
    W_enc: { shape: [sae.dIn, sae.dSae], data: sae.W_enc },
    b_enc: { shape: [sae.dSae], data: sae.b_enc },
    W_dec: { shape: [sae.dSae, dOut], data: sae.W_dec },
    b_dec: { shape: [dOut], data: sae.b_dec },
  };
  if (sae.threshold) tensors.threshold = { shape: [sae.dSae], data: sae.threshold };
  writeSafetensors(path.join(dir, 'sae_weights.safetensors'), tensors);
  const cfg = {
    // SAELens names a ReLU transcoder 'transcoder'; other transcoders keep their activation's name plus d_out.
    architecture: transcoder && sae.architecture === 'relu' ? 'transcoder' : SAELENS_ARCH[sae.architecture],
    d_in: sae.dIn,
    d_sae: sae.dSae,
    ...(transcoder ? { d_out: dOut } : {}),
    ...(sae.k !== undefined ? { k: sae.k } : {}),
    apply_b_dec_to_input: sae.applyBDecToInput,
    normalize_activations: sae.normalizeActivations,
    dtype: 'float32',
    device: 'cpu',
    reshape_activations: 'none',
    metadata: {
      hook_name: sae.hookName,
      ...(transcoder ? { hook_name_out: sae.hookNameOut ?? null } : {}),
      model_name: sae.modelName,
      hook_head_index: null,
      prepend_bos: true,
      exported_by: 'ocular',
    },
  };
  writeFileAtomic(path.join(dir, 'cfg.json'), JSON.stringify(cfg, null, 2) + '\n');
}

/** Feature activations for rows of x ([n, d_in] row-major), in plain TypeScript (reference math). */
export function encode(sae: SaeWeights, x: Float32Array): Float32Array {
  const n = x.length / sae.dIn;
  const out = new Float32Array(n * sae.dSae);
  for (let r = 0; r < n; r++) {
    const pre = new Float32Array(sae.dSae);
    for (let j = 0; j < sae.dSae; j++) pre[j] = sae.b_enc[j]!;
    for (let i = 0; i < sae.dIn; i++) {
      const xi = x[r * sae.dIn + i]! - (sae.applyBDecToInput ? sae.b_dec[i]! : 0);
      if (xi === 0) continue;
      const row = i * sae.dSae;
      for (let j = 0; j < sae.dSae; j++) pre[j]! += xi * sae.W_enc[row + j]!;
    }
    let act: Float32Array;
    if (sae.architecture === 'topk') {
      act = new Float32Array(sae.dSae);
      const idx = Array.from(pre.keys())
        .sort((a, b) => pre[b]! - pre[a]!)
        .slice(0, sae.k);
      for (const j of idx) act[j] = Math.max(0, pre[j]!);
    } else if (sae.architecture === 'relu') {
      act = pre.map((v) => Math.max(0, v));
    } else {
      act = pre.map((v, j) => (v > sae.threshold![j]! ? Math.max(0, v) : 0));
    }
    out.set(act, r * sae.dSae);
  }
  return out;
}
