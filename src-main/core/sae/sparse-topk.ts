/**
 * Sparse TopK / BatchTopK kernels: decode and weight gradients from the k active entries per row.
 *
 * With B rows, D = d_in, F = d_sae, active entries e = (r, j), j < k, feature f_e = idx[e] and value
 * z_e = vals[e] (post-activation), upstream gradients gOut = dL/dx̂ [B, D] and g_e = dL/dpre at e
 * (z_e > 0 ? dL/dz_e : 0, formed by the caller):
 *   decode:    x̂[r, :]      = b_dec + Σ_j z_(r,j) · W_dec[f_(r,j), :]                      (j = 0..k-1 in order)
 *   dL/dz_e                 = gOut[r, :] · W_dec[f_e, :]                                    (zGrad)
 *   dL/dW_dec[f, :]         = Σ_{e: f_e = f} z_e · gOut[r_e, :]                              (entries in (r, j) order)
 *   dL/dW_encᵀ[f, :]        = Σ_{e: f_e = f} g_e · x[r_e, :]                                 (W_enc is [D, F]; rows of its transpose)
 * Only rows of active features are touched: O(B·k·D) instead of the dense O(B·F·D).
 *
 * Determinism: each output row has one writer and every sum runs in the fixed order above, in
 * float32 (Math.fround after every operation here; -ffp-contract=off in C, so no fused multiply-add),
 * so the N-API addon (native/sparse-topk, built by `npm ci` where a compiler exists) and this
 * fallback give the same bits, whatever the thread count — there is no scatter-add.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SparseTopkKernels {
  /** x̂ = b_dec + Σ z·W_dec rows; `out` is [B, D]. */
  decode(vals: Float32Array, idx: Int32Array, wDec: Float32Array, bDec: Float32Array, out: Float32Array, k: number): void;
  /** Adds into gWdec [F, D] and gWencT [F, D] (zero them first); only active features' rows change. */
  grads(
    x: Float32Array,
    vals: Float32Array,
    gVals: Float32Array,
    idx: Int32Array,
    gOut: Float32Array,
    gWdec: Float32Array,
    gWencT: Float32Array,
    k: number,
  ): void;
  /** out[rows[e]] += vals[e] · w[idx[e]] in entry order (w is [F, D], out is [R, D], initialised by the caller). */
  decodeRows(rows: Int32Array, idx: Int32Array, vals: Float32Array, w: Float32Array, out: Float32Array, D: number): void;
  /** out[e] = g[rows[e]] · w[idx[e]], summed over d in order. */
  dotRows(rows: Int32Array, idx: Int32Array, g: Float32Array, w: Float32Array, out: Float32Array, D: number): void;
  /**
   * Per feature f in order: dW_dec[f] = Σ vals_e·g[row_e] (AuxK entries: ·ga), dW_encᵀ[f] = Σ gpre_e·xc[row_e],
   * gbEnc[f] = Σ gpre_e (main entries, then AuxK entries, each in order); gbDecIn += gbEnc[f]·W_encᵀ[f]
   * (the old row); then Adam on both rows and, with hyper[8] = 1, the decoder row to unit norm.
   * hyper = [lr, β1, β2, 1−β1, 1−β2, 1−β1^t, 1−β2^t, ε, normalize].
   */
  adamRows(
    B: number,
    rows: Int32Array,
    idx: Int32Array,
    vals: Float32Array,
    gpre: Float32Array,
    auxRows: Int32Array,
    auxIdx: Int32Array,
    auxVals: Float32Array,
    auxGpre: Float32Array,
    g: Float32Array,
    ga: Float32Array,
    xc: Float32Array,
    wDec: Float32Array,
    mDec: Float32Array,
    vDec: Float32Array,
    wEncT: Float32Array,
    mEncT: Float32Array,
    vEncT: Float32Array,
    hyper: Float32Array,
    gbEnc: Float32Array,
    gbDecIn: Float32Array,
  ): void;
}

const f = Math.fround;

