/**
 * Confidence intervals for a proportion (an accuracy: k correct of n items) that stay honest at 0% and 100%.
 *
 * Wilson's score interval (Wilson 1927), not a bootstrap and not BCa: at k = 0 or k = n every bootstrap
 * resample of the outcomes is identical, so any bootstrap interval — percentile or BCa — collapses to the
 * point ("100.0% [100.0%, 100.0%]"), claiming certainty from a finite sample. The Wilson interval inverts
 * the score test, so its width comes from n alone at the boundary (0 of 20 gives [0, 16.1%]); it has
 * close-to-nominal coverage for small n (Newcombe 1998, method 3; Brown, Cai & DasGupta 2001), needs no
 * resampling (a re-run gives the same numbers without a seed), and always lies inside [0, 1].
 *
 *   p = k / n,  z = Φ⁻¹(1 - (1 - level) / 2)
 *   centre = (p + z² / 2n) / (1 + z² / n)
 *   half   = z / (1 + z² / n) · sqrt(p (1 - p) / n + z² / 4n²)
 *   [lower, upper] = [centre - half, centre + half]   (exactly 0 at k = 0, exactly 1 at k = n)
 */
import { zForLevel } from './normal.js';

export interface ProportionInterval {
  successes: number;
  n: number;
  estimate: number;
  lower: number;
  upper: number;
  level: number;
  method: 'wilson';
}

export function assertCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number >= 0, got ${value}`);
}

export function wilsonInterval(successes: number, n: number, level = 0.95): ProportionInterval {
  assertCount('successes', successes);
  assertCount('n', n);
  if (n === 0) throw new RangeError('a proportion of no items has no interval');
  if (successes > n) throw new RangeError(`successes (${successes}) exceed n (${n})`);
  const z = zForLevel(level);
  const p = successes / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  return {
    successes,
    n,
    estimate: p,
    lower: successes === 0 ? 0 : Math.max(0, centre - half),
    upper: successes === n ? 1 : Math.min(1, centre + half),
    level,
    method: 'wilson',
  };
}

/** The Wilson interval of a list of outcomes (true = correct). */
export function wilsonOfOutcomes(outcomes: readonly boolean[], level = 0.95): ProportionInterval {
  return wilsonInterval(outcomes.filter(Boolean).length, outcomes.length, level);
}
