/**
 * Adjusted p-values for a family of comparisons (one table: tasks x conditions against baseline), as
 * R's p.adjust computes them, so a reader can reproduce them. With m p-values, sorted ascending
 * p(1) <= ... <= p(m):
 *
 *   Holm (1979), family-wise error:       p~(i) = min(1, max_{j <= i} (m - j + 1) p(j))
 *   Benjamini–Hochberg (1995), false       p~(i) = min(1, min_{j >= i} (m / j) p(j))
 *   discovery rate:
 *
 * Both are monotone in the raw p (a smaller raw p never gets a larger adjusted one), never below the raw
 * p, and capped at 1; tied raw p-values get equal adjusted ones. Holm controls the chance of any false
 * positive among the comparisons; BH the expected share of false positives among those called
 * significant — report both next to the raw p and say which one a claim uses.
 */

export type PAdjustMethod = 'holm' | 'bh';

function checked(p: readonly number[]): void {
  for (const v of p) if (!(v >= 0 && v <= 1)) throw new RangeError(`p-values lie in [0, 1], got ${v}`);
}

/** Indices of p sorted by value (stable, so equal p keep their order). */
function ascending(p: readonly number[]): number[] {
  return p.map((_, i) => i).sort((a, b) => p[a]! - p[b]! || a - b);
}

export function holmAdjust(p: readonly number[]): number[] {
  checked(p);
  const m = p.length;
  const out = new Array<number>(m);
  let running = 0;
  ascending(p).forEach((idx, rank) => {
    running = Math.max(running, (m - rank) * p[idx]!);
    out[idx] = Math.min(1, running);
  });
  return out;
}

export function benjaminiHochbergAdjust(p: readonly number[]): number[] {
  checked(p);
  const m = p.length;
  const out = new Array<number>(m);
  const order = ascending(p);
  let running = Infinity;
  for (let rank = m; rank >= 1; rank--) {
    const idx = order[rank - 1]!;
    running = Math.min(running, (m / rank) * p[idx]!);
    out[idx] = Math.min(1, running);
  }
  return out;
}

export function adjustPValues(p: readonly number[], method: PAdjustMethod): number[] {
  return method === 'holm' ? holmAdjust(p) : benjaminiHochbergAdjust(p);
}
