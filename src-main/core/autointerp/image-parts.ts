/**
 * What a multimodal explainer sees of an image example: a crop around the patch (its box in the
 * original image's pixels, widened to show the surroundings) and the whole image with the feature's
 * activation over every image token painted as translucent red (alpha ∝ activation / the item's max).
 * Both are PNG data URIs for `image_url` parts. Images come from inside the workspace only.
 */
import { loadSharp } from '../util/sharp.js';
import type { FeatureExample } from '../../contract/contract.js';
import { pngDataUri, type ContentPart } from './chat-client.js';

const CROP_PX = 112;
const HEATMAP_PX = 256;

function exampleBox(
  e: Pick<FeatureExample, 'heatmap' | 'patchRow' | 'patchCol'>,
  width: number,
  height: number,
): [number, number, number, number] | null {
  const h = e.heatmap;
  if (!h || e.patchRow === null || e.patchCol === null) return null;
  // The example's own cell: the grid cell at (patchRow, patchCol) of its tile, in original pixels.
  const cell = h.cells?.filter((c) => c.image === (h.image ?? 0) && c.tile === (h.tile ?? 0))[e.patchRow * h.cols + e.patchCol];
  if (cell) return cell.box as [number, number, number, number];
  const cw = width / h.cols;
  const ch = height / h.rows;
  return [e.patchCol * cw, e.patchRow * ch, (e.patchCol + 1) * cw, (e.patchRow + 1) * ch];
}

export async function patchCrop(imageFile: string, e: Pick<FeatureExample, 'heatmap' | 'patchRow' | 'patchCol'>): Promise<Buffer | null> {
  const sharp = await loadSharp();
  const meta = await sharp(imageFile).metadata();
  const W = meta.width ?? 0;
  const H = meta.height ?? 0;
  const box = exampleBox(e, W, H);
  if (!box || W === 0 || H === 0) return null;
  const [x0, y0, x1, y1] = box;
  // Three patches wide around the patch, inside the image.
  const w = Math.max(1, x1 - x0);
  const h = Math.max(1, y1 - y0);
  const left = Math.max(0, Math.floor(x0 - w));
  const top = Math.max(0, Math.floor(y0 - h));
  const right = Math.min(W, Math.ceil(x1 + w));
  const bottom = Math.min(H, Math.ceil(y1 + h));
  return sharp(imageFile)
    .extract({ left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) })
    .resize(CROP_PX, CROP_PX, { fit: 'fill', kernel: 'nearest' })
    .png()
    .toBuffer();
}

export async function heatmapOverlay(imageFile: string, heatmap: NonNullable<FeatureExample['heatmap']>): Promise<Buffer> {
  const sharp = await loadSharp();
  const meta = await sharp(imageFile).metadata();
  const W = meta.width!;
  const H = meta.height!;
  const overlay = Buffer.alloc(W * H * 4);
  const cells = heatmap.cells ?? [];
  const max = Math.max(0, ...cells.map((c) => c.value));
  if (max > 0)
    for (const c of cells) {
      const alpha = Math.round((200 * Math.max(0, c.value)) / max);
      if (alpha === 0) continue;
      const [x0, y0, x1, y1] = c.box.map((v) => Math.round(v)) as [number, number, number, number];
      for (let y = Math.max(0, y0); y < Math.min(H, y1); y++)
        for (let x = Math.max(0, x0); x < Math.min(W, x1); x++) {
          const o = (y * W + x) * 4;
          overlay[o] = 255;
          overlay[o + 3] = Math.max(overlay[o + 3]!, alpha);
        }
    }
  return sharp(imageFile)
    .ensureAlpha()
    .composite([{ input: overlay, raw: { width: W, height: H, channels: 4 } }])
    .resize(HEATMAP_PX, HEATMAP_PX, { fit: 'inside' })
    .png()
    .toBuffer();
}

/** The image parts of one example for a multimodal endpoint (none for text examples or missing images). */
export async function exampleImageParts(e: FeatureExample, imageFile: string | null, withHeatmap: boolean): Promise<ContentPart[]> {
  if (e.modality !== 'image' || !imageFile) return [];
  const parts: ContentPart[] = [];
  const crop = await patchCrop(imageFile, e);
  if (crop) parts.push({ type: 'image_url', image_url: { url: pngDataUri(crop) } });
  if (withHeatmap && e.heatmap)
    parts.push({ type: 'image_url', image_url: { url: pngDataUri(await heatmapOverlay(imageFile, e.heatmap)) } });
  return parts;
}
