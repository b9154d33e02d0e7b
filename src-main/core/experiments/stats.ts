/**
 * Statistics for experiments besides the bootstrap (core/stats/bootstrap.ts): a paired permutation
 * (sign-flip) test of two conditions measured on the same items, and the first-token KL divergence.
 * Seeded, with the number of resamples reported, so a re-run gives the same numbers.
 */
import { mean } from '../stats/bootstrap.js';
import { mulberry32 } from '../util/random.js';

/**
 * Two-sided paired permutation test of mean(a - b): under the null each item's difference is as
 * likely negated, so flip signs at random and count means at least as extreme. p = (hits + 1) / (R + 1).
 */
export function pairedPermutationP(a: number[], b: number[], resamples: number, seed: number): number {
  if (a.length !== b.length) throw new Error('paired test needs the same items in both conditions');
  const d = a.map((v, i) => v - b[i]!);
  const observed = Math.abs(mean(d));
  if (observed === 0) return 1;
  const rand = mulberry32(seed);
  let hits = 0;
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (const x of d) s += rand() < 0.5 ? x : -x;
    if (Math.abs(s / d.length) >= observed - 1e-12) hits++;
  }
  return (hits + 1) / (resamples + 1);
}

/** KL(p || q) of two next-token distributions given as logits. */
export function klFromLogits(p: Float32Array, q: Float32Array): number {
  const logSoftmax = (x: Float32Array) => {
    let m = -Infinity;
    for (const v of x) m = Math.max(m, v);
    let z = 0;
    for (const v of x) z += Math.exp(v - m);
    const lz = Math.log(z) + m;
    return Float64Array.from(x, (v) => v - lz);
  };
  const lp = logSoftmax(p);
  const lq = logSoftmax(q);
  let kl = 0;
  for (let i = 0; i < lp.length; i++) kl += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
  return Math.max(0, kl);
}
