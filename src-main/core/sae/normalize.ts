/**
 * Activation normalisation as SAELens's `expected_average_only_in`: training reads activations times
 * a constant s chosen so their mean squared norm is d_in. Hyperparameters (the L1 coefficient above
 * all, which trades squared error against absolute activations) then mean the same at any layer or
 * model: residual norms here run from about 14 (first layer of the demo model) to thousands (Gemma).
 * The saved SAE reads raw activations: s is folded into the weights, as SAELens does before saving.
 */

/** s with mean_r ||s x_r||^2 = width. */
export function activationScale(data: Float32Array, rows: number, width: number): number {
  let sum = 0;
  for (let i = 0; i < rows * width; i++) sum += data[i]! * data[i]!;
  const meanSq = sum / Math.max(1, rows);
  return meanSq > 0 ? Math.sqrt(width / meanSq) : 1;
}

export function scaleInPlace(data: Float32Array, s: number): void {
  if (s !== 1) for (let i = 0; i < data.length; i++) data[i]! *= s;
}

/**
 * Weights trained on (s_in x -> s_out y) as weights on raw activations. With x' = s_in x:
 * pre = (x' - b_dec) W_enc + b_enc = (x - b_dec / s_in) (s_in W_enc) + b_enc, and the raw
 * reconstruction is (z W_dec + b_dec) / s_out; an SAE has s_in = s_out, so the centring b_dec and the
 * output b_dec agree. Feature activations z, and so thresholds, are unchanged.
 */
export function foldScale(w: { W_enc: Float32Array; W_dec: Float32Array; b_dec: Float32Array }, scaleIn: number, scaleOut: number) {
  return {
    W_enc: Float32Array.from(w.W_enc, (v) => v * scaleIn),
    W_dec: Float32Array.from(w.W_dec, (v) => v / scaleOut),
    b_dec: Float32Array.from(w.b_dec, (v) => v / scaleOut),
  };
}
