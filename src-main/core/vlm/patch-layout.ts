/**
 * Where each image token looks: the image it belongs to, the tile of that image (anyres / image
 * splitting: several tiles and a global view per image), its cell in the tile's token grid, and the
 * cell's box in the ORIGINAL image's pixel coordinates. A tile is a rectangle of the original image
 * (after undoing the processor's resize, crop or split) that the vision tower saw as one grid of
 * rows x cols tokens (after Qwen's 2x2 merge, Idefics3's pixel shuffle, Gemma-3's pooling), so a
 * token's box is the rectangle's (row, col) cell. Heatmaps and patch crops are drawn from these boxes.
 */
export type Box = [x0: number, y0: number, x1: number, y1: number];

export interface Tile {
  /** The region of the original image the tile shows. */
  rect: Box;
  rows: number;
  cols: number;
  /** Tokens before the grid that stand for the whole tile (a CLS token): no cell, the tile's box. */
  leading: number;
}

export interface ImageTokenMeta {
  image: number;
  tile: number;
  patchRow: number | null;
  patchCol: number | null;
  /** Null for tokens that stand for no pixels (LLaVA-OneVision's image_newline). */
  box: Box | null;
}

const round = (v: number) => Math.round(v * 100) / 100;

/** The box of grid cell (row, col) of a tile. */
export function cellBox(tile: Tile, row: number, col: number): Box {
  const [x0, y0, x1, y1] = tile.rect;
  const w = (x1 - x0) / tile.cols;
  const h = (y1 - y0) / tile.rows;
  return [round(x0 + col * w), round(y0 + row * h), round(x0 + (col + 1) * w), round(y0 + (row + 1) * h)];
}

/** Token metadata of one image, in the order its tiles' tokens appear in the prompt. */
export function imageTokens(image: number, tiles: Tile[]): ImageTokenMeta[] {
  const out: ImageTokenMeta[] = [];
  tiles.forEach((tile, t) => {
    for (let k = 0; k < tile.leading; k++) out.push({ image, tile: t, patchRow: null, patchCol: null, box: [...tile.rect] as Box });
    for (let r = 0; r < tile.rows; r++)
      for (let c = 0; c < tile.cols; c++) out.push({ image, tile: t, patchRow: r, patchCol: c, box: cellBox(tile, r, c) });
  });
  return out;
}

/** The whole image as one tile (a resize to the model's input size, aspect ratio not kept). */
export function wholeImage(width: number, height: number, rows: number, cols: number, leading = 0): Tile {
  return { rect: [0, 0, width, height], rows, cols, leading };
}

/** Resize of the shortest edge to `size` then a centre crop of size x size (CLIP / LLaVA). */
export function centreCrop(width: number, height: number, rows: number, cols: number, leading = 0): Tile {
  const side = Math.min(width, height);
  const x0 = (width - side) / 2;
  const y0 = (height - side) / 2;
  return { rect: [x0, y0, x0 + side, y0 + side], rows, cols, leading };
}

/**
 * Idefics3 / SmolVLM image splitting: the image is resized to `resized` (multiples of the tile size),
 * cut into rows x cols tiles (the last row / column taken flush with the far edge), then the global view.
 */
export function splitTiles(
  width: number,
  height: number,
  resized: { width: number; height: number },
  split: { rows: number; cols: number },
  grid: number,
): Tile[] {
  const sx = width / resized.width;
  const sy = height / resized.height;
  const tileH = Math.ceil(resized.height / split.rows);
  const tileW = Math.ceil(resized.width / split.cols);
  const tiles: Tile[] = [];
  for (let r = 0; r < split.rows; r++)
    for (let c = 0; c < split.cols; c++) {
      const y0 = r === split.rows - 1 ? resized.height - tileH : r * tileH;
      const x0 = c === split.cols - 1 ? resized.width - tileW : c * tileW;
      tiles.push({ rect: [x0 * sx, y0 * sy, (x0 + tileW) * sx, (y0 + tileH) * sy], rows: grid, cols: grid, leading: 0 });
    }
  tiles.push(wholeImage(width, height, grid, grid));
  return tiles;
}

/**
 * Where the vision tower's own tokens (before Qwen's merge, Idefics3's pixel shuffle or Gemma-3's
 * pooling) look, for harvesting vision taps. `tiles` are each image's tiles (as the family lays
 * them out) and `grids` Qwen's (t, h, w) per image. Qwen's packed tokens [patches, d] come in the
 * processor's merge-block order (each merge x merge block of patches contiguous); other towers give
 * [tiles, tokens, d] with an optional leading CLS token per tile.
 */
export function visionTokens(
  dims: number[],
  tiles: Tile[][],
  grids: Array<[number, number, number] | undefined>,
  merge: number,
): ImageTokenMeta[] {
  const out: ImageTokenMeta[] = [];
  if (dims.length === 2) {
    tiles.forEach((imageTiles, image) => {
      const [t, h, w] = grids[image] ?? [0, 0, 0];
      const tile: Tile = { ...imageTiles[0]!, rows: h, cols: w };
      for (let j = 0; j < t * h * w; j++) {
        const within = j % (h * w);
        const block = Math.floor(within / (merge * merge));
        const row = Math.floor(block / (w / merge)) * merge + (Math.floor(within / merge) % merge);
        const col = (block % (w / merge)) * merge + (within % merge);
        out.push({ image, tile: 0, patchRow: row, patchCol: col, box: cellBox(tile, row, col) });
      }
    });
  } else {
    const [count, tokens] = dims as [number, number];
    const flat = tiles.flatMap((imageTiles, image) => imageTiles.map((tile, t) => ({ image, t, tile })));
    if (flat.length !== count) throw new Error(`The vision tower returned ${count} tiles where the processor made ${flat.length}.`);
    const side = Math.round(Math.sqrt(tokens));
    const leading = side * side === tokens ? 0 : 1;
    const grid = Math.round(Math.sqrt(tokens - leading));
    if (grid * grid !== tokens - leading) throw new Error(`${tokens} vision tokens per tile do not form a square grid.`);
    for (const { image, t, tile } of flat)
      out.push(...imageTokens(image, [{ ...tile, rows: grid, cols: grid, leading }]).map((m) => ({ ...m, tile: t })));
  }
  return out;
}
