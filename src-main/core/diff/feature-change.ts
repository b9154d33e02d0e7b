/**
 * What changed inside a model between two checkpoints, seen through one SAE on the same items and tokens.
 *
 * Per model m and item i, over the item's tokens t (the same tokens in both: one architecture, one
 * tokenizer): fires[m,i,f] = #{t : z_tf > bound}, act[m,i,f] = Σ_t z_tf, tokens[i]. Then
 *   firing rate      r_m(f) = Σ_i fires[m,i,f] / Σ_i tokens[i]        Wilson 95% interval (tokens as trials)
 *   mean activation  a_m(f) = Σ_i act[m,i,f]   / Σ_i tokens[i]        (zeros included)
 *   changes          Δr = r_tuned - r_base,  Δa = a_tuned - a_base     95% paired percentile bootstrap over
 *                    items (the same seeded resamples of items for every feature; tokens of one item are not
 *                    independent, so items, not tokens, are resampled)
 *   FVU_m = Σ‖x − x̂‖² / Σ‖x − x̄‖² over the tokens (x̄ the per-dimension mean), the SAE's reconstruction x̂.
 * A feature appears when r_base < quietRate and r_tuned ≥ activeRate, vanishes when the reverse holds.
 */
import { wilsonInterval } from '../stats/proportion.js';
import { mulberry32 } from '../util/random.js';

export interface DiffThresholds {
  bound: number;
  quietRate: number;
  activeRate: number;
}

/** Both models' per-item feature counts and sums, and the FVU sums. */
export class DiffAccumulator {
  readonly fires: [Float64Array, Float64Array];
  readonly acts: [Float64Array, Float64Array];
  readonly tokens: Float64Array;
  private readonly sse = [0, 0];
  private readonly sumSq = [0, 0];
  private readonly sumX: [Float64Array, Float64Array];

  constructor(
    readonly items: number,
    readonly dSae: number,
    readonly dIn: number,
    readonly bound: number,
  ) {
    const size = items * dSae;
    this.fires = [new Float64Array(size), new Float64Array(size)];
    this.acts = [new Float64Array(size), new Float64Array(size)];
    this.tokens = new Float64Array(items);
    this.sumX = [new Float64Array(dIn), new Float64Array(dIn)];
  }

  /** One item's tokens under one model: inputs x [n, dIn], reconstructions xhat [n, dIn], activations z [n, dSae]. */
  add(model: 0 | 1, item: number, x: Float32Array, xhat: Float32Array, z: Float32Array): void {
    const n = z.length / this.dSae;
    if (model === 0) this.tokens[item]! += n;
    const fires = this.fires[model];
    const acts = this.acts[model];
    const off = item * this.dSae;
    for (let t = 0; t < n; t++)
      for (let f = 0; f < this.dSae; f++) {
        const v = z[t * this.dSae + f]!;
        if (v > this.bound) fires[off + f]! += 1;
        acts[off + f]! += v;
      }
    const sx = this.sumX[model];
    for (let k = 0; k < n * this.dIn; k++) {
      const v = x[k]!;
      this.sse[model]! += (v - xhat[k]!) ** 2;
      this.sumSq[model]! += v * v;
      sx[k % this.dIn]! += v;
    }
  }

  fvu(model: 0 | 1): number {
    const n = this.tokens.reduce((a, b) => a + b, 0);
    let centred = this.sumSq[model]!;
    for (const s of this.sumX[model]) centred -= (s * s) / n;
    return this.sse[model]! / centred;
  }
}

export interface FeatureChange {
  feature: number;
  rate: { base: number; tuned: number; baseCi95: [number, number]; tunedCi95: [number, number] };
  rateChange: { value: number; ci95: [number, number] };
  meanChange: { base: number; tuned: number; value: number; ci95: [number, number] };
  status: 'appears' | 'vanishes' | null;
}

/** Seeded resamples of item indices (shared by every feature, so their intervals use the same draws). */
export function itemResamples(items: readonly number[], resamples: number, seed: number): Int32Array[] {
  const rand = mulberry32(seed);
  return Array.from({ length: resamples }, () => Int32Array.from(items, () => items[Math.floor(rand() * items.length)]!));
}

const percentile = (values: Float64Array, level = 0.95): [number, number] => {
  values.sort();
  const r = values.length;
  return [values[Math.floor(((1 - level) / 2) * (r - 1))]!, values[Math.ceil((1 - (1 - level) / 2) * (r - 1))]!];
};

/** Pooled per-token change of one per-item quantity (fires or acts) over `items`, with its bootstrap interval. */
export function pooledChange(
  base: Float64Array,
  tuned: Float64Array,
  tokens: Float64Array,
  dSae: number,
  f: number,
  items: readonly number[],
  resamples: Int32Array[],
): { base: number; tuned: number; value: number; ci95: [number, number] } {
  const at = (arr: Float64Array, idx: ArrayLike<number>) => {
    let s = 0;
    let n = 0;
    for (let j = 0; j < idx.length; j++) {
      s += arr[idx[j]! * dSae + f]!;
      n += tokens[idx[j]!]!;
    }
    return n > 0 ? s / n : 0;
  };
  const b = at(base, items);
  const t = at(tuned, items);
  const draws = new Float64Array(resamples.length);
  resamples.forEach((idx, r) => (draws[r] = at(tuned, idx) - at(base, idx)));
  return { base: b, tuned: t, value: t - b, ci95: percentile(draws) };
}

/** Every feature's change over all items. */
export function featureChanges(acc: DiffAccumulator, th: DiffThresholds, resamples: Int32Array[]): FeatureChange[] {
  const all = Array.from({ length: acc.items }, (_, i) => i);
  const totalTokens = acc.tokens.reduce((a, b) => a + b, 0);
  const out: FeatureChange[] = [];
  for (let f = 0; f < acc.dSae; f++) {
    const count = (m: 0 | 1) => {
      let s = 0;
      for (let i = 0; i < acc.items; i++) s += acc.fires[m][i * acc.dSae + f]!;
      return s;
    };
    const wb = wilsonInterval(count(0), totalTokens);
    const wt = wilsonInterval(count(1), totalTokens);
    const rc = pooledChange(acc.fires[0], acc.fires[1], acc.tokens, acc.dSae, f, all, resamples);
    const mc = pooledChange(acc.acts[0], acc.acts[1], acc.tokens, acc.dSae, f, all, resamples);
    const status =
      wb.estimate < th.quietRate && wt.estimate >= th.activeRate
        ? 'appears'
        : wt.estimate < th.quietRate && wb.estimate >= th.activeRate
          ? 'vanishes'
          : null;
    out.push({
      feature: f,
      rate: { base: wb.estimate, tuned: wt.estimate, baseCi95: [wb.lower, wb.upper], tunedCi95: [wt.lower, wt.upper] },
      rateChange: { value: rc.value, ci95: rc.ci95 },
      meanChange: mc,
      status,
    });
  }
  return out;
}

/** Features ordered by how far their mean activation moved, those whose interval excludes 0 first. */
export function mostMoved(changes: readonly FeatureChange[], n: number): FeatureChange[] {
  const excludes0 = (c: FeatureChange) => c.meanChange.ci95[0] > 0 || c.meanChange.ci95[1] < 0;
  return [...changes]
    .sort(
      (a, b) =>
        Number(excludes0(b)) - Number(excludes0(a)) || Math.abs(b.meanChange.value) - Math.abs(a.meanChange.value) || a.feature - b.feature,
    )
    .slice(0, n);
}
