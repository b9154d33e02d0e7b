/**
 * safetensors reader and writer (the format SAELens and sparsify use for SAE weights): an 8-byte
 * little-endian header length, a JSON header mapping names to {dtype, shape, data_offsets}, then the
 * raw tensor bytes. No pickle is ever involved. npm has no maintained implementation, and the format
 * is small and central to SAE interop, so it lives here.
 */
import fs from 'node:fs';
import { OcularError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { fromHalf } from '../util/half.js';

export interface Tensor {
  shape: number[];
  /** Values converted to float32 (F16 and BF16 are widened). */
  data: Float32Array;
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

function decode(dtype: string, bytes: Buffer, count: number): Float32Array {
  // F32: copy into a fresh, aligned buffer (safetensors data is little-endian, as are our targets).
  if (dtype === 'F32') return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + count * 4));
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = bytes.readDoubleLE(i * 8);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = fromHalf(bytes.readUInt16LE(i * 2));
      return out;
    case 'BF16': {
      const view = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        view.setUint32(0, bytes.readUInt16LE(i * 2) << 16, true);
        out[i] = view.getFloat32(0, true);
      }
      return out;
    }
    default:
      throw new OcularError('invalid_request', `safetensors dtype ${dtype} is not supported (F32, F16, BF16, F64 are).`);
  }
}

export function readSafetensors(file: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const buf = fs.readFileSync(file);
  if (buf.length < 8) throw new OcularError('invalid_request', `${file} is not a safetensors file (too short).`);
  const headerLength = Number(buf.readBigUInt64LE(0));
  if (headerLength <= 0 || 8 + headerLength > buf.length)
    throw new OcularError('invalid_request', `${file} is not a safetensors file (bad header length).`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8'));
  } catch {
    throw new OcularError('invalid_request', `${file} is not a safetensors file (header is not JSON).`);
  }
  const base = 8 + headerLength;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = info as Record<string, string>;
      continue;
    }
    const t = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const count = t.shape.reduce((a, b) => a * b, 1);
    const [start, end] = t.data_offsets;
    const size = BYTES[t.dtype];
    if (size === undefined) throw new OcularError('invalid_request', `${file}: tensor ${name} has unsupported dtype ${t.dtype}.`);
    if (end - start !== count * size || base + end > buf.length)
      throw new OcularError('invalid_request', `${file}: tensor ${name} has inconsistent offsets for shape [${t.shape}].`);
    tensors.set(name, { shape: t.shape, data: decode(t.dtype, buf.subarray(base + start, base + end), count) });
  }
  return { tensors, metadata };
}

/** Writes float32 tensors, names sorted, header padded to 8 bytes as the reference implementation does. */
export function writeSafetensors(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const d = tensors[name]!.data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, at);
    at += d.byteLength;
  }
  writeFileAtomic(file, out);
}
