/**
 * Next-token cross-entropy over a teacher-forced batch, the measure spliced-in SAE evaluation
 * compares between the clean model, the model with the SAE's reconstruction in place of the tap,
 * and the model with the tap zero-ablated.
 */

/** Sum of -log p(target) over the given (row, position) pairs; logits [B, L, V] row-major. */
export function crossEntropySum(
  logits: Float32Array,
  length: number,
  vocab: number,
  targets: Array<{ row: number; position: number; token: number }>,
): number {
  let sum = 0;
  for (const { row, position, token } of targets) {
    const offset = (row * length + position) * vocab;
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]!);
    let z = 0;
    for (let v = 0; v < vocab; v++) z += Math.exp(logits[offset + v]! - max);
    sum += Math.log(z) + max - logits[offset + token]!;
  }
  return sum;
}

/**
 * CE loss recovered: 1 when splicing costs nothing, 0 when it is as bad as zero-ablating the tap
 * (SAELens's definition: (CE_zero - CE_spliced) / (CE_zero - CE_clean)).
 */
export function lossRecovered(clean: number, spliced: number, zeroAblated: number): number {
  const denominator = zeroAblated - clean;
  return denominator === 0 ? 1 : (zeroAblated - spliced) / denominator;
}
