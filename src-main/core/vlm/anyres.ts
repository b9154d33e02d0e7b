/**
 * LLaVA-OneVision's anyres layout, as transformers computes it (image_processing_llava_onevision.py,
 * processing_llava_onevision.py, modeling_llava_onevision.py). For an image of W x H pixels:
 *
 *   best = select_best_resolution((H, W), image_grid_pinpoints)      the pinpoint that keeps the most pixels
 *   resized = the image scaled into best keeping its aspect ratio     get_patch_output_size
 *   canvas = resized pasted at (padX, padY) in a best-sized black canvas, cut into S x S tiles (rows x cols)
 *   tiles = [the whole image resized to S x S (base view), canvas tiles row-major]
 *
 * The vision tower turns each tile into g x g tokens (g = S / patch). The model then lays the grid
 * tiles' tokens out as one (rows*g) x (cols*g) grid, drops the token rows (or columns) that fall in
 * the padding (unpad_image), and when that grid holds more than 1.1^2 * N * g^2 tokens
 * (vision_aspect_ratio "anyres_max_N") shrinks it by torch's bilinear interpolation
 * (align_corners=False) to floor(h / ratio) x floor(w / ratio). Each grid row ends with the
 * image_newline embedding; the base view's g*g tokens come first, without a newline. The prompt
 * holds one image token per resulting vector.
 *
 * The plan (packPlan) expresses all of that as 4 weighted rows per token of the table of projected
 * tile tokens (row tile * g*g + token; -1 for image_newline), which the exported vision graph applies.
 */
import { cellBox, type Box, type ImageTokenMeta, type Tile } from './patch-layout.js';

export interface AnyresConfig {
  /** Tile side in pixels (the vision tower's image_size). */
  tile: number;
  /** Patch side in pixels; a tile's tokens see grid * patch pixels of it (SigLIP-384/14: 378, the rest unseen). */
  patch: number;
  /** Tokens per tile side (image_size // patch_size). */
  grid: number;
  /** Candidate resolutions, [height, width]. */
  pinpoints: Array<[number, number]>;
  /** N of "anyres_max_N". */
  maxPatches: number;
}

export interface AnyresLayout {
  width: number;
  height: number;
  /** The chosen pinpoint, [height, width]. */
  best: [number, number];
  /** Tiles per column and per row of the canvas. */
  rows: number;
  cols: number;
  /** The image's size inside the canvas, and where it is pasted. */
  resized: { width: number; height: number };
  pad: { x: number; y: number };
  /** The unpadded token grid inside the full (rows*g) x (cols*g) grid. */
  unpad: { top: number; left: number; rows: number; cols: number };
  /** The packed grid after the anyres_max downsampling (equal to unpad's size without it). */
  out: { rows: number; cols: number };
}

/** transformers' select_best_resolution over (height, width) pinpoints. */
export function selectBestResolution(height: number, width: number, pinpoints: Array<[number, number]>): [number, number] {
  let best: [number, number] = pinpoints[0]!;
  let maxEffective = 0;
  let minWasted = Infinity;
  for (const [h, w] of pinpoints) {
    const scale = Math.min(w / width, h / height);
    const effective = Math.min(Math.trunc(width * scale) * Math.trunc(height * scale), width * height);
    const wasted = w * h - effective;
    if (effective > maxEffective || (effective === maxEffective && wasted < minWasted)) {
      maxEffective = effective;
      minWasted = wasted;
      best = [h, w];
    }
  }
  return best;
}

/** Python's round(x, 7) then int(): the rounding unpad_image and _get_unpadded_features apply. */
function roundTo7(x: number): number {
  return Math.trunc(Number(x.toFixed(7)));
}

