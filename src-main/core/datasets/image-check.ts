/**
 * Whether a dataset image can be used, decided at import by decoding it fully — the header alone
 * passes a truncated PNG that then fails mid-harvest. Only raster formats both the model pipeline
 * (sharp, via transformers.js) and the browser decode are taken: an SVG is a document that can carry
 * script and would later be served from the workspace, so it is refused with a note to convert it.
 * The pixel count is bounded before decoding so one huge image cannot exhaust memory.
 */
import path from 'node:path';
import type { Metadata } from 'sharp';
import { loadSharp } from '../util/sharp.js';

/** 64 megapixels: an 8192 x 8192 photo decodes (192 MB as RGB); a 20000 x 20000 one is refused. */
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;

const RASTER_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif']);
const RASTER_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif']);

/** null when the image is usable, else the problem in a few words (the caller adds file and row). */
export async function imageProblem(file: string, shownAs: string, maxPixels = MAX_IMAGE_PIXELS): Promise<string | null> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.svg' || ext === '.svgz')
    return `image '${shownAs}' is an SVG; Ocular takes raster images (PNG, JPEG, WebP, GIF): convert it to PNG first`;
  const sharp = await loadSharp();
  let meta: Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch {
    return `image '${shownAs}' is not a readable image`;
  }
  if (!meta.format || !RASTER_FORMATS.has(meta.format))
    return `image '${shownAs}' is ${meta.format ?? 'of an unknown format'}; Ocular takes raster images (PNG, JPEG, WebP, GIF)`;
  if (!RASTER_EXTENSIONS.has(ext))
    return `image '${shownAs}' holds ${meta.format} data but is named '${ext || '(no extension)'}'; name it .${meta.format === 'jpeg' ? 'jpg' : meta.format}`;
  if (!meta.width || !meta.height) return `image '${shownAs}' has no size`;
  const pixels = meta.width * meta.height; // one frame: the pipeline reads a GIF's first
  if (pixels > maxPixels)
    return `image '${shownAs}' is ${meta.width}x${meta.height} (${(pixels / 1e6).toFixed(1)} megapixels), over the limit of ${(maxPixels / 1e6).toFixed(1)} megapixels`;
  try {
    // failOn 'truncated' fails a file cut short; 'error' also catches corrupt data after the header.
    await sharp(file, { limitInputPixels: maxPixels, failOn: 'truncated' }).raw().toBuffer();
  } catch (err) {
    return `image '${shownAs}' does not decode (${(err as Error).message.split('\n')[0]}): truncated or corrupt`;
  }
  return null;
}
