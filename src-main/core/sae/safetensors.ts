/**
 * safetensors reader and writer (the format SAELens and sparsify use for SAE weights): an 8-byte
 * little-endian header length N, N bytes of JSON mapping names to {dtype, shape, data_offsets} (plus
 * an optional "__metadata__" map of strings), then the raw tensor bytes. No pickle is ever involved.
 *
 * The header is validated as the reference reader (the Rust safetensors crate, which Python's
 * safetensors wraps) validates it, so a file Ocular accepts is one PyTorch would load and vice
 * versa: N <= 100 MB; the header is UTF-8 JSON, an object; shapes and offsets are non-negative
 * integers; sorted by offset, tensors are contiguous from 0 (so none overlaps another or the
 * header), each spans exactly prod(shape) * dtype size bytes, and the last ends at the end of the file.
 *
 * Files are never read whole: the header is read first, then each tensor by its offset in chunks,
 * so weights over 2 GiB (Node's single-read limit) load like any other. npm has no maintained
 * implementation, and the format is small and central to SAE interop, so it lives here.
 */
import fs from 'node:fs';
import { OcularError } from '../errors.js';
import { writeFileAtomicWith } from '../util/atomic-file.js';
import { fromHalf, toHalf } from '../util/half.js';

export interface Tensor {
  shape: number[];
  /** Values converted to float32 (F16 and BF16 are widened exactly; F64 is rounded). */
  data: Float32Array;
}

export type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** Byte range within the data section. */
  start: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** Where the data section starts in the file (8 + N). */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

/** The reference reader's limit on the JSON header. */
export const MAX_HEADER_BYTES = 100_000_000;
/** Bytes read per call when streaming a tensor. */
const CHUNK_BYTES = 64 * 1024 * 1024;

/** Bits per element of every dtype the reference implementation defines. */
const BITS: Record<string, number> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function fail(file: string, why: string): never {
  throw new OcularError('invalid_request', `${file} is not a valid safetensors file: ${why}.`);
}

function readExactly(fd: number, buf: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) fail(file, 'it ends early');
    done += n;
  }
}

function tensorInfo(file: string, name: string, raw: unknown): TensorInfo {
  const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  if (!t || typeof t !== 'object' || Array.isArray(t)) fail(file, `the header entry for ${name} is not an object`);
  if (typeof t.dtype !== 'string' || BITS[t.dtype] === undefined)
    fail(file, `tensor ${name} has an unknown dtype ${JSON.stringify(t.dtype)}`);
  if (!Array.isArray(t.shape) || !t.shape.every(isCount))
    fail(file, `tensor ${name} has shape ${JSON.stringify(t.shape)}, which is not a list of non-negative integers`);
  const offsets = t.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
    fail(file, `tensor ${name} has data_offsets ${JSON.stringify(offsets)}, which are not two non-negative integers`);
  return { dtype: t.dtype, shape: t.shape as number[], start: offsets[0] as number, end: offsets[1] as number };
}

/** Bytes a tensor of this dtype and shape occupies, or a refusal where it cannot be represented. */
function byteSize(file: string, name: string, info: TensorInfo): number {
  let bits = BITS[info.dtype]!;
  for (const d of info.shape) {
    bits *= d;
    if (!Number.isSafeInteger(bits)) fail(file, `tensor ${name}'s shape [${info.shape}] overflows`);
  }
  if (bits % 8 !== 0) fail(file, `tensor ${name} does not end on a byte boundary`);
  return bits / 8;
}

/** Reads and validates the header; no tensor data is read. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new OcularError('invalid_request', `Cannot open ${file}: ${(err as Error).message}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) fail(file, 'it is shorter than the 8-byte header length');
    const lengthBytes = Buffer.alloc(8);
    readExactly(fd, lengthBytes, 0, file);
    const n = lengthBytes.readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER_BYTES)) fail(file, `its header claims ${n} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
    const headerLength = Number(n);
    if (8 + headerLength > size) fail(file, `its header claims ${headerLength} bytes but the file has ${size - 8} after the length`);
    const headerBytes = Buffer.alloc(headerLength);
    readExactly(fd, headerBytes, 8, file);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
    } catch {
      fail(file, 'its header is not UTF-8 JSON');
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) fail(file, 'its header is not a JSON object');
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string'))
          fail(file, '__metadata__ is not a map of strings');
        metadata = raw as Record<string, string>;
        continue;
      }
      tensors.set(name, tensorInfo(file, name, raw));
    }
    // As the reference reader: sorted by offsets, each tensor starts where the previous ended.
    let at = 0;
    for (const [name, t] of [...tensors].sort((a, b) => a[1].start - b[1].start || a[1].end - b[1].end)) {
      if (t.start !== at || t.end < t.start)
        fail(file, `tensor ${name} has data_offsets [${t.start}, ${t.end}] where [${at}, ...] was expected (offsets must be contiguous)`);
      if (t.end - t.start !== byteSize(file, name, t))
        fail(
          file,
          `tensor ${name} spans ${t.end - t.start} bytes but a ${t.dtype} tensor of shape [${t.shape}] needs ${byteSize(file, name, t)}`,
        );
      at = t.end;
    }
    if (8 + headerLength + at !== size) fail(file, `its tensors cover ${at} bytes of data but the file holds ${size - 8 - headerLength}`);
    return { file, dataStart: 8 + headerLength, tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

const BYTES: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

function decodeInto(dtype: FloatDtype, bytes: Buffer, out: Float32Array, at: number): void {
  const count = bytes.length / BYTES[dtype];
  switch (dtype) {
    case 'F32': // safetensors data is little-endian, as are the platforms Ocular runs on
      new Uint8Array(out.buffer, out.byteOffset + at * 4, bytes.length).set(bytes);
      return;
    case 'F64':
      for (let i = 0; i < count; i++) out[at + i] = bytes.readDoubleLE(i * 8);
      return;
    case 'F16':
      for (let i = 0; i < count; i++) out[at + i] = fromHalf(bytes.readUInt16LE(i * 2));
      return;
    case 'BF16': {
      const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
      for (let i = 0; i < count; i++) u[at + i] = bytes.readUInt16LE(i * 2) << 16;
      return;
    }
  }
}

/** Where a Float32Array first holds NaN or +-Infinity, as an index into a shape; null when all finite. */
function firstNonFinite(data: Float32Array, shape: number[]): { index: number[]; value: number } | null {
  for (let i = 0; i < data.length; i++) {
    if (Number.isFinite(data[i]!)) continue;
    const index: number[] = [];
    let rest = i;
    for (let d = shape.length - 1; d >= 0; d--) {
      index.unshift(rest % shape[d]!);
      rest = Math.floor(rest / shape[d]!);
    }
    return { index, value: data[i]! };
  }
  return null;
}

