/**
 * Nearest features by decoder direction: cos(W_dec[f], W_dec[g]) over every other feature g. Two
 * features that write nearly the same direction into the residual stream are near-duplicates or
 * split versions of one concept (feature splitting), which is what a reader wants to compare.
 */

/** L2 norm of each decoder row ([dSae, dOut] row-major). */
export function decoderNorms(W_dec: Float32Array, dSae: number): Float32Array {
  const d = W_dec.length / dSae;
  const norms = new Float32Array(dSae);
  for (let f = 0; f < dSae; f++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += W_dec[f * d + i]! ** 2;
    norms[f] = Math.sqrt(s);
  }
  return norms;
}

/** The n features whose decoder rows have the largest cosine with `feature`'s (zero rows are skipped). */
export function nearestByDecoderCosine(
  W_dec: Float32Array,
  dSae: number,
  feature: number,
  n: number,
  norms: Float32Array = decoderNorms(W_dec, dSae),
): Array<{ feature: number; cosine: number }> {
  const d = W_dec.length / dSae;
  const self = norms[feature]!;
  if (!(self > 0)) return [];
  const out: Array<{ feature: number; cosine: number }> = [];
  for (let g = 0; g < dSae; g++) {
    if (g === feature || !(norms[g]! > 0)) continue;
    let dot = 0;
    for (let i = 0; i < d; i++) dot += W_dec[feature * d + i]! * W_dec[g * d + i]!;
    out.push({ feature: g, cosine: dot / (self * norms[g]!) });
  }
  return out.sort((a, b) => b.cosine - a.cosine || a.feature - b.feature).slice(0, n);
}
