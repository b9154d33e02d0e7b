/**
 * Pillow's Image.resize for 8-bit RGB, bit for bit (libImaging/Resample.c): a separable two-pass
 * convolution, horizontal then vertical, whose filter support widens by the scale when shrinking
 * (so downscaling is antialiased, unlike an affine resample), with coefficients normalised per
 * output pixel and applied in 22-bit fixed point, the intermediate rounded to uint8. Transformers'
 * PIL image processors resize this way, so an anyres processor that must give the same pixels as
 * LlavaOnevisionImageProcessor uses it rather than sharp's resampler.
 */
import { OcularError } from '../errors.js';

const PRECISION_BITS = 32 - 8 - 2;

interface Filter {
  support: number;
  at(x: number): number;
}

const FILTERS: Record<number, Filter> = {
  // PIL.Image.Resampling: 2 BILINEAR, 3 BICUBIC (a = -0.5).
  2: { support: 1, at: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  3: {
    support: 2,
    at: (v) => {
      const a = -0.5;
      const x = Math.abs(v);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

/** Per output index: the first input index, the count, and the fixed-point weights (precompute_coeffs + normalize_coeffs_8bpc). */
function coefficients(inSize: number, outSize: number, filter: Filter) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const bounds: Array<[number, number]> = [];
  const weights: Int32Array[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = new Float64Array(xmax);
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.at((x + xmin - center + 0.5) / filterScale);
      ww += k[x]!;
    }
    const fixed = new Int32Array(xmax);
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x]! / ww : k[x]!;
      fixed[x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds.push([xmin, xmax]);
    weights.push(fixed);
  }
  return { bounds, weights };
}

function clip8(v: number): number {
  if (v >= (1 << PRECISION_BITS) << 8) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / (1 << PRECISION_BITS));
}

/**
 * Resize interleaved RGB(A) uint8 pixels `data` (width x height x channels) to outW x outH with PIL's
 * BILINEAR (2) or BICUBIC (3) filter. The same size returns a copy, as Image.resize does.
 */
export function pilResize(
  data: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: number,
  outW: number,
  outH: number,
  resample: number,
): Uint8Array {
  const filter = FILTERS[resample];
  if (!filter)
    throw new OcularError(
      'invalid_request',
      `Resampling filter ${resample} is not implemented exactly (only PIL's bilinear 2 and bicubic 3 are).`,
    );
  if (outW === width && outH === height) return Uint8Array.from(data);
  const horiz = coefficients(width, outW, filter);
  const vert = coefficients(height, outH, filter);
  // Rows of the source the vertical pass reads (PIL's ybox_first / ybox_last).
  const first = vert.bounds[0]![0];
  const last = vert.bounds[outH - 1]![0] + vert.bounds[outH - 1]![1];
  let src: Uint8Array = Uint8Array.from(data);
  let srcRows = height;
  let rowOffset = 0;
  if (outW !== width) {
    const rows = last - first;
    const tmp = new Uint8Array(outW * rows * channels);
    for (let y = 0; y < rows; y++)
      for (let xx = 0; xx < outW; xx++) {
        const [xmin, count] = horiz.bounds[xx]!;
        const k = horiz.weights[xx]!;
        for (let c = 0; c < channels; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < count; x++) ss += src[((y + first) * width + x + xmin) * channels + c]! * k[x]!;
          tmp[(y * outW + xx) * channels + c] = clip8(ss);
        }
      }
    src = tmp;
    srcRows = rows;
    rowOffset = first;
  }
  if (outH === height && rowOffset === 0 && srcRows === height) return src;
  const out = new Uint8Array(outW * outH * channels);
  for (let yy = 0; yy < outH; yy++) {
    const [ymin, count] = vert.bounds[yy]!;
    const k = vert.weights[yy]!;
    for (let xx = 0; xx < outW; xx++)
      for (let c = 0; c < channels; c++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let y = 0; y < count; y++) ss += src[((y + ymin - rowOffset) * outW + xx) * channels + c]! * k[y]!;
        out[(yy * outW + xx) * channels + c] = clip8(ss);
      }
  }
  return out;
}