/**
 * One tensor's values as float32, read by offset in chunks. With `finite`, NaN and +-Infinity are
 * refused naming the tensor and the first place they occur.
 */
export function readTensor(header: SafetensorsHeader, name: string, options: { finite?: boolean } = {}): Tensor {
  const t = header.tensors.get(name);
  if (!t) throw new OcularError('invalid_request', `${header.file} has no tensor ${name}.`);
  if (!(t.dtype in BYTES))
    throw new OcularError('invalid_request', `${header.file}: tensor ${name} is ${t.dtype}; SAE weights must be F32, F16, BF16 or F64.`);
  const dtype = t.dtype as FloatDtype;
  const out = new Float32Array((t.end - t.start) / BYTES[dtype]);
  const fd = fs.openSync(header.file, 'r');
  try {
    const step = CHUNK_BYTES - (CHUNK_BYTES % BYTES[dtype]);
    const buf = Buffer.alloc(Math.min(step, t.end - t.start));
    for (let off = 0; off < t.end - t.start; off += step) {
      const chunk = buf.subarray(0, Math.min(step, t.end - t.start - off));
      readExactly(fd, chunk, header.dataStart + t.start + off, header.file);
      decodeInto(dtype, chunk, out, off / BYTES[dtype]);
    }
  } finally {
    fs.closeSync(fd);
  }
  if (options.finite) {
    const bad = firstNonFinite(out, t.shape);
    if (bad)
      throw new OcularError(
        'invalid_request',
        `${header.file}: tensor ${name} holds ${bad.value} at [${bad.index}]; Ocular refuses weights that are not finite.`,
      );
  }
  return { shape: t.shape, data: out };
}

/** Every tensor of a file (for small files such as training checkpoints). */
export function readSafetensors(
  file: string,
  options: { finite?: boolean } = {},
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const header = readSafetensorsHeader(file);
  const tensors = new Map<string, Tensor>();
  for (const name of header.tensors.keys()) tensors.set(name, readTensor(header, name, options));
  return { tensors, metadata: header.metadata };
}

const bf16View = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16View.buffer);

/** float32 -> bfloat16 bits, rounding to nearest even (as torch's .to(torch.bfloat16)). */
export function toBf16(value: number): number {
  bf16View[0] = value;
  const x = bf16Bits[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40; // NaN stays NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBf16(bits: number): number {
  bf16Bits[0] = bits << 16;
  return bf16View[0]!;
}

/** The value a float32 takes once stored as `dtype` and read back. */
export function roundTo(dtype: FloatDtype, value: number): number {
  if (dtype === 'BF16') return fromBf16(toBf16(value));
  if (dtype === 'F16') return fromHalf(toHalf(value));
  return value;
}

/** Whether every value survives storage as `dtype` unchanged. */
export function representable(dtype: FloatDtype, data: Float32Array): boolean {
  if (dtype === 'F32' || dtype === 'F64') return true;
  for (const v of data) if (!Object.is(roundTo(dtype, v), v)) return false;
  return true;
}

function encodeChunk(dtype: FloatDtype, data: Float32Array): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength); // little-endian, as read
  const out = Buffer.alloc(data.length * BYTES[dtype]);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (dtype === 'F64') out.writeDoubleLE(v, i * 8);
    else out.writeUInt16LE(dtype === 'F16' ? toHalf(v) : toBf16(v), i * 2);
  }
  return out;
}

/**
 * Writes tensors as `dtype` (F32 unless told), names sorted and the header padded with spaces to 8
 * bytes as the reference writer does; streamed to a temp file that replaces the target atomically.
 */
export function writeSafetensors(
  file: string,
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> = {},
  dtype: FloatDtype = 'F32',
): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const bytes = tensors[name]!.data.length * BYTES[dtype];
    header[name] = { dtype, shape: tensors[name]!.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length), 0);
  const perChunk = CHUNK_BYTES / BYTES[dtype];
  writeFileAtomicWith(file, (write) => {
    write(length);
    write(json);
    for (const name of names) {
      const d = tensors[name]!.data;
      for (let i = 0; i < d.length; i += perChunk) write(encodeChunk(dtype, d.subarray(i, i + perChunk)));
    }
  });
}
