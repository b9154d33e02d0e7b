/**
 * Sparse TopK kernels (core/sae/sparse-topk.ts): the N-API addon and the JS fallback give the same
 * bits; both equal the dense products (float64 reference) and finite differences of
 * L = ½‖x̂ − y‖² for the decoder and encoder weights; inactive features' gradient rows stay zero.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSparseArgs, jsKernels, sparseTopk, zGrad } from '../../src-main/core/sae/sparse-topk';
import { repoRoot } from '../helpers/tmp';

const B = 6;
const D = 16;
const F = 40;
const K = 4;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

const r = rng(7);
const x = Float32Array.from({ length: B * D }, () => r() * 2);
const y = Float32Array.from({ length: B * D }, () => r());
const wEnc = Float32Array.from({ length: D * F }, () => r()); // [D, F]
const bEnc = Float32Array.from({ length: F }, () => r() * 0.1);
const wDec = Float32Array.from({ length: F * D }, () => r()); // [F, D]
const bDec = Float32Array.from({ length: D }, () => r() * 0.1);

/** TopK forward in float64: indices of the k largest pre-activations per row, values ReLU'd. */
function encode(we: Float32Array | Float64Array) {
  const idx = new Int32Array(B * K);
  const vals = new Float32Array(B * K);
  const pre = new Float64Array(B * F);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < F; q++) {
      let s = bEnc[q]!;
      for (let d = 0; d < D; d++) s += x[b * D + d]! * we[d * F + q]!;
      pre[b * F + q] = s;
    }
    const order = Array.from({ length: F }, (_, q) => q).sort((a, c) => pre[b * F + c]! - pre[b * F + a]!);
    order.slice(0, K).forEach((q, j) => {
      idx[b * K + j] = q;
      vals[b * K + j] = Math.max(0, pre[b * F + q]!);
    });
  }
  return { idx, vals, pre };
}

/** L = ½‖x̂ − y‖² in float64 for given weights. */
function loss(we: Float32Array | Float64Array, wd: Float32Array | Float64Array): number {
  const { idx, pre } = encode(we);
  let l = 0;
  for (let b = 0; b < B; b++)
    for (let d = 0; d < D; d++) {
      let s = bDec[d]!;
      for (let j = 0; j < K; j++) {
        const q = idx[b * K + j]!;
        s += Math.max(0, pre[b * F + q]!) * wd[q * D + d]!;
      }
      l += 0.5 * (s - y[b * D + d]!) ** 2;
    }
  return l;
}

function run(kernels: typeof jsKernels) {
  const { idx, vals } = encode(wEnc);
  checkSparseArgs(B, K, D, F, idx);
  const out = new Float32Array(B * D);
  kernels.decode(vals, idx, wDec, bDec, out, K);
  const gOut = out.map((v, i) => v - y[i]!);
  const gz = zGrad(gOut, idx, wDec, D, K);
  const gVals = gz.map((g, e) => (vals[e]! > 0 ? g : 0));
  const gWdec = new Float32Array(F * D);
  const gWencT = new Float32Array(F * D);
  kernels.grads(x, vals, gVals, idx, gOut, gWdec, gWencT, K);
  return { idx, vals, out, gWdec, gWencT };
}

describe('sparse TopK kernels', () => {
  it('the addon is built where a compiler is, and gives the JS fallback bits exactly', () => {
    const built = fs.existsSync(path.join(repoRoot, 'native', 'sparse-topk', 'build', 'Release', 'sparse_topk.node'));
    const { kernels, native } = sparseTopk();
    expect(native).toBe(built && process.env.OCULAR_NO_NATIVE !== '1');
    const a = run(kernels);
    const b = run(jsKernels);
    for (const key of ['out', 'gWdec', 'gWencT'] as const) expect(Buffer.from(a[key].buffer).equals(Buffer.from(b[key].buffer))).toBe(true);
    // and again: the same bits on a repeat
    const c = run(kernels);
    expect(Buffer.from(c.gWencT.buffer).equals(Buffer.from(a.gWencT.buffer))).toBe(true);
  });

  it('equals the dense products and leaves inactive features untouched', () => {
    const { idx, vals, out, gWdec, gWencT } = run(sparseTopk().kernels);
    const z = new Float64Array(B * F);
    idx.forEach((q, e) => (z[Math.floor(e / K) * F + q] = vals[e]!));
    const active = new Set(idx);
    for (let b = 0; b < B; b++)
      for (let d = 0; d < D; d++) {
        let s = bDec[d]!;
        for (let q = 0; q < F; q++) s += z[b * F + q]! * wDec[q * D + d]!;
        expect(Math.abs(out[b * D + d]! - s)).toBeLessThan(1e-5);
      }
    for (let q = 0; q < F; q++)
      if (!active.has(q)) {
        expect(gWdec.subarray(q * D, (q + 1) * D).every((v) => v === 0)).toBe(true);
        expect(gWencT.subarray(q * D, (q + 1) * D).every((v) => v === 0)).toBe(true);
      }
    expect(active.size).toBeLessThan(F);
  });

  it('matches finite differences of ½‖x̂ − y‖² for W_dec and W_enc', () => {
    const { idx, pre } = encode(wEnc);
    const { gWdec, gWencT } = run(sparseTopk().kernels);
    const eps = 1e-4;
    const we = Float64Array.from(wEnc);
    const wd = Float64Array.from(wDec);
    let checked = 0;
    for (const e of [0, 5, 11, 17, 22]) {
      const q = idx[e]!;
      const b = Math.floor(e / K);
      if (pre[b * F + q]! <= 0) continue;
      for (const d of [0, 7, 15]) {
        wd[q * D + d] = wd[q * D + d]! + eps;
        const up = loss(we, wd);
        wd[q * D + d] = wd[q * D + d]! - 2 * eps;
        const down = loss(we, wd);
        wd[q * D + d] = wd[q * D + d]! + eps;
        expect(Math.abs((up - down) / (2 * eps) - gWdec[q * D + d]!)).toBeLessThan(2e-3);
        we[d * F + q] = we[d * F + q]! + eps;
        const up2 = loss(we, wd);
        we[d * F + q] = we[d * F + q]! - 2 * eps;
        const down2 = loss(we, wd);
        we[d * F + q] = we[d * F + q]! + eps;
        expect(Math.abs((up2 - down2) / (2 * eps) - gWencT[q * D + d]!)).toBeLessThan(2e-3);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(9);
  });

  it('refuses indices outside the features and a k outside 1..d_sae', () => {
    expect(() => checkSparseArgs(1, 2, D, F, Int32Array.from([0, F]))).toThrow(/feature index 40 outside 0\.\.39 at entry 1/);
    expect(() => checkSparseArgs(1, F + 1, D, F, new Int32Array(F + 1))).toThrow(/k must be 1\.\.40/);
  });
});
