/**
 * Runnable random-weight copies of real exports. The real graphs in shared/fixtures come without
 * their weights; every initializer there records where its bytes live (external-data location,
 * offset, length). This writes random values of each initializer's dtype and shape at exactly those
 * offsets, into a sparse file beside the graph in a temporary folder, so onnxruntime runs the real
 * graph node for node (int8 MatMulInteger, If / Scan bodies, fused contrib ops).
 *
 * Values are drawn to keep activations finite and O(1): quantized weights around their zero point
 * (found from the MatMulInteger / DequantizeLinear that reads them), 1-D float tensors (norm scales)
 * near 1, other floats small. Inline initializers (the export's real scales, zero points, gates) stay.
 */
import fs from 'node:fs';
import path from 'node:path';
import { subgraphsOf } from '../../src-main/core/onnx/graph-index';
import { toNumber, writeModel, type GraphProto, type ModelProto, type TensorProto } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';
import { mulberry32 } from './tiny-transformer';

/** Every initializer of a graph and its bodies. */
function allInitializers(g: GraphProto): TensorProto[] {
  return [...g.initializer, ...g.node.flatMap((n) => subgraphsOf(n).flatMap(allInitializers))];
}

/** Zero point of each quantized weight: input 3 of MatMulInteger, input 2 of DequantizeLinear. */
function zeroPoints(g: GraphProto, inits: Map<string, TensorProto>): Map<string, number> {
  const out = new Map<string, number>();
  const scalar = (name: string | undefined) => {
    const t = name ? inits.get(name) : undefined;
    if (!t) return undefined;
    if (t.int32_data?.length) return t.int32_data[0];
    return t.raw_data?.length ? t.raw_data[0] : undefined;
  };
  const visit = (graph: GraphProto) => {
    for (const n of graph.node) {
      const [w, zp] =
        n.op_type === 'MatMulInteger' ? [n.input[1], n.input[3]] : n.op_type === 'DequantizeLinear' ? [n.input[0], n.input[2]] : [];
      const z = scalar(zp);
      if (w && z !== undefined) out.set(w, z);
      subgraphsOf(n).forEach(visit);
    }
  };
  visit(g);
  return out;
}

/** A fast 32-bit generator (xorshift) and a table of rounded normal draws: 100M bytes take well under a second. */
function generator(seed: number): { next: () => number; normal: Int16Array } {
  let x = seed | 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const rand = mulberry32(seed);
  const normal = new Int16Array(1 << 16);
  for (let i = 0; i < normal.length; i++)
    normal[i] = Math.round(24 * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand()));
  return { next, normal };
}

function randomBytes(t: TensorProto, gen: ReturnType<typeof generator>, zeroPoint: number | undefined): Buffer {
  const dims = t.dims.map(toNumber);
  const count = dims.reduce((a, b) => a * b, 1);
  const uniform = () => gen.next() / 4294967296;
  switch (t.data_type) {
    case DataType.FLOAT: {
      const a = new Float32Array(count);
      const oneD = dims.length === 1;
      for (let i = 0; i < count; i++) a[i] = oneD ? 0.8 + 0.4 * uniform() : (uniform() - 0.5) * 0.5;
      return Buffer.from(a.buffer);
    }
    case DataType.UINT8:
    case DataType.INT8: {
      const center = zeroPoint ?? (t.data_type === DataType.UINT8 ? 128 : 0);
      const [lo, hi] = t.data_type === DataType.UINT8 ? [0, 255] : [-128, 127];
      const a = t.data_type === DataType.UINT8 ? new Uint8Array(count) : new Int8Array(count);
      for (let i = 0; i < count; i++) a[i] = Math.max(lo, Math.min(hi, center + gen.normal[gen.next() & 0xffff]!));
      return Buffer.from(a.buffer);
    }
    default:
      throw new Error(`random weights: ${t.name} has data type ${t.data_type}, which this helper does not fill`);
  }
}

/**
 * Writes `model` to `dir/file` and random weights into the external-data files it names, each tensor
 * at its recorded offset (the files are sparse where the graph needs no bytes).
 */
export function writeRunnableCopy(model: ModelProto, dir: string, file: string, seed = 1): string {
  const inits = allInitializers(model.graph);
  const byName = new Map(inits.map((t) => [t.name, t]));
  const zps = zeroPoints(model.graph, byName);
  const gen = generator(seed);
  const fds = new Map<string, number>();
  try {
    for (const t of inits) {
      const ext = Object.fromEntries(t.external_data.map((e) => [e.key, e.value]));
      if (!ext.location) continue;
      const bytes = randomBytes(t, gen, zps.get(t.name));
      if (ext.length !== undefined && Number(ext.length) !== bytes.length)
        throw new Error(`random weights: ${t.name} records ${ext.length} bytes, its shape and type need ${bytes.length}`);
      const location = path.join(dir, ext.location);
      if (!fds.has(location)) fds.set(location, fs.openSync(location, 'w'));
      fs.writeSync(fds.get(location)!, bytes, 0, bytes.length, Number(ext.offset ?? 0));
    }
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
  }
  const out = path.join(dir, file);
  writeModel(model, out);
  return out;
}
