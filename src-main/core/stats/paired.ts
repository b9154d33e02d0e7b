/**
 * The effect of a condition on accuracy, measured on the same items: the paired difference of two
 * proportions, with a confidence interval and an exact-style test. Items are paired (each item answered
 * under both conditions), so the counts that matter are the discordant ones:
 *
 *                     second correct   second wrong
 *   first correct          a                b            p1 = (a + b) / n
 *   first wrong            c                d            p2 = (a + c) / n,   D = p1 - p2 = (b - c) / n
 *
 * Interval: Newcombe's hybrid score ("square-and-add") interval for paired data, method 10 of Newcombe
 * (Stat Med 17:2635, 1998). It combines the Wilson intervals [l1, u1], [l2, u2] of p1 and p2 with the
 * correlation φ of the pairs:
 *   L = D - sqrt((p1 - l1)² - 2φ (p1 - l1)(u2 - p2) + (u2 - p2)²)
 *   U = D + sqrt((p2 - l2)² - 2φ (p2 - l2)(u1 - p1) + (u1 - p1)²)
 *   φ = (ad - bc - n/2) / sqrt((a+b)(c+d)(a+c)(b+d)) when ad - bc > n/2, 0 when 0 <= ad - bc <= n/2,
 *       (ad - bc) / sqrt(...) when ad - bc < 0, and 0 when a margin is empty.
 * Why this one: closed form and deterministic, inside [-1, 1], and — unlike a Wald or a bootstrap interval,
 * which collapse to [0, 0] when both conditions score 100% or 0% — it keeps the width the sample size
 * warrants (60 of 60 under both: D = 0, [-6.0, +6.0] points). Newcombe found its coverage close to nominal;
 * checked here against the published Fagerland, Lydersen & Laake example (Cavo et al. 2012).
 *
 * Test: the mid-p McNemar test (Fagerland, Lydersen & Laake, BMC Med Res Methodol 13:91, 2013): under
 * no effect the discordant pairs split b ~ Binomial(b + c, 1/2);
 *   p = min(1, 2 [P(X < min(b, c)) + ½ P(X = min(b, c))]),
 * which keeps the nominal level in practice without the exact test's conservatism.
 */
import { assertCount, wilsonInterval } from './proportion.js';

export interface PairedTable {
  /** a: correct under both conditions. */
  both: number;
  /** b: correct under the first only. */
  firstOnly: number;
  /** c: correct under the second only. */
  secondOnly: number;
  /** d: wrong under both. */
  neither: number;
}

export interface PairedDifference {
  /** p1 - p2, the first condition's accuracy minus the second's. */
  difference: number;
  lower: number;
  upper: number;
  level: number;
  n: number;
  method: 'newcombe-hybrid-score';
}

/** The paired table of two conditions' outcomes on the same items, in the same order. */
export function pairedTable(first: readonly boolean[], second: readonly boolean[]): PairedTable {
  if (first.length !== second.length) throw new RangeError(`paired outcomes need the same items: ${first.length} vs ${second.length}`);
  const t: PairedTable = { both: 0, firstOnly: 0, secondOnly: 0, neither: 0 };
  first.forEach((f, i) => {
    const s = second[i]!;
    if (f && s) t.both++;
    else if (f) t.firstOnly++;
    else if (s) t.secondOnly++;
    else t.neither++;
  });
  return t;
}

function checkedSize(t: PairedTable): number {
  for (const [name, v] of Object.entries(t)) assertCount(name, v);
  const n = t.both + t.firstOnly + t.secondOnly + t.neither;
  if (n === 0) throw new RangeError('a paired difference of no items has no interval');
  return n;
}

/** φ with Newcombe's correction (see the header). */
function pairCorrelation(t: PairedTable, n: number): number {
  const { both: a, firstOnly: b, secondOnly: c, neither: d } = t;
  const margins = (a + b) * (c + d) * (a + c) * (b + d);
  if (margins === 0) return 0;
  const cross = a * d - b * c;
  if (cross > n / 2) return (cross - n / 2) / Math.sqrt(margins);
  return cross >= 0 ? 0 : cross / Math.sqrt(margins);
}

export function pairedDifferenceInterval(t: PairedTable, level = 0.95): PairedDifference {
  const n = checkedSize(t);
  const first = wilsonInterval(t.both + t.firstOnly, n, level);
  const second = wilsonInterval(t.both + t.secondOnly, n, level);
  const phi = pairCorrelation(t, n);
  const [p1, p2] = [first.estimate, second.estimate];
  const difference = (t.firstOnly - t.secondOnly) / n;
  const below = Math.sqrt((p1 - first.lower) ** 2 - 2 * phi * (p1 - first.lower) * (second.upper - p2) + (second.upper - p2) ** 2);
  const above = Math.sqrt((p2 - second.lower) ** 2 - 2 * phi * (p2 - second.lower) * (first.upper - p1) + (first.upper - p1) ** 2);
  return {
    difference,
    lower: Math.max(-1, difference - below),
    upper: Math.min(1, difference + above),
    level,
    n,
    method: 'newcombe-hybrid-score',
  };
}

/** Two-sided mid-p McNemar test of "no difference" (see the header); 1 when no pair is discordant. */
export function mcnemarMidP(t: PairedTable): number {
  checkedSize(t);
  const m = t.firstOnly + t.secondOnly;
  if (m === 0) return 1;
  const k = Math.min(t.firstOnly, t.secondOnly);
  // Binomial(m, 1/2) probabilities in log space: C(m, i) / 2^m underflows for m above about 1000.
  const logHalf = m * Math.log(0.5);
  let logChoose = 0; // log C(m, 0)
  let tail = 0;
  for (let i = 0; i < k; i++) {
    tail += Math.exp(logChoose + logHalf);
    logChoose += Math.log((m - i) / (i + 1));
  }
  tail += 0.5 * Math.exp(logChoose + logHalf);
  return Math.min(1, 2 * tail);
}