export function anyresLayout(width: number, height: number, cfg: AnyresConfig): AnyresLayout {
  const best = selectBestResolution(height, width, cfg.pinpoints);
  const [bh, bw] = best;
  // get_patch_output_size
  const sw = bw / width;
  const sh = bh / height;
  const resized =
    sw < sh ? { width: bw, height: Math.min(Math.ceil(height * sw), bh) } : { width: Math.min(Math.ceil(width * sh), bw), height: bh };
  const pad = { x: Math.floor((bw - resized.width) / 2), y: Math.floor((bh - resized.height) / 2) };
  const rows = Math.floor(bh / cfg.tile);
  const cols = Math.floor(bw / cfg.tile);
  // unpad_image on the (rows*g) x (cols*g) token grid
  let curH = rows * cfg.grid;
  let curW = cols * cfg.grid;
  let top = 0;
  let left = 0;
  if (width / height > curW / curH) {
    const p = Math.floor((curH - roundTo7(height * (curW / width))) / 2);
    top = p;
    curH -= 2 * p;
  } else {
    const p = Math.floor((curW - roundTo7(width * (curH / height))) / 2);
    left = p;
    curW -= 2 * p;
  }
  const ratio = Math.sqrt((curH * curW) / (cfg.maxPatches * cfg.grid ** 2));
  const out = ratio > 1.1 ? { rows: Math.floor(curH / ratio), cols: Math.floor(curW / ratio) } : { rows: curH, cols: curW };
  return { width, height, best, rows, cols, resized, pad, unpad: { top, left, rows: curH, cols: curW }, out };
}

/** torch's upsample_bilinear2d source taps (align_corners=False, output size given): [i0, i1, w0, w1] per output index. */
export function bilinearTaps(outSize: number, inSize: number): Array<[number, number, number, number]> {
  if (outSize === inSize) return Array.from({ length: outSize }, (_, i) => [i, i, 1, 0]);
  // Computed in float32 as torch's CPU kernel does (area_pixel_compute_scale / source_index).
  const f = Math.fround;
  const scale = f(inSize / outSize);
  return Array.from({ length: outSize }, (_, o) => {
    const src = Math.max(f(f(scale * f(o + 0.5)) - 0.5), 0);
    const i0 = Math.floor(src);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const lambda = f(src - i0);
    return [i0, i1, f(1 - lambda), lambda];
  });
}

/** Tokens of one image: the base view's g*g, then the packed grid with a newline after each row. */
export function anyresTokenCount(layout: AnyresLayout, cfg: AnyresConfig): number {
  return cfg.grid * cfg.grid + layout.out.rows * (layout.out.cols + 1);
}

/**
 * The packing plan of one image: per token 4 rows of its tiles' token table (local: the base view is
 * tile 0) and their weights; -1 is image_newline. Plain tokens are [r, r, r, r] with weights [1, 0, 0, 0].
 */
