/**
 * Attribution on weights the export stores quantised: a copy of the bundled demo decoder (made here,
 * not committed) whose MatMul weights are int8 (per-axis) / uint8 (per-tensor, zero point) behind
 * DequantizeLinear and whose norm gains are float16 behind a Cast. The reference values are what
 * onnxruntime's own DequantizeLinear and Cast compute; the decoder's anatomy read from the quantised
 * copy equals, bit for bit, the anatomy of a float32 copy holding those values. Blocked quantisation,
 * 4-bit storage and float64 weights are refused by name.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decoderAnatomy, type DecoderAnatomy } from '../../src-main/core/circuits/anatomy';
import { dequantizeLinear, tensorFloats, WeightError } from '../../src-main/core/circuits/weights';
import { floatTensor, graph, model, node, valueInfo } from '../../src-main/core/onnx/builder';
import { readModel, writeModel, type ModelProto, type TensorProto } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';
import { discoverTowerTaps } from '../../src-main/core/onnx/taps';
import { floatToHalf } from '../../src-main/core/util/half';
import { repoRoot } from '../helpers/tmp';

const DECODER = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm', 'onnx', 'decoder_model_merged.onnx');
let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-circuits-dequant-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const bytesTensor = (name: string, dims: number[], dataType: number, bytes: Uint8Array): TensorProto => ({
  name,
  dims,
  data_type: dataType,
  raw_data: bytes,
  external_data: [],
});

/** Symmetric int8 per output column (axis 1) or asymmetric uint8 per tensor, as a quantiser would write them. */
function quantise(name: string, dims: number[], w: Float32Array, perAxis: boolean): { tensors: TensorProto[]; axis: number } {
  if (perAxis) {
    const [rows, cols] = dims as [number, number];
    const scale = new Float32Array(cols);
    for (let c = 0; c < cols; c++) {
      let m = 0;
      for (let r = 0; r < rows; r++) m = Math.max(m, Math.abs(w[r * cols + c]!));
      scale[c] = m / 127 || 1;
    }
    const q = new Int8Array(w.length);
    for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i]! / scale[i % cols]!)));
    return {
      axis: 1,
      tensors: [
        bytesTensor(`${name}_q`, dims, DataType.INT8, new Uint8Array(q.buffer)),
        floatTensor(`${name}_scale`, [cols], scale),
        bytesTensor(`${name}_zp`, [cols], DataType.INT8, new Uint8Array(cols)),
      ],
    };
  }
  let lo = 0;
  let hi = 0;
  for (const v of w) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const scale = (hi - lo) / 255 || 1;
  const zp = Math.round(-lo / scale);
  const q = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(0, Math.min(255, Math.round(w[i]! / scale) + zp));
  return {
    axis: 1,
    tensors: [
      bytesTensor(`${name}_q`, dims, DataType.UINT8, q),
      floatTensor(`${name}_scale`, [], [scale]),
      bytesTensor(`${name}_zp`, [], DataType.UINT8, Uint8Array.of(zp)),
    ],
  };
}

interface Copies {
  quantised: ModelProto;
  /** The dequantised / widened tensors as onnxruntime computes them. */
  reference: Map<string, Float32Array>;
}

/** The demo decoder with its 2-D MatMul weights quantised and its 1-D Mul gains stored as float16. */
async function quantisedCopy(): Promise<Copies> {
  const m = readModel(DECODER);
  const consumers = (name: string) => m.graph.node.filter((n) => n.input.includes(name));
  const replaced: TensorProto[] = [];
  const added: TensorProto[] = [];
  const nodes = [];
  let k = 0;
  for (const t of m.graph.initializer) {
    if (t.data_type !== DataType.FLOAT) continue;
    const dims = t.dims.map(Number);
    const users = consumers(t.name);
    if (dims.length === 2 && users.length > 0 && users.every((n) => n.op_type === 'MatMul' && n.input[1] === t.name)) {
      const q = quantise(t.name, dims, tensorFloats(t), k++ % 2 === 0);
      added.push(...q.tensors);
      nodes.push(
        node(
          'DequantizeLinear',
          q.tensors.map((x) => x.name),
          [t.name],
          `dq_${t.name}`,
          { axis: q.axis },
        ),
      );
      replaced.push(t);
    } else if (dims.length === 1 && dims[0]! > 1 && users.length > 0 && users.every((n) => n.op_type === 'Mul')) {
      const half = floatToHalf(tensorFloats(t));
      added.push(bytesTensor(`${t.name}_f16`, dims, DataType.FLOAT16, new Uint8Array(half.buffer)));
      nodes.push(node('Cast', [`${t.name}_f16`], [t.name], `cast_${t.name}`, { to: DataType.FLOAT }));
      replaced.push(t);
    }
  }
  expect(replaced.filter((t) => t.dims.length === 2).length).toBeGreaterThanOrEqual(3 * 2 + 1);
  const gone = new Set(replaced.map((t) => t.name));
  const quantised: ModelProto = {
    ...m,
    graph: {
      ...m.graph,
      node: [...nodes, ...m.graph.node],
      initializer: [...m.graph.initializer.filter((t) => !gone.has(t.name)), ...added],
    },
  };
  // onnxruntime computes every dequantised / widened weight: a graph of just those nodes.
  const outputs = replaced.map((t) => valueInfo(t.name, DataType.FLOAT, t.dims.map(Number)));
  const probe = model(
    graph(
      'dequant-probe',
      [...nodes, node('Identity', ['x'], ['x_out'], 'keep')],
      [valueInfo('x', DataType.FLOAT, [1])],
      [...outputs, valueInfo('x_out', DataType.FLOAT, [1])],
      added,
    ),
    21,
  );
  const file = path.join(root, 'probe.onnx');
  writeModel(probe, file);
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(0), [1]) });
  await session.release();
  return { quantised, reference: new Map(replaced.map((t) => [t.name, out[t.name]!.data as Float32Array])) };
}

