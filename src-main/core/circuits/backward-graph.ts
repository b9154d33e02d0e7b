/**
 * The frozen attention backward of linear-model.ts (attentionBackward) as an ONNX graph, so the
 * adjacency rows' matrix products run in onnxruntime (MLAS kernels, threads) instead of scalar
 * TypeScript — the attribution graph's hot loop (bench/circuits.ts). For a batch of n targets:
 *
 *   Z = G · WOt_h            [n,1,T,d] x [H,d,hd]  -> [n,H,T,hd]     WOt_h[i,j] = W_O[h·hd + j, i]
 *   Y = Pt_h · Z             [H,T,T]   x [n,H,T,hd] -> [n,H,T,hd]    Pt_h[u,t] = P_h[t,u]
 *   D = Σ_h Y · WVt_h        [n,H,T,hd] x [H,hd,d] -> [n,T,d]       WVt_h[j,i] = W_V[i, kv(h)·hd + j]
 *   G' = G + S ⊙ D           S[u,i] = s1_u · g1_i
 *
 * the same equations as the TypeScript loop (tested equal), in float32 throughout. The graph has
 * no weights: every layer's frozen tensors are inputs, so one cached file serves every prompt.
 */
import fs from 'node:fs';
import path from 'node:path';
import { graph, int64Tensor, model, node, valueInfo } from '../onnx/builder.js';
import { encodeModel } from '../onnx/model-io.js';
import { DataType } from '../onnx/schema.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device, WireTensor } from '../runtime/pool-protocol.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { FrozenLayer, FrozenModel } from './linear-model.js';

const FILE = 'attention-backward-v1.onnx';

function backwardModel(): Uint8Array {
  const F = DataType.FLOAT;
  const g = graph(
    'ocular_attention_backward',
    [
      node('Unsqueeze', ['G', 'axis1'], ['G4'], 'G4'),
      node('MatMul', ['G4', 'WOt'], ['Z'], 'Z'),
      node('MatMul', ['Pt', 'Z'], ['Y'], 'Y'),
      node('MatMul', ['Y', 'WVt'], ['D4'], 'D4'),
      node('ReduceSum', ['D4', 'axis1'], ['D'], 'D', { keepdims: 0 }),
      node('Mul', ['D', 'S'], ['SD'], 'SD'),
      node('Add', ['G', 'SD'], ['G_out'], 'G_out'),
    ],
    [
      valueInfo('G', F, ['n', 'T', 'd']),
      valueInfo('Pt', F, ['H', 'T', 'T']),
      valueInfo('WOt', F, ['H', 'd', 'hd']),
      valueInfo('WVt', F, ['H', 'hd', 'd']),
      valueInfo('S', F, ['T', 'd']),
    ],
    [valueInfo('G_out', F, ['n', 'T', 'd'])],
    [int64Tensor('axis1', [1], [1])],
  );
  return encodeModel(model(g, 17));
}

/** Per layer, the graph's inputs other than G (built once per prompt). */
export function layerInputs(layer: FrozenLayer, d: number, T: number): Record<string, WireTensor> {
  const { heads: H, kvHeads, headDim: hd, probs, s1, g1, wV, wO } = layer;
  const group = H / kvHeads;
  const kvWidth = kvHeads * hd;
  const Pt = new Float32Array(H * T * T);
  for (let h = 0; h < H; h++)
    for (let t = 0; t < T; t++) for (let u = 0; u <= t; u++) Pt[(h * T + u) * T + t] = probs[(h * T + t) * T + u]!;
  const WOt = new Float32Array(H * d * hd);
  const WVt = new Float32Array(H * hd * d);
  for (let h = 0; h < H; h++) {
    const kv = Math.floor(h / group) * hd;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < hd; j++) {
        WOt[(h * d + i) * hd + j] = wO[(h * hd + j) * d + i]!;
        WVt[(h * hd + j) * d + i] = wV[i * kvWidth + kv + j]!;
      }
  }
  const S = new Float32Array(T * d);
  for (let u = 0; u < T; u++) for (let i = 0; i < d; i++) S[u * d + i] = s1[u]! * g1[i]!;
  const t = (dims: number[], data: Float32Array): WireTensor => ({ type: 'float32', dims, data });
  return { Pt: t([H, T, T], Pt), WOt: t([H, d, hd], WOt), WVt: t([H, hd, d], WVt), S: t([T, d], S) };
}

/** An attention backward for `attribute` that runs in the session pool. */
export async function poolBackward(
  pool: PoolClient,
  device: Device,
  frozen: FrozenModel,
  cacheDir: string,
): Promise<(layer: number, G: Float32Array, n: number) => Promise<void>> {
  const file = path.join(cacheDir, FILE);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    writeFileAtomic(file, Buffer.from(backwardModel()));
  }
  const session = await pool.load(file, device);
  const { d, length: T } = frozen;
  const inputs = frozen.layers.map((l) => layerInputs(l, d, T));
  return async (layer, G, n) => {
    const out = await pool.run(session, { ...inputs[layer]!, G: { type: 'float32', dims: [n, T, d], data: G } }, ['G_out']);
    G.set(out.G_out!.data as Float32Array);
  };
}
