/**
 * The local replacement model of one prompt, linearised as circuit-tracer defines it (Ameisen et al.
 * 2025, "Circuit Tracing"): MLPs are replaced by transcoders whose features are nodes, every
 * attention pattern and every norm's scale is frozen at its value on this prompt, and each MLP's
 * reconstruction error is a node. What is left is linear in the nodes:
 *
 *   x⁰_t = e_t                                              (embedding nodes: token or image patch)
 *   m^l_t = x^l_t + Σ_h Σ_u P^l_h[t,u] · (s1^l_u · g1^l ⊙ x^l_u) W_V^{l,h} W_O^{l,h}
 *   x^{l+1}_t = m^l_t + Σ_f a^l_{t,f} W_dec^l[f] + b_dec^l + ε^l_t       (feature nodes, error nodes)
 *   feature pre-activation  p^l_{t,f} = (s2^l_t · g2^l ⊙ m^l_t) · W_enc^l[:, f] + b_enc^l[f]
 *   output  y = (sF_T · gF ⊙ x^L_T) · (W_U[:, target] − mean_v W_U[:, v])   (or − W_U[:, contrast])
 *
 * with P the model's own attention probabilities, s = 1/rms the norms' scales on this prompt (read
 * from the exposed norm input and output: s_t = <y_t, g ⊙ x_t> / |g ⊙ x_t|²), g their gains.
 * Edge from source s (writing vector v_s at stream point x^l, position u) to target τ (reading
 * vector r_τ at m^l' or x^L, position t): A[τ, s] = v_s · ∂τ/∂x^l_u = v_s · G_τ[x^l, u], where G is
 * the gradient of the target through the frozen model (MLP paths are cut: they are nodes). With
 * every source's real value the linear model reproduces the real forward exactly, so a target equals
 * the sum of its edges plus the biases' share.
 *
 * Backward through one frozen attention layer (G at m^l, positions ≤ t):
 *   Z_h[t] = W_O^{l,h} G[t]                 (R^d -> R^hd)
 *   Y_h[u] = Σ_{t ≥ u} P_h[t, u] Z_h[t]
 *   G[x^l, u] = G[m^l, u] + s1_u · g1 ⊙ Σ_h W_V^{l,h} Y_h[u]
 */
import type { SaeWeights } from '../sae/sae-model.js';

export interface FrozenLayer {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Attention probabilities [H, T, T]. */
  probs: Float32Array;
  s1: Float32Array;
  g1: Float32Array;
  /** [d, Hkv·hd] and [H·hd, d], row-major. */
  wV: Float32Array;
  wO: Float32Array;
  s2: Float32Array;
  g2: Float32Array;
}

export interface FrozenModel {
  d: number;
  length: number;
  layers: FrozenLayer[];
  sF: Float32Array;
  gF: Float32Array;
  unembed: Float32Array;
  vocab: number;
}

/** A norm's frozen scale per position from its input x and output y = s_t · g ⊙ x_t; refuses a norm that is not of that form. */
export function normScales(x: Float32Array, y: Float32Array, gamma: Float32Array, length: number, what: string): Float32Array {
  const d = gamma.length;
  const s = new Float32Array(length);
  for (let t = 0; t < length; t++) {
    let num = 0;
    let den = 0;
    let yy = 0;
    for (let i = 0; i < d; i++) {
      const gx = gamma[i]! * x[t * d + i]!;
      num += y[t * d + i]! * gx;
      den += gx * gx;
      yy += y[t * d + i]! ** 2;
    }
    s[t] = den > 0 ? num / den : 0;
    let err = 0;
    for (let i = 0; i < d; i++) err += (y[t * d + i]! - s[t]! * gamma[i]! * x[t * d + i]!) ** 2;
    if (yy > 0 && err > 1e-6 * yy)
      throw new Error(
        `${what} at position ${t} is not a scaled copy of its input times its gain (a LayerNorm with centring or a bias?); only RMSNorm is linearised.`,
      );
  }
  return s;
}

/**
 * Gradients of `n` targets through frozen attention layer `l`: G [n, T, d] at m^l in, G at x^l out
 * (in place), rows above `rows` ignored (causal: nothing after the latest target matters).
 */
