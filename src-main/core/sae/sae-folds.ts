/**
 * Settings that change an SAE's encode or decode but are exact as a change of weights, folded in on
 * import so that every later path (graphs, feature pages, export) sees a plain SAE. Each follows the
 * fold SAELens itself performs, so an imported SAE encodes as SAELens encodes the original.
 */
import type { SaeWeights } from './sae-model.js';

type Weights = Pick<SaeWeights, 'dIn' | 'dSae' | 'dOut' | 'W_enc' | 'b_enc' | 'W_dec'>;

/** ||W_dec[f]|| for every feature. */
function decoderNorms(w: Weights): Float64Array {
  const dOut = w.dOut ?? w.dIn;
  const norms = new Float64Array(w.dSae);
  for (let f = 0; f < w.dSae; f++) {
    let s = 0;
    for (let j = 0; j < dOut; j++) s += w.W_dec[f * dOut + j]! ** 2;
    norms[f] = Math.sqrt(s);
  }
  return norms;
}

/**
 * TopK `rescale_acts_by_decoder_norm` (SAELens's _fold_norm_topk, applied by save_inference_model):
 * the encoder ranks pre * ||W_dec[f]|| and the decoder divides the activation by the norm again, so
 * W_enc[:, f] * n, b_enc[f] * n and W_dec[f] / n encode and decode identically. A zero decoder row
 * (where SAELens would divide 0 by 0) keeps a zero pre-activation and contributes nothing.
 */
export function foldDecoderNorm<T extends Weights>(w: T): T {
  const dOut = w.dOut ?? w.dIn;
  const n = decoderNorms(w);
  const W_enc = Float32Array.from(w.W_enc, (v, i) => v * n[i % w.dSae]!);
  const b_enc = Float32Array.from(w.b_enc, (v, f) => v * n[f]!);
  const W_dec = Float32Array.from(w.W_dec, (v, i) => (n[Math.floor(i / dOut)]! === 0 ? 0 : v / n[Math.floor(i / dOut)]!));
  return { ...w, W_enc, b_enc, W_dec };
}

/** SAELens 5's finetuning_scaling_factor: decode(z) = (z * s) W_dec + b_dec, i.e. W_dec[f] * s[f]. */
export function foldFinetuningScale<T extends Weights>(w: T, s: Float32Array): T {
  const dOut = w.dOut ?? w.dIn;
  return { ...w, W_dec: Float32Array.from(w.W_dec, (v, i) => v * s[Math.floor(i / dOut)]!) };
}
