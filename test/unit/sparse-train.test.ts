/**
 * Sparse-kernel training steps (core/sae/sparse-train.ts): the same training as the ONNX chunk
 * graph (whose gradients the train-graph tests check against finite differences) up to float32
 * summation order; bit-identical between the N-API addon and the JS fallback, across runs and
 * across onnxruntime thread counts.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../src-main/core/onnx/model-io';
import type { WireTensor } from '../../src-main/core/runtime/pool-protocol';
import { initialWeights } from '../../src-main/core/sae/init';
import { SparseTrainer, sparseEncodeGraph, type EncodeRun } from '../../src-main/core/sae/sparse-train';
import { jsKernels, sparseTopk, type SparseTopkKernels } from '../../src-main/core/sae/sparse-topk';
import { SAE_PARAMS, saeTrainChunkGraph, stateDims, stateNames, trainSpec, type SaeTrainSpec } from '../../src-main/core/sae/train-graph';
import { mulberry32 } from '../../src-main/core/util/random';
import { repoRoot } from '../helpers/tmp';

const B = 12;
const K = 7;

const toOrt = (feeds: Record<string, WireTensor>) =>
  Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor(v.type, v.data as Float32Array, v.dims)]));

async function encoder(spec: SaeTrainSpec, threads = 1): Promise<EncodeRun> {
  const session = await ort.InferenceSession.create(encodeModel(sparseEncodeGraph(spec)), { intraOpNumThreads: threads });
  return (feeds) => session.run(toOrt(feeds));
}

function setup(spec: SaeTrainSpec, seed: number) {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  const { W_enc, W_dec } = initialWeights(spec.dIn, spec.dOut, spec.dSae, seed);
  const dims = stateDims(spec);
  const state: Record<string, Float32Array> = {};
  for (const nm of stateNames(spec)) state[nm] = new Float32Array(dims[nm]!.reduce((a, b) => a * b, 1));
  state.W_enc = W_enc;
  state.W_dec = W_dec;
  state.b_dec = Float32Array.from({ length: spec.dOut }, () => normal() * 0.1);
  state.b_enc = Float32Array.from({ length: spec.dSae }, () => normal() * 0.05);
  const feeds: Record<string, WireTensor> = {
    xs: { type: 'float32', dims: [K, B, spec.dIn], data: Float32Array.from({ length: K * B * spec.dIn }, normal) },
    lrs: { type: 'float32', dims: [K], data: Float32Array.from({ length: K }, (_, i) => 3e-3 * (1 - i / (2 * K))) },
    t0: { type: 'float32', dims: [], data: Float32Array.of(0) },
    // Small, so features go dead inside the chunk and AuxK's term and gradients take part.
    dead_after: { type: 'float32', dims: [], data: Float32Array.of(2) },
  };
  if (spec.transcoder)
    feeds.ys = { type: 'float32', dims: [K, B, spec.dOut], data: Float32Array.from({ length: K * B * spec.dOut }, normal) };
  for (const nm of stateNames(spec)) feeds[`in_${nm}`] = { type: 'float32', dims: dims[nm]!, data: state[nm]! };
  return feeds;
}

async function sparseRun(spec: SaeTrainSpec, kernels: SparseTopkKernels, threads = 1) {
  const trainer = new SparseTrainer(spec, await encoder(spec, threads), kernels);
  return trainer.run(
    setup(spec, 3),
    stateNames(spec).map((nm) => `out_${nm}`),
  );
}

async function graphRun(spec: SaeTrainSpec) {
  const session = await ort.InferenceSession.create(encodeModel(saeTrainChunkGraph(spec)), { intraOpNumThreads: 1 });
  return session.run(toOrt(setup(spec, 3)));
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

const specs: Array<[string, SaeTrainSpec]> = [
  ['TopK SAE with AuxK', trainSpec({ architecture: 'topk', dIn: 16, dSae: 96, k: 5, auxK: 8 })],
  ['BatchTopK SAE with AuxK', trainSpec({ architecture: 'batchtopk', dIn: 16, dSae: 96, k: 5, auxK: 8 })],
  ['TopK transcoder', trainSpec({ architecture: 'topk', dIn: 12, dOut: 20, dSae: 80, k: 4, auxK: 6, transcoder: true })],
];

describe('sparse-kernel training', () => {
  it.each(specs)('%s: the chunk graph’s training, up to float32 summation order', async (_, spec) => {
    const sparse = await sparseRun(spec, jsKernels);
    const dense = await graphRun(spec);
    for (const o of ['loss', 'mse', 'aux', 'fvu', 'l0']) {
      const b = dense[o]!.data as Float32Array;
      expect(maxDiff(sparse[o]!.data as Float32Array, b) / Math.max(1e-3, ...Array.from(b, Math.abs)), o).toBeLessThan(1e-5);
    }
    expect((sparse.aux!.data as Float32Array).some((v) => v > 0)).toBe(true); // AuxK took part
    for (const p of [
      ...SAE_PARAMS,
      'm_W_enc',
      'v_W_dec',
      'last_fired',
      'fire_counts',
      ...(spec.architecture === 'batchtopk' ? ['threshold'] : []),
    ]) {
      const a = sparse[`out_${p}`]!.data as Float32Array;
      const b = dense[`out_${p}`]!.data as Float32Array;
      const scale = Math.max(1e-3, ...Array.from(b, Math.abs));
      expect(maxDiff(a, b) / scale, p).toBeLessThan(1e-5);
    }
    // The weights moved: the comparison is not between two untouched copies.
    expect(maxDiff(sparse.out_W_dec!.data as Float32Array, setup(spec, 3).in_W_dec!.data as Float32Array)).toBeGreaterThan(1e-3);
  });

  it.each(specs)('%s: addon and JS fallback, runs and thread counts give the same bits', async (_, spec) => {
    const built = fs.existsSync(path.join(repoRoot, 'native', 'sparse-topk', 'build', 'Release', 'sparse_topk.node'));
    const { kernels, native } = sparseTopk();
    expect(native).toBe(built && process.env.OCULAR_NO_NATIVE !== '1');
    const reference = await sparseRun(spec, jsKernels, 1);
    for (const run of [await sparseRun(spec, kernels, 1), await sparseRun(spec, kernels, 2), await sparseRun(spec, jsKernels, 2)])
      for (const [name, t] of Object.entries(reference))
        expect(Buffer.from((run[name]!.data as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)), name).toBe(true);
  });
});