/** One Adam step over n elements of p / m / v at offset o with gradient g, the graph's float32 operations in order. */
function adamJs(p: Float32Array, m: Float32Array, v: Float32Array, o: number, g: Float32Array, n: number, h: Float32Array): void {
  const [lr, b1, b2, omb1, omb2, bc1, bc2, eps] = h as unknown as number[];
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const m1 = f(f(m[o + i]! * b1!) + f(gi * omb1!));
    const v1 = f(f(v[o + i]! * b2!) + f(f(gi * gi) * omb2!));
    const den = f(f(Math.sqrt(f(v1 / bc2!))) + eps!);
    m[o + i] = m1;
    v[o + i] = v1;
    p[o + i] = f(p[o + i]! - f(f(f(m1 / bc1!) / den) * lr!));
  }
}

/** Adam on a whole (small) vector: b_enc and b_dec of the sparse step, in the same float32 operations as adamRows. */
export function adamDense(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, hyper: Float32Array): void {
  adamJs(p, m, v, 0, g, p.length, hyper);
}

export const jsKernels: SparseTopkKernels = {
  decode(vals, idx, wDec, bDec, out, k) {
    const D = bDec.length;
    const B = vals.length / k;
    for (let r = 0; r < B; r++) {
      const o = r * D;
      out.set(bDec, o);
      for (let j = 0; j < k; j++) {
        const v = vals[r * k + j]!;
        const w = idx[r * k + j]! * D;
        for (let d = 0; d < D; d++) out[o + d] = f(out[o + d]! + f(v * wDec[w + d]!));
      }
    }
  },
  grads(x, vals, gVals, idx, gOut, gWdec, gWencT, k) {
    const B = vals.length / k;
    const D = x.length / B;
    const F = gWdec.length / D;
    // Entries grouped by feature, stable in (row, slot) order: a counting sort, as the C kernel does.
    const start = new Int32Array(F + 1);
    for (let e = 0; e < idx.length; e++) start[idx[e]! + 1]!++;
    for (let q = 0; q < F; q++) start[q + 1]! += start[q]!;
    const fill = start.slice();
    const order = new Int32Array(idx.length);
    for (let e = 0; e < idx.length; e++) order[fill[idx[e]!]!++] = e;
    for (let q = 0; q < F; q++) {
      const row = q * D;
      for (let p = start[q]!; p < start[q + 1]!; p++) {
        const e = order[p]!;
        const r = Math.floor(e / k) * D;
        const v = vals[e]!;
        const g = gVals[e]!;
        for (let d = 0; d < D; d++) {
          gWdec[row + d] = f(gWdec[row + d]! + f(v * gOut[r + d]!));
          gWencT[row + d] = f(gWencT[row + d]! + f(g * x[r + d]!));
        }
      }
    }
  },
  decodeRows(rows, idx, vals, w, out, D) {
    for (let e = 0; e < idx.length; e++) {
      const o = rows[e]! * D;
      const q = idx[e]! * D;
      const v = vals[e]!;
      for (let d = 0; d < D; d++) out[o + d] = f(out[o + d]! + f(v * w[q + d]!));
    }
  },
  dotRows(rows, idx, g, w, out, D) {
    for (let e = 0; e < idx.length; e++) {
      const o = rows[e]! * D;
      const q = idx[e]! * D;
      let s = 0;
      for (let d = 0; d < D; d++) s = f(s + f(g[o + d]! * w[q + d]!));
      out[e] = s;
    }
  },
  adamRows(
    B,
    rows,
    idx,
    vals,
    gpre,
    auxRows,
    auxIdx,
    auxVals,
    auxGpre,
    g,
    ga,
    xc,
    wDec,
    mDec,
    vDec,
    wEncT,
    mEncT,
    vEncT,
    h,
    gbEnc,
    gbDecIn,
  ) {
    const Do = g.length / B;
    const Di = xc.length / B;
    const F = gbEnc.length;
    const n = idx.length + auxIdx.length;
    const feat = (e: number) => (e < idx.length ? idx[e]! : auxIdx[e - idx.length]!);
    const start = new Int32Array(F + 1);
    for (let e = 0; e < n; e++) start[feat(e) + 1]!++;
    for (let q = 0; q < F; q++) start[q + 1]! += start[q]!;
    const fill = start.slice();
    const order = new Int32Array(n);
    for (let e = 0; e < n; e++) order[fill[feat(e)]!++] = e;
    const gd = new Float32Array(Do);
    const ge = new Float32Array(Di);
    const eps = h[7]!;
    gbDecIn.fill(0);
    for (let q = 0; q < F; q++) {
      gd.fill(0);
      ge.fill(0);
      let gb = 0;
      for (let p = start[q]!; p < start[q + 1]!; p++) {
        const e = order[p]!;
        const aux = e >= idx.length;
        const a = aux ? e - idx.length : e;
        const r = aux ? auxRows[a]! : rows[a]!;
        const v = aux ? auxVals[a]! : vals[a]!;
        const gr = aux ? auxGpre[a]! : gpre[a]!;
        const up = aux ? ga : g;
        for (let d = 0; d < Do; d++) gd[d] = f(gd[d]! + f(v * up[r * Do + d]!));
        for (let d = 0; d < Di; d++) ge[d] = f(ge[d]! + f(gr * xc[r * Di + d]!));
        gb = f(gb + gr);
      }
      gbEnc[q] = gb;
      for (let d = 0; d < Di; d++) gbDecIn[d] = f(gbDecIn[d]! + f(gb * wEncT[q * Di + d]!));
      adamJs(wDec, mDec, vDec, q * Do, gd, Do, h);
      adamJs(wEncT, mEncT, vEncT, q * Di, ge, Di, h);
      if (h[8] !== 0) {
        let ss = 0;
        for (let d = 0; d < Do; d++) ss = f(ss + f(wDec[q * Do + d]! * wDec[q * Do + d]!));
        let nrm = f(Math.sqrt(ss));
        if (!(nrm > eps)) nrm = Number.isNaN(nrm) ? nrm : eps;
        for (let d = 0; d < Do; d++) wDec[q * Do + d] = f(wDec[q * Do + d]! / nrm);
      }
    }
  },
};

