/**
 * A weight as float32, read from the model's own initializers however the export stores it: a
 * float32 initializer or Constant; a float16 / bfloat16 one (widened exactly); a Cast to float of
 * one; or a DequantizeLinear over an int8 / uint8 initializer with its scale and zero point,
 * per-tensor or per-axis, computed as the ONNX op defines it: y = (x - zero_point) * scale in
 * float32. Anything else (blocked quantisation, 4-bit or float8 storage, external data) is refused
 * by name, so attribution never runs on weights it read approximately.
 */
import type { GraphIndex } from '../onnx/graph-index.js';
import type { ModelProto, TensorProto } from '../onnx/model-io.js';
import { toNumber } from '../onnx/model-io.js';
import { DataType, DATA_TYPE_NAMES } from '../onnx/schema.js';

export class WeightError extends Error {}

export interface Weight {
  dims: number[];
  data: Float32Array;
}

const typeName = (t: number) => DATA_TYPE_NAMES[t] ?? `type ${t}`;

function bytesOf(t: TensorProto): Uint8Array | null {
  if ((t.external_data?.length ?? 0) > 0)
    throw new WeightError(`Weight ${t.name} is stored as external data, which attribution does not read yet.`);
  return t.raw_data && t.raw_data.length > 0 ? new Uint8Array(t.raw_data) : null;
}

/** bfloat16 bits -> float32: the upper half of a float32's bits. */
function bf16ToFloat(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  return new Float32Array(u.buffer);
}

/** IEEE half bits -> float32 (exact: every half is a float32). */
function halfToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

function sixteenBits(t: TensorProto): Uint16Array {
  const raw = bytesOf(t);
  if (raw) return new Uint16Array(raw.buffer, 0, raw.length / 2);
  // Without raw_data ONNX stores 16-bit floats' bits in int32_data.
  return Uint16Array.from(t.int32_data ?? []);
}

/** An initializer of a float type as float32, or a refusal naming its type. */
export function tensorFloats(t: TensorProto): Float32Array {
  if (t.data_type === DataType.FLOAT) {
    const raw = bytesOf(t);
    if (raw) return new Float32Array(raw.buffer, 0, raw.length / 4);
    return Float32Array.from(t.float_data ?? []);
  }
  if (t.data_type === DataType.FLOAT16) return halfToFloat32(sixteenBits(t));
  if (t.data_type === DataType.BFLOAT16) return bf16ToFloat(sixteenBits(t));
  throw new WeightError(
    `Weight ${t.name} has data type ${typeName(t.data_type)}; attribution reads float32, float16 and bfloat16 weights, and int8/uint8 ones through DequantizeLinear (dequantising this type is not implemented).`,
  );
}

/** int8 / uint8 values of a quantised initializer. */
function integers(t: TensorProto): Int32Array {
  if (t.data_type !== DataType.INT8 && t.data_type !== DataType.UINT8)
    throw new WeightError(
      `Weight ${t.name} is quantised as ${typeName(t.data_type)}; attribution dequantises int8 and uint8 only (this type is not implemented).`,
    );
  const raw = bytesOf(t);
  if (raw) return t.data_type === DataType.INT8 ? Int32Array.from(new Int8Array(raw.buffer, 0, raw.length)) : Int32Array.from(raw);
  return Int32Array.from(t.int32_data ?? []);
}

/** DequantizeLinear exactly as ONNX defines it (per-tensor or per-axis; blocked is refused). */
export function dequantizeLinear(
  x: TensorProto,
  scale: Weight,
  zeroPoint: TensorProto | null,
  axisAttr: number,
  blockSize: number,
): Weight {
  if (blockSize > 0) throw new WeightError(`Weight ${x.name} uses blocked quantisation (block_size ${blockSize}); not implemented.`);
  if (zeroPoint && zeroPoint.data_type !== x.data_type)
    throw new WeightError(`Weight ${x.name}'s zero point is ${typeName(zeroPoint.data_type)}, not ${typeName(x.data_type)}.`);
  const dims = x.dims.map(Number);
  const q = integers(x);
  const zp = zeroPoint ? integers(zeroPoint) : new Int32Array(scale.data.length);
  const out = new Float32Array(q.length);
  if (scale.data.length === 1 && scale.dims.length <= 1) {
    const s = scale.data[0]!;
    const z = zp[0] ?? 0;
    // (x - zp) is an exact integer and the double product of two float32s is exact: fround gives float32 math.
    for (let i = 0; i < q.length; i++) out[i] = Math.fround((q[i]! - z) * s);
    return { dims, data: out };
  }
  const axis = axisAttr < 0 ? axisAttr + dims.length : axisAttr;
  if (scale.dims.length !== 1 || axis < 0 || axis >= dims.length || scale.data.length !== dims[axis] || zp.length !== scale.data.length)
    throw new WeightError(
      `Weight ${x.name}: a scale of shape [${scale.dims}] on axis ${axisAttr} of [${dims}] is not per-tensor or per-axis.`,
    );
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = dims[axis]!;
  for (let i = 0; i < q.length; i++) {
    const c = Math.floor(i / inner) % n;
    out[i] = Math.fround((q[i]! - zp[c]!) * scale.data[c]!);
  }
  return { dims, data: out };
}

/**
 * The float32 value of a tensor computed from initializers only, or null when it depends on the
 * inputs (it is not a weight). Throws WeightError for a weight stored in a way not implemented.
 */
export function resolveWeight(model: ModelProto, index: GraphIndex, tensor: string): Weight | null {
  const init = model.graph.initializer.find((t) => t.name === tensor);
  if (init)
    return init.data_type === DataType.INT8 || init.data_type === DataType.UINT8
      ? null
      : { dims: init.dims.map(Number), data: tensorFloats(init) };
  const n = index.producer.get(tensor)?.node;
  if (!n) return null;
  const attrInt = (name: string, dflt: number) => {
    const a = n.attribute.find((x) => x.name === name);
    return a?.i === undefined || a.i === null ? dflt : toNumber(a.i);
  };
  if (n.op_type === 'Constant') {
    const t = n.attribute.find((a) => a.name === 'value')?.t;
    return t ? { dims: t.dims.map(Number), data: tensorFloats(t) } : null;
  }
  if (n.op_type === 'Identity' || (n.op_type === 'Cast' && attrInt('to', 0) === DataType.FLOAT))
    return resolveWeight(model, index, n.input[0]!);
  if (n.op_type === 'DequantizeLinear') {
    const x = model.graph.initializer.find((t) => t.name === n.input[0]);
    if (!x) return null;
    const scale = resolveWeight(model, index, n.input[1]!);
    if (!scale) throw new WeightError(`Weight ${x.name}'s scale is not a constant.`);
    const zpName = n.input[2];
    const zp = zpName ? (model.graph.initializer.find((t) => t.name === zpName) ?? null) : null;
    if (zpName && !zp) throw new WeightError(`Weight ${x.name}'s zero point is not an initializer.`);
    return dequantizeLinear(x, scale, zp, attrInt('axis', 1), attrInt('block_size', 0));
  }
  return null;
}