export function attentionBackward(layer: FrozenLayer, d: number, length: number, G: Float32Array, n: number, rows: number): void {
  const { heads, kvHeads, headDim: hd, probs, s1, g1, wV, wO } = layer;
  const group = heads / kvHeads;
  const kvWidth = kvHeads * hd;
  const Z = new Float32Array(rows * hd);
  const Y = new Float32Array(rows * hd);
  const dLn = new Float32Array(rows * d);
  for (let b = 0; b < n; b++) {
    const g = G.subarray(b * length * d, (b + 1) * length * d);
    const live: number[] = [];
    for (let t = 0; t < rows; t++) {
      for (let i = 0; i < d; i++)
        if (g[t * d + i] !== 0) {
          live.push(t);
          break;
        }
    }
    if (live.length === 0) continue;
    dLn.fill(0);
    for (let h = 0; h < heads; h++) {
      Z.fill(0);
      for (const t of live)
        for (let j = 0; j < hd; j++) {
          const wo = (h * hd + j) * d;
          let s = 0;
          for (let i = 0; i < d; i++) s += wO[wo + i]! * g[t * d + i]!;
          Z[t * hd + j] = s;
        }
      Y.fill(0);
      const P = probs.subarray(h * length * length, (h + 1) * length * length);
      for (const t of live) {
        const zt = t * hd;
        for (let u = 0; u <= t; u++) {
          const p = P[t * length + u]!;
          if (p === 0) continue;
          const yu = u * hd;
          for (let j = 0; j < hd; j++) Y[yu + j]! += p * Z[zt + j]!;
        }
      }
      const kv = Math.floor(h / group) * hd;
      const last = live[live.length - 1]!;
      for (let u = 0; u <= last; u++) {
        const yu = u * hd;
        for (let i = 0; i < d; i++) {
          const wv = i * kvWidth + kv;
          let s = 0;
          for (let j = 0; j < hd; j++) s += wV[wv + j]! * Y[yu + j]!;
          dLn[u * d + i]! += s;
        }
      }
    }
    const last = live[live.length - 1]!;
    for (let u = 0; u <= last; u++) for (let i = 0; i < d; i++) g[u * d + i]! += s1[u]! * g1[i]! * dLn[u * d + i]!;
  }
}

/** Reading vector of a transcoder feature's pre-activation at m^l_t: s2_t · g2 ⊙ W_enc[:, f]. */
export function featureReader(model: FrozenModel, layer: number, t: number, sae: SaeWeights, f: number): Float32Array {
  const L = model.layers[layer]!;
  const r = new Float32Array(model.d);
  for (let i = 0; i < model.d; i++) r[i] = L.s2[t]! * L.g2[i]! * sae.W_enc[i * sae.dSae + f]!;
  return r;
}

/** Reading vector of the output at x^L_t: sF_t · gF ⊙ (W_U[:, target] − W_U[:, contrast] or the mean column). */
export function outputReader(model: FrozenModel, t: number, target: number, contrast: number | null): Float32Array {
  const { d, vocab, unembed } = model;
  const r = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    let base = 0;
    if (contrast === null) {
      for (let v = 0; v < vocab; v++) base += unembed[i * vocab + v]!;
      base /= vocab;
    } else base = unembed[i * vocab + contrast]!;
    r[i] = model.sF[t]! * model.gF[i]! * (unembed[i * vocab + target]! - base);
  }
  return r;
}

/**
 * The frozen forward: from sources (embeddings x⁰, per layer the MLP's output written into the
 * stream) to every m^l and x^L. Used to check edges (finite differences) and completeness.
 */
export function frozenForward(
  model: FrozenModel,
  x0: Float32Array,
  mlpWrites: Float32Array[],
): { mids: Float32Array[]; out: Float32Array } {
  const { d, length: T } = model;
  let x = Float32Array.from(x0);
  const mids: Float32Array[] = [];
  for (const [l, L] of model.layers.entries()) {
    const ln = new Float32Array(T * d);
    for (let u = 0; u < T; u++) for (let i = 0; i < d; i++) ln[u * d + i] = L.s1[u]! * L.g1[i]! * x[u * d + i]!;
    const kvWidth = L.kvHeads * L.headDim;
    const v = new Float32Array(T * kvWidth);
    for (let u = 0; u < T; u++)
      for (let c = 0; c < kvWidth; c++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += ln[u * d + i]! * L.wV[i * kvWidth + c]!;
        v[u * kvWidth + c] = s;
      }
    const m = Float32Array.from(x);
    const group = L.heads / L.kvHeads;
    for (let t = 0; t < T; t++)
      for (let h = 0; h < L.heads; h++) {
        const o = new Float64Array(L.headDim);
        const kv = Math.floor(h / group) * L.headDim;
        for (let u = 0; u <= t; u++) {
          const p = L.probs[(h * T + t) * T + u]!;
          for (let j = 0; j < L.headDim; j++) o[j]! += p * v[u * kvWidth + kv + j]!;
        }
        for (let i = 0; i < d; i++) {
          let s = 0;
          for (let j = 0; j < L.headDim; j++) s += o[j]! * L.wO[(h * L.headDim + j) * d + i]!;
          m[t * d + i]! += s;
        }
      }
    mids.push(m);
    x = Float32Array.from(m);
    const w = mlpWrites[l]!;
    for (let k = 0; k < x.length; k++) x[k]! += w[k]!;
  }
  return { mids, out: x };
}
