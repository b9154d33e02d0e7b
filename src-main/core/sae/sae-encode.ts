/**
 * The SAE maths of sae-model.ts in plain TypeScript: the reference the ONNX graphs are tested
 * against, and what feature pages use to recompute one feature on a few rows. Sums run in float64.
 */
import { LAYER_NORM_EPS, outWidth, type SaeWeights } from './sae-model.js';

/** Per-row normalisation: x' = (x - shift) * gain on the way in; y * unscale + shift on the way out. */
interface RowNorm {
  gain: number;
  shift: number;
  unscale: number;
}

export function rowNorm(sae: SaeWeights, x: Float32Array, row: number): RowNorm {
  const d = sae.dIn;
  const norm = sae.normalizeActivations ?? 'none';
  if (norm === 'none') return { gain: 1, shift: 0, unscale: 1 };
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < d; i++) {
    const v = x[row * d + i]!;
    sum += v;
    sq += v * v;
  }
  if (norm === 'constant_norm_rescale') {
    // SAELens: x * sqrt(d_in) / ||x||, and the output divided by the same coefficient.
    const c = Math.sqrt(d) / Math.sqrt(sq);
    return { gain: c, shift: 0, unscale: 1 / c };
  }
  // SAELens layer_norm: (x - mean) / (std + 1e-5) with torch's unbiased std; out: y * std + mean.
  const mean = sum / d;
  let ss = 0;
  for (let i = 0; i < d; i++) ss += (x[row * d + i]! - mean) ** 2;
  const std = Math.sqrt(ss / (d - 1));
  return { gain: 1 / (std + LAYER_NORM_EPS), shift: mean, unscale: std };
}

/** The encoder's input for one row: normalised, then centred by b_dec when the SAE says so. */
export function encoderInput(sae: SaeWeights, x: Float32Array, row: number, norm = rowNorm(sae, x, row)): Float64Array {
  const out = new Float64Array(sae.dIn);
  for (let i = 0; i < sae.dIn; i++) out[i] = (x[row * sae.dIn + i]! - norm.shift) * norm.gain - (sae.applyBDecToInput ? sae.b_dec[i]! : 0);
  return out;
}

/** u_f = x_in . W_enc[:, f] for the given features. */
function project(sae: SaeWeights, xin: Float64Array, features: Iterable<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of features) {
    let u = 0;
    for (let i = 0; i < sae.dIn; i++) u += xin[i]! * sae.W_enc[i * sae.dSae + f]!;
    out.set(f, u);
  }
  return out;
}

/** The activation of feature f given u_f, for the architectures that decide per feature. */
function perFeature(sae: SaeWeights, f: number, u: number): number {
  if (sae.architecture === 'gated') {
    const open = u + sae.b_gate![f]! > 0;
    return open ? Math.max(0, u * Math.exp(sae.r_mag![f]!) + sae.b_enc[f]!) : 0;
  }
  const pre = u + sae.b_enc[f]!;
  if (sae.architecture === 'jumprelu') return pre > sae.threshold![f]! ? Math.max(0, pre) : 0;
  return Math.max(0, pre);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Feature activations for rows of x ([n, d_in] row-major). */
export function encode(sae: SaeWeights, x: Float32Array): Float32Array {
  const n = x.length / sae.dIn;
  const out = new Float32Array(n * sae.dSae);
  const all = range(0, sae.dSae);
  for (let r = 0; r < n; r++) {
    const u = project(sae, encoderInput(sae, x, r), all);
    const z = out.subarray(r * sae.dSae, (r + 1) * sae.dSae);
    if (sae.architecture === 'topk' || sae.architecture === 'groupmax') {
      const pre = all.map((f) => u.get(f)! + sae.b_enc[f]!);
      const groups =
        sae.architecture === 'topk' ? [all] : range(0, sae.k!).map((g) => range((g * sae.dSae) / sae.k!, ((g + 1) * sae.dSae) / sae.k!));
      const take = sae.architecture === 'topk' ? sae.k! : 1;
      for (const group of groups)
        for (const f of [...group].sort((a, b) => pre[b]! - pre[a]! || a - b).slice(0, take)) z[f] = Math.max(0, pre[f]!);
    } else for (const f of all) z[f] = perFeature(sae, f, u.get(f)!);
  }
  return out;
}

/** Reconstructions of rows of x from their feature activations z (the tap a transcoder predicts). */
export function decode(sae: SaeWeights, z: Float32Array, x: Float32Array): Float32Array {
  const dOut = outWidth(sae);
  const n = z.length / sae.dSae;
  const out = new Float32Array(n * dOut);
  for (let r = 0; r < n; r++) {
    const y = new Float64Array(dOut);
    for (let f = 0; f < sae.dSae; f++) {
      const a = z[r * sae.dSae + f]!;
      if (a !== 0) for (let j = 0; j < dOut; j++) y[j]! += a * sae.W_dec[f * dOut + j]!;
    }
    // A transcoder's output is never de-normalised (SAELens applies the input normalisation only).
    const norm = sae.dOut === undefined ? rowNorm(sae, x, r) : { unscale: 1, shift: 0 };
    for (let j = 0; j < dOut; j++) {
      let v = (y[j]! + sae.b_dec[j]!) * norm.unscale + norm.shift;
      if (sae.W_skip) for (let i = 0; i < sae.dIn; i++) v += x[r * sae.dIn + i]! * sae.W_skip[j * sae.dIn + i]!;
      out[r * dOut + j] = v;
    }
  }
  return out;
}

/**
 * One feature's activation on rows of x. TopK needs each row's k-th largest pre-activation (`kth`,
 * stored by the analysis): the feature fires where its pre-activation reaches it. Groupmax compares
 * the feature with the rest of its group, which costs that group's columns.
 */
export function featureActivations(sae: SaeWeights, feature: number, x: Float32Array, kth: Float32Array | null): Float32Array {
  const n = x.length / sae.dIn;
  const out = new Float32Array(n);
  const size = sae.architecture === 'groupmax' ? sae.dSae / sae.k! : 1;
  const group = sae.architecture === 'groupmax' ? range(feature - (feature % size), feature - (feature % size) + size) : [feature];
  for (let r = 0; r < n; r++) {
    const u = project(sae, encoderInput(sae, x, r), group);
    const pre = u.get(feature)! + sae.b_enc[feature]!;
    let act = perFeature(sae, feature, u.get(feature)!);
    if (sae.architecture === 'topk' && kth) act = pre >= kth[r]! - 1e-5 * Math.max(1, Math.abs(kth[r]!)) ? act : 0;
    if (sae.architecture === 'groupmax') {
      // The first maximum of the group wins, as torch.max does.
      const winner = group.reduce((best, f) => (u.get(f)! + sae.b_enc[f]! > u.get(best)! + sae.b_enc[best]! ? f : best), group[0]!);
      if (winner !== feature) act = 0;
    }
    out[r] = act;
  }
  return out;
}
