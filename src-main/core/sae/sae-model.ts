/**
 * What an SAE is to Ocular, in one definition that every path follows (the reference maths in
 * sae-encode.ts, the SAE edit graph, the analysis encoder, feature pages). For input x (a row of
 * the tap it reads):
 *
 *   x'  = norm(x)                          none | layer_norm | constant_norm_rescale (SAELens, per row)
 *   u   = (x' - [apply_b_dec] b_dec) W_enc
 *   relu      z = ReLU(u + b_enc)
 *   jumprelu  z = ReLU(u + b_enc) * [u + b_enc > threshold]
 *   topk      z = ReLU on the k largest of u + b_enc, 0 elsewhere
 *   groupmax  z = ReLU on the largest of u + b_enc in each of k equal contiguous groups (sparsify)
 *   gated     z = [u + b_gate > 0] * ReLU(u * exp(r_mag) + b_enc)      (b_enc is SAELens's b_mag)
 *   recon = denorm(z W_dec + b_dec) + x W_skip^T                       (W_skip only when present)
 *
 * A transcoder (dOut set) reads one tap and predicts another: SAELens applies its input
 * normalisation but never de-normalises the output, and it is never centred by b_dec of another
 * width. Settings that are exact as a change of weights (decoder-norm rescaling, fine-tuning scale,
 * a known constant activation scale) are folded in on import, so they never appear here.
 */
import { OcularError } from '../errors.js';

export type SaeArchitecture = 'relu' | 'topk' | 'jumprelu' | 'gated' | 'groupmax';
export type SaeNormalization = 'none' | 'layer_norm' | 'constant_norm_rescale';

/** SAELens's layer_norm epsilon (added to the standard deviation, not the variance). */
export const LAYER_NORM_EPS = 1e-5;

export interface SaeWeights {
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  /** Output width of a transcoder; absent for an SAE (which reconstructs its input). */
  dOut?: number;
  /** Row-major [dIn, dSae]. */
  W_enc: Float32Array;
  /** [dSae]; for gated SAEs the magnitude path's bias (SAELens's b_mag). */
  b_enc: Float32Array;
  /** Row-major [dSae, dOut ?? dIn]. */
  W_dec: Float32Array;
  b_dec: Float32Array;
  /** JumpReLU: [dSae]. */
  threshold?: Float32Array;
  /** TopK: active features per row; groupmax: number of groups. Informational for other architectures. */
  k?: number;
  /** Gated: the gate path's bias and the magnitude path's log-scale, each [dSae]. */
  b_gate?: Float32Array;
  r_mag?: Float32Array;
  /** Skip connection, row-major [dOut ?? dIn, dIn]: recon += x W_skip^T on the raw input. */
  W_skip?: Float32Array;
  applyBDecToInput: boolean;
  /** Per-row input normalisation (absent: none). */
  normalizeActivations?: SaeNormalization;
}

export const outWidth = (sae: SaeWeights): number => sae.dOut ?? sae.dIn;

/** Checks an SAE's internal consistency; every message names what is wrong. */
export function checkSaeWeights(sae: SaeWeights, what = 'The SAE'): void {
  const bad = (msg: string): never => {
    throw new OcularError('invalid_request', `${what}: ${msg}`);
  };
  for (const [name, v] of [
    ['d_in', sae.dIn],
    ['d_sae', sae.dSae],
    ['d_out', sae.dOut ?? 1],
  ] as const)
    if (!Number.isSafeInteger(v) || v <= 0) bad(`${name} must be a positive integer, got ${v}.`);
  const dOut = outWidth(sae);
  const expect = (name: string, got: Float32Array | undefined, want: number) => {
    if (!got) bad(`the ${sae.architecture} architecture needs ${name}.`);
    else if (got.length !== want)
      bad(`${name} has ${got.length} values; expected ${want} (d_in ${sae.dIn}, d_sae ${sae.dSae}, d_out ${dOut}).`);
  };
  expect('W_enc', sae.W_enc, sae.dIn * sae.dSae);
  expect('b_enc', sae.b_enc, sae.dSae);
  expect('W_dec', sae.W_dec, sae.dSae * dOut);
  expect('b_dec', sae.b_dec, dOut);
  if (sae.W_skip) expect('W_skip', sae.W_skip, dOut * sae.dIn);
  if (sae.applyBDecToInput && dOut !== sae.dIn) bad(`apply_b_dec_to_input needs b_dec of width d_in ${sae.dIn}, but it has ${dOut}.`);
  switch (sae.architecture) {
    case 'relu':
      break;
    case 'jumprelu':
      expect('threshold', sae.threshold, sae.dSae);
      break;
    case 'gated':
      expect('b_gate', sae.b_gate, sae.dSae);
      expect('r_mag', sae.r_mag, sae.dSae);
      break;
    case 'topk':
    case 'groupmax': {
      const k = sae.k;
      if (k === undefined || !Number.isSafeInteger(k) || k < 1 || k > sae.dSae)
        bad(`k must be an integer from 1 to d_sae (${sae.dSae}), got ${k}.`);
      if (sae.architecture === 'groupmax' && sae.dSae % k! !== 0) bad(`groupmax needs d_sae (${sae.dSae}) divisible by k (${k}).`);
      break;
    }
    default:
      bad(`unknown architecture '${String(sae.architecture)}'.`);
  }
  const norm = sae.normalizeActivations ?? 'none';
  if (norm !== 'none' && norm !== 'layer_norm' && norm !== 'constant_norm_rescale') bad(`unknown normalize_activations '${norm}'.`);
}
