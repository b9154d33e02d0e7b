/**
 * The SAE training step as an ONNX graph: hand-written gradients agree with finite differences of
 * the graph's own loss, and Adam steps drive the reconstruction loss down on data drawn from a
 * sparse dictionary while keeping decoder rows at unit norm.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { writeModel } from '../../src-main/core/onnx/model-io';
import { validateModel } from '../../src-main/core/onnx/validate';
import { SAE_PARAMS, paramDims, saeGradientGraph, saeTrainStepGraph, type SaeParam } from '../../src-main/core/sae/train-graph';
import { mulberry32, randn } from '../helpers/tiny-transformer';
import { tmpDir } from '../helpers/tmp';

const SHAPE = { dIn: 6, dSae: 12, k: 3 };

async function session(model: ReturnType<typeof saeGradientGraph>): Promise<ort.InferenceSession> {
  validateModel(model);
  const file = path.join(tmpDir(), 'g.onnx');
  writeModel(model, file);
  return ort.InferenceSession.create(fs.readFileSync(file), { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
}

function tensors(values: Record<string, Float32Array>, dims: Record<string, number[]>): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, new ort.Tensor('float32', v, dims[k]!)]));
}

function randomParams(seed: number): Record<SaeParam, Float32Array> {
  const r = mulberry32(seed);
  const d = paramDims(SHAPE);
  return Object.fromEntries(SAE_PARAMS.map((p) => [p, randn(r, d[p].reduce((a, b) => a * b, 1), 0.5)])) as Record<SaeParam, Float32Array>;
}

describe('SAE training graph', () => {
  it('hand-written gradients match central finite differences of the loss', async () => {
    const s = await session(saeGradientGraph(SHAPE));
    const B = 5;
    const x = randn(mulberry32(1), B * SHAPE.dIn, 1);
    const params = randomParams(2);
    const dims = { ...paramDims(SHAPE), x: [B, SHAPE.dIn] } as Record<string, number[]>;
    const run = async (p: Record<SaeParam, Float32Array>) => s.run(tensors({ x, ...p }, dims));
    const base = await run(params);
    const h = 1e-2;
    let checked = 0;
    for (const p of SAE_PARAMS) {
      const grad = base[`grad_${p}`]!.data as Float32Array;
      for (let i = 0; i < grad.length; i += Math.max(1, Math.floor(grad.length / 8))) {
        const plus = { ...params, [p]: Float32Array.from(params[p]) };
        const minus = { ...params, [p]: Float32Array.from(params[p]) };
        plus[p][i]! += h;
        minus[p][i]! -= h;
        const lp = (await run(plus)).loss!.data[0] as number;
        const lm = (await run(minus)).loss!.data[0] as number;
        const numeric = (lp - lm) / (2 * h);
        expect(Math.abs(numeric - grad[i]!), `${p}[${i}]: numeric ${numeric}, analytic ${grad[i]}`).toBeLessThan(2e-2 * Math.max(1, Math.abs(grad[i]!)));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('Adam steps reduce the loss on sparse-dictionary data and keep decoder rows at unit norm', async () => {
    const s = await session(saeTrainStepGraph(SHAPE));
    const r = mulberry32(5);
    const B = 64;
    // Data: each row is a sum of 2 of 12 random unit directions with positive weights.
    const dirs = Array.from({ length: 12 }, () => {
      const v = randn(r, SHAPE.dIn, 1);
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    });
    const batch = () => {
      const x = new Float32Array(B * SHAPE.dIn);
      for (let b = 0; b < B; b++) for (let j = 0; j < 2; j++) {
        const d = dirs[Math.floor(r() * 12)]!;
        const w = 0.5 + r();
        for (let i = 0; i < SHAPE.dIn; i++) x[b * SHAPE.dIn + i]! += w * d[i]!;
      }
      return x;
    };
    const dims = paramDims(SHAPE);
    let state: Record<string, Float32Array> = { ...randomParams(6) };
    for (const p of SAE_PARAMS) {
      state[`m_${p}`] = new Float32Array(state[p]!.length);
      state[`v_${p}`] = new Float32Array(state[p]!.length);
    }
    const allDims: Record<string, number[]> = { x: [B, SHAPE.dIn], t: [], lr: [] };
    for (const p of SAE_PARAMS) allDims[p] = allDims[`m_${p}`] = allDims[`v_${p}`] = dims[p];
    const losses: number[] = [];
    for (let t = 1; t <= 300; t++) {
      const out = await s.run(tensors({ ...state, x: batch(), t: Float32Array.of(t), lr: Float32Array.of(1e-2) }, allDims));
      losses.push(out.loss!.data[0] as number);
      const next: Record<string, Float32Array> = {};
      for (const p of SAE_PARAMS) {
        next[p] = out[`next_${p}`]!.data as Float32Array;
        next[`m_${p}`] = out[`next_m_${p}`]!.data as Float32Array;
        next[`v_${p}`] = out[`next_v_${p}`]!.data as Float32Array;
      }
      state = next;
      expect(out.l0!.data[0]).toBeLessThanOrEqual(SHAPE.k);
    }
    const early = losses.slice(0, 10).reduce((a, b) => a + b, 0) / 10;
    const late = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
    expect(late).toBeLessThan(early * 0.5);
    const W = state.W_dec!;
    for (let f = 0; f < SHAPE.dSae; f++) {
      const norm = Math.hypot(...Array.from(W.subarray(f * SHAPE.dIn, (f + 1) * SHAPE.dIn)));
      expect(norm).toBeCloseTo(1, 4);
    }
  });
});