export function packPlan(layout: AnyresLayout, cfg: AnyresConfig): { index: number[]; weight: number[] } {
  const g = cfg.grid;
  const perTile = g * g;
  const index: number[] = [];
  const weight: number[] = [];
  for (let k = 0; k < perTile; k++) {
    index.push(k, k, k, k);
    weight.push(1, 0, 0, 0);
  }
  const rowOf = (r: number, c: number) => (1 + Math.floor(r / g) * layout.cols + Math.floor(c / g)) * perTile + (r % g) * g + (c % g);
  const rt = bilinearTaps(layout.out.rows, layout.unpad.rows);
  const ct = bilinearTaps(layout.out.cols, layout.unpad.cols);
  const { top, left } = layout.unpad;
  for (const [r0, r1, a0, a1] of rt) {
    for (const [c0, c1, b0, b1] of ct) {
      index.push(rowOf(top + r0, left + c0), rowOf(top + r0, left + c1), rowOf(top + r1, left + c0), rowOf(top + r1, left + c1));
      weight.push(a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    }
    index.push(-1, -1, -1, -1);
    weight.push(1, 0, 0, 0);
  }
  return { index, weight };
}

const round = (v: number) => Math.round(v * 100) / 100;

/** A canvas rectangle (pixels of the best-resolution canvas) in the original image's pixels, clipped to the image. */
function canvasToImage(layout: AnyresLayout, x0: number, y0: number, x1: number, y1: number, clip: boolean): Box {
  const sx = layout.width / layout.resized.width;
  const sy = layout.height / layout.resized.height;
  const fx = (x: number) => (clip ? Math.min(Math.max(x, 0), layout.width) : x);
  const fy = (y: number) => (clip ? Math.min(Math.max(y, 0), layout.height) : y);
  return [
    round(fx((x0 - layout.pad.x) * sx)),
    round(fy((y0 - layout.pad.y) * sy)),
    round(fx((x1 - layout.pad.x) * sx)),
    round(fy((y1 - layout.pad.y) * sy)),
  ];
}

/**
 * The vision tower's tiles of one image, in pixel_values order: the base view (the whole image) and
 * the canvas tiles, whose rectangles reach into the padding where the canvas does (cells there
 * show padding, and their boxes lie outside the image).
 */
export function anyresTiles(layout: AnyresLayout, cfg: AnyresConfig): Tile[] {
  const seen = cfg.grid * cfg.patch;
  const base = seen / cfg.tile; // share of the S x S base view its patches cover
  const tiles: Tile[] = [
    { rect: [0, 0, round(layout.width * base), round(layout.height * base)], rows: cfg.grid, cols: cfg.grid, leading: 0 },
  ];
  for (let r = 0; r < layout.rows; r++)
    for (let c = 0; c < layout.cols; c++)
      tiles.push({
        rect: canvasToImage(layout, c * cfg.tile, r * cfg.tile, c * cfg.tile + seen, r * cfg.tile + seen, false),
        rows: cfg.grid,
        cols: cfg.grid,
        leading: 0,
      });
  return tiles;
}

/** A position in token units along the full grid (fractional after downsampling) in canvas pixels. */
function tokenToCanvas(t: number, cfg: AnyresConfig, end: boolean): number {
  let tile = Math.floor(t / cfg.grid);
  // A cell ending on a tile boundary ends at its tile's last patch, not at the next tile's start.
  if (end && tile > 0 && t === tile * cfg.grid) tile -= 1;
  return tile * cfg.tile + (t - tile * cfg.grid) * cfg.patch;
}

/**
 * Per prompt token of one image: tile 0 is the base view (a g x g grid over the whole image), tile 1
 * the packed anyres grid (out.rows x out.cols cells; a cell's box is its footprint in the unpadded
 * token grid, through the canvas back to the original pixels, clipped to the image). Newline tokens
 * stand for no pixels: no cell, no box.
 */
export function anyresTokens(image: number, layout: AnyresLayout, cfg: AnyresConfig): ImageTokenMeta[] {
  const out: ImageTokenMeta[] = [];
  const base = anyresTiles(layout, cfg)[0]!;
  for (let r = 0; r < cfg.grid; r++)
    for (let c = 0; c < cfg.grid; c++) out.push({ image, tile: 0, patchRow: r, patchCol: c, box: cellBox(base, r, c) });
  const { top, left, rows, cols } = layout.unpad;
  const fh = rows / layout.out.rows;
  const fw = cols / layout.out.cols;
  for (let i = 0; i < layout.out.rows; i++) {
    for (let j = 0; j < layout.out.cols; j++) {
      const y0 = tokenToCanvas(top + i * fh, cfg, false);
      const y1 = tokenToCanvas(top + (i + 1) * fh, cfg, true);
      const x0 = tokenToCanvas(left + j * fw, cfg, false);
      const x1 = tokenToCanvas(left + (j + 1) * fw, cfg, true);
      out.push({ image, tile: 1, patchRow: i, patchCol: j, box: canvasToImage(layout, x0, y0, x1, y1, true) });
    }
    out.push({ image, tile: 1, patchRow: null, patchCol: null, box: null });
  }
  return out;
}
