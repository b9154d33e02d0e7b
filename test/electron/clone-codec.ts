/**
 * Carries structured-cloneable values through JSON without losing what structured clone keeps and
 * JSON does not (undefined, NaN, ±Infinity, -0, BigInt, typed arrays, ArrayBuffer, Date, RegExp,
 * Map, Set, Error): the desktop e2e harness's wire between the page's stand-in ipcRenderer and the
 * main process under Node. Values are structured-cloned on each side first, as Electron's IPC does;
 * this codec only has to be lossless. Cycles are refused (IPC payloads here never have them).
 */
type Tagged = null | boolean | string | number | Tagged[] | { [key: string]: Tagged };

const TYPED = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function base64ToBytes(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function encodeCloneable(value: unknown, seen: Set<object> = new Set()): Tagged {
  if (value === undefined) return { $: 'undefined' };
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0) ? value : { $: 'number', v: String(value) };
  if (typeof value === 'bigint') return { $: 'bigint', v: value.toString() };
  if (typeof value !== 'object') throw new Error(`cannot carry a ${typeof value}`);
  if (seen.has(value)) throw new Error('cannot carry a cycle');
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => encodeCloneable(v, seen));
    if (value instanceof ArrayBuffer) return { $: 'ArrayBuffer', v: bytesToBase64(new Uint8Array(value)) };
    if (ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return { $: value.constructor.name, v: bytesToBase64(bytes.slice()) };
    }
    if (value instanceof Date) return { $: 'Date', v: value.getTime() };
    if (value instanceof RegExp) return { $: 'RegExp', v: [value.source, value.flags] };
    if (value instanceof Map) return { $: 'Map', v: [...value].map(([k, v]) => [encodeCloneable(k, seen), encodeCloneable(v, seen)]) };
    if (value instanceof Set) return { $: 'Set', v: [...value].map((v) => encodeCloneable(v, seen)) };
    if (value instanceof Error) return { $: 'Error', v: [value.name, value.message] };
    const out: { [key: string]: Tagged } = {};
    for (const [k, v] of Object.entries(value)) out[k] = encodeCloneable(v, seen);
    return { $: 'object', v: out };
  } finally {
    seen.delete(value);
  }
}

export function decodeCloneable(tagged: Tagged): unknown {
  if (tagged === null || typeof tagged !== 'object') return tagged;
  if (Array.isArray(tagged)) return tagged.map(decodeCloneable);
  const { $: tag, v } = tagged as { $: string; v: any };
  switch (tag) {
    case 'undefined':
      return undefined;
    case 'number':
      return Number(v);
    case 'bigint':
      return BigInt(v);
    case 'ArrayBuffer':
      return base64ToBytes(v).buffer;
    case 'Date':
      return new Date(v);
    case 'RegExp':
      return new RegExp(v[0], v[1]);
    case 'Map':
      return new Map((v as Tagged[][]).map(([k, x]) => [decodeCloneable(k!), decodeCloneable(x!)]));
    case 'Set':
      return new Set((v as Tagged[]).map(decodeCloneable));
    case 'Error': {
      const err = new Error(v[1]);
      err.name = v[0];
      return err;
    }
    case 'object':
      return Object.fromEntries(Object.entries(v as Record<string, Tagged>).map(([k, x]) => [k, decodeCloneable(x)]));
    default: {
      if (!(TYPED as readonly string[]).includes(tag)) throw new Error(`unknown tag ${tag}`);
      const bytes = base64ToBytes(v);
      const Ctor = (globalThis as any)[tag];
      return new Ctor(bytes.buffer, 0, bytes.byteLength / Ctor.BYTES_PER_ELEMENT);
    }
  }
}