const anatomyOf = (m: ModelProto): DecoderAnatomy => decoderAnatomy(m, discoverTowerTaps(m.graph, '')!);

describe('attribution reads quantised and half-precision weights exactly', () => {
  it('the anatomy of a quantised demo decoder equals that of float32 weights holding the dequantised values (bit for bit)', async () => {
    const { quantised, reference } = await quantisedCopy();
    const float = readModel(DECODER);
    float.graph.initializer = float.graph.initializer.map((t) => {
      const r = reference.get(t.name);
      return r ? floatTensor(t.name, t.dims.map(Number), r) : t;
    });
    const a = anatomyOf(quantised);
    const b = anatomyOf(float);
    const original = anatomyOf(readModel(DECODER));
    const same = (x: Float32Array, y: Float32Array) =>
      Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
    for (const [l, la] of a.layers.entries()) {
      const lb = b.layers[l]!;
      expect(same(la.wV, lb.wV) && same(la.wO, lb.wO) && same(la.ln1.gamma, lb.ln1.gamma) && same(la.ln2.gamma, lb.ln2.gamma)).toBe(true);
      expect([la.probs, la.query, la.key, la.scale]).toEqual([lb.probs, lb.query, lb.key, lb.scale]);
      // Quantisation did change the values: the test is not comparing the original weights with themselves.
      expect(same(la.wV, original.layers[l]!.wV)).toBe(false);
    }
    expect(same(a.unembed, b.unembed) && same(a.finalNorm.gamma, b.finalNorm.gamma)).toBe(true);
    expect(a.tensors).toEqual(b.tensors);
    // The quantised copy is a model onnxruntime loads and runs the same way (its own DequantizeLinear).
    const file = path.join(root, 'quantised.onnx');
    writeModel(quantised, file);
    const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'] });
    expect(session.outputNames).toContain('logits');
    await session.release();
  });

  it('float16 and bfloat16 initializers widen exactly; per-axis zero points and scales apply along the axis', () => {
    const half = floatToHalf(Float32Array.of(1.5, -0.0009765625, 65504));
    expect(Array.from(tensorFloats(bytesTensor('h', [3], DataType.FLOAT16, new Uint8Array(half.buffer))))).toEqual([
      1.5, -0.0009765625, 65504,
    ]);
    const bf = Uint16Array.of(0x3fc0, 0xc000); // 1.5, -2
    expect(Array.from(tensorFloats(bytesTensor('b', [2], DataType.BFLOAT16, new Uint8Array(bf.buffer))))).toEqual([1.5, -2]);
    const x = bytesTensor('x', [2, 2], DataType.UINT8, Uint8Array.of(10, 20, 30, 40));
    const zp = bytesTensor('zp', [2], DataType.UINT8, Uint8Array.of(10, 0));
    const y = dequantizeLinear(x, { dims: [2], data: Float32Array.of(0.5, 2) }, zp, 0, 0);
    expect(Array.from(y.data)).toEqual([0, 5, 60, 80]);
  });

  it('blocked quantisation, 4-bit storage and float64 weights are refused by name', () => {
    const x = bytesTensor('w', [2, 2], DataType.INT8, Uint8Array.of(1, 2, 3, 4));
    expect(() => dequantizeLinear(x, { dims: [1], data: Float32Array.of(1) }, null, 0, 2)).toThrow(
      /blocked quantisation \(block_size 2\); not implemented/,
    );
    expect(() => dequantizeLinear({ ...x, data_type: 22 }, { dims: [], data: Float32Array.of(1) }, null, 1, 0)).toThrow(
      /quantised as int4; .*not implemented/,
    );
    expect(() => tensorFloats({ ...x, data_type: DataType.DOUBLE })).toThrow(WeightError);
    expect(() => tensorFloats({ ...x, data_type: DataType.DOUBLE })).toThrow(/data type float64; .*not implemented/);
  });
});
