/** IEEE 754 half-precision conversion (round to nearest even), for fp16 activation shards. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  const rounded = half + (rem > 0x1000 || (rem === 0x1000 && half & 1) ? 1 : 0);
  e = rounded >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : rounded);
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

export function floatToHalf(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i]!);
  return out;
}

/** Every half's float32 value, built once from fromHalf (256 KB): shard decoding is a table lookup per element. */
let table: Float32Array | null = null;

export function halfTable(): Float32Array {
  if (!table) table = Float32Array.from({ length: 65536 }, (_, h) => fromHalf(h));
  return table;
}

export function halfToFloat(values: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = t[values[i]!]!;
  return out;
}