/** Where `npm ci` builds the addon: native/sparse-topk/build/Release, found from this file up to the repo root. */
function addonPath(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = path.join(dir, 'native', 'sparse-topk', 'build', 'Release', 'sparse_topk.node');
    if (fs.existsSync(p)) return p;
    dir = path.dirname(dir);
  }
  return null;
}

let loaded: { kernels: SparseTopkKernels; native: boolean } | null = null;

/** The addon when it was built and loads (OCULAR_NO_NATIVE=1 forces the fallback), else the JS kernels. */
export function sparseTopk(): { kernels: SparseTopkKernels; native: boolean } {
  if (loaded) return loaded;
  const p = process.env.OCULAR_NO_NATIVE === '1' ? null : addonPath();
  try {
    loaded = p ? { kernels: createRequire(import.meta.url)(p) as SparseTopkKernels, native: true } : { kernels: jsKernels, native: false };
  } catch {
    loaded = { kernels: jsKernels, native: false }; // built for another Node ABI: the fallback gives the same numbers
  }
  return loaded;
}

/** Checks the shapes and feature indices the kernels trust (out-of-range indices would write outside the buffers). */
export function checkSparseArgs(rows: number, k: number, dIn: number, dSae: number, idx: Int32Array): void {
  if (!Number.isInteger(k) || k < 1 || k > dSae) throw new Error(`sparse TopK: k must be 1..${dSae}, got ${k}.`);
  if (idx.length !== rows * k) throw new Error(`sparse TopK: ${idx.length} indices for ${rows} rows of k = ${k}.`);
  for (let e = 0; e < idx.length; e++)
    if (!(idx[e]! >= 0 && idx[e]! < dSae)) throw new Error(`sparse TopK: feature index ${idx[e]} outside 0..${dSae - 1} at entry ${e}.`);
  if (dIn < 1) throw new Error('sparse TopK: d_in must be positive.');
}

/** dL/dz at the active entries: gOut[r] · W_dec[f_e] (fixed order over d), [B·k]. */
export function zGrad(gOut: Float32Array, idx: Int32Array, wDec: Float32Array, dIn: number, k: number): Float32Array {
  const out = new Float32Array(idx.length);
  for (let e = 0; e < idx.length; e++) {
    const r = Math.floor(e / k) * dIn;
    const w = idx[e]! * dIn;
    let s = 0;
    for (let d = 0; d < dIn; d++) s = f(s + f(gOut[r + d]! * wDec[w + d]!));
    out[e] = s;
  }
  return out;
}
