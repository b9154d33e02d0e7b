/**
 * One batch item (a prompt and its images) through the family's transformers.js processor, and the
 * vision encoder's inputs for a whole batch. Each item is processed alone (processors differ in
 * whether and on which side they pad; generation needs left padding, done by the pipeline), and
 * what the token layout needs about each image (its size, Qwen's grid, Idefics3's split) is read
 * from the processor's own outputs.
 */
import { OcularError } from '../errors.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import { anyresLayout, anyresTokenCount, packPlan, type AnyresConfig } from './anyres.js';
import type { FamilySpec, ProcessedImage } from './families.js';
import { pilResize } from './pil-resize.js';

export interface ProcessedItem {
  inputIds: number[];
  /** The processor's outputs by name (pixel_values, image_grid_thw, pixel_attention_mask, ...). */
  tensors: Record<string, WireTensor>;
  images: ProcessedImage[];
  /** LLaVA-OneVision: rows of the tile token table per tile, to shift pack_index when items are stacked. */
  tileTokens?: number;
}

interface RawImageLike {
  width: number;
  height: number;
}

export function toWire(t: { type: string; dims: number[]; data: unknown }): WireTensor {
  return { type: t.type as WireTensor['type'], dims: [...t.dims], data: t.data as WireTensor['data'] };
}

function concatAxis0(parts: WireTensor[], name: string): WireTensor {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const rest = first.dims.slice(1).join(',');
  if (parts.some((p) => p.dims.slice(1).join(',') !== rest))
    throw new OcularError(
      'invalid_request',
      `Items produce '${name}' of different shapes (${parts.map((p) => `[${p.dims}]`).join(' ')}); batch them separately.`,
    );
  const Ctor = first.data.constructor as new (n: number) => WireTensor['data'];
  const data = new Ctor(parts.reduce((n, p) => n + p.data.length, 0));
  let offset = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, offset);
    offset += p.data.length;
  }
  return { type: first.type, dims: [parts.reduce((n, p) => n + p.dims[0]!, 0), ...first.dims.slice(1)], data };
}

/** Pad axis 1 (images per item, Idefics3) with zeros up to `size`: padding images, masked out by zeros. */
function padAxis1(t: WireTensor, size: number): WireTensor {
  const [b, n, ...inner] = t.dims as [number, number, ...number[]];
  if (n === size) return t;
  const per = inner.reduce((a, x) => a * x, 1);
  const Ctor = t.data.constructor as new (n: number) => WireTensor['data'];
  const data = new Ctor(b * size * per);
  for (let i = 0; i < b; i++) (data as Float32Array).set((t.data as Float32Array).subarray(i * n * per, (i + 1) * n * per), i * size * per);
  return { type: t.type, dims: [b, size, ...inner], data };
}

/** Each item's pack_index rows point past the tiles of the items stacked before it (-1, the newline, stays). */
function shiftPackIndex(items: ProcessedItem[], parts: WireTensor[]): WireTensor[] {
  let offset = 0;
  return parts.map((part, i) => {
    const shift = BigInt(offset);
    offset += items[i]!.tensors.pixel_values!.dims[0]! * (items[i]!.tileTokens ?? 0);
    const data = BigInt64Array.from(part.data as BigInt64Array, (v) => (v >= 0n ? v + shift : v));
    return { ...part, data };
  });
}

/** The vision encoder's inputs for the batch: each input stacked along axis 0 (image count padded where 5-D). */
export function visionFeeds(items: ProcessedItem[], inputNames: readonly string[]): Record<string, WireTensor> {
  const feeds: Record<string, WireTensor> = {};
  for (const name of inputNames) {
    // Qwen2-VL's exports call the grid 'grid_thw', Qwen2.5-VL's and later 'image_grid_thw'.
    const source = name === 'grid_thw' ? 'image_grid_thw' : name;
    const parts = items.map((it) => it.tensors[source]);
    if (parts.some((p) => !p))
      throw new OcularError('invalid_request', `The vision encoder needs '${name}', which the processor did not produce.`);
    let wire = parts as WireTensor[];
    if (name === 'pack_index') wire = shiftPackIndex(items, wire);
    const padded = wire[0]!.dims.length >= 4 ? wire.map((p) => padAxis1(p, Math.max(...wire.map((q) => q.dims[1]!)))) : wire;
    feeds[name] = concatAxis0(padded, name);
  }
  return feeds;
}

function ids(tensor: { data: unknown }): number[] {
  return Array.from(tensor.data as BigInt64Array, Number);
}

/** Qwen: the image processor per image, then the image token expanded to each image's merged token count. */
async function processQwen(processor: any, family: FamilySpec, images: RawImageLike[], text: string): Promise<ProcessedItem> {
  const perImage = [];
  for (const image of images) perImage.push(await processor.image_processor(image));
  const grids = perImage.map((p) => ids(p.image_grid_thw) as [number, number, number]);
  const token = (processor.constructor as { image_token?: string }).image_token ?? '<|image_pad|>';
  const pieces = text.split(token);
  if (pieces.length - 1 !== images.length)
    throw new OcularError('invalid_request', `The prompt holds ${pieces.length - 1} image tokens for ${images.length} images.`);
  const expanded = pieces.reduce(
    (acc, piece, i) => acc + token.repeat(grids[i - 1]!.reduce((a, b) => a * b, 1) / family.mergeSize ** 2) + piece,
  );
  const tokens = processor.tokenizer(expanded);
  const tensors: Record<string, WireTensor> = {};
  if (perImage.length) {
    tensors.pixel_values = concatAxis0(
      perImage.map((p) => toWire(p.pixel_values)),
      'pixel_values',
    );
    tensors.image_grid_thw = concatAxis0(
      perImage.map((p) => toWire(p.image_grid_thw)),
      'image_grid_thw',
    );
  }
  return {
    inputIds: ids(tokens.input_ids),
    tensors,
    images: images.map((im, i) => ({ width: im.width, height: im.height, grid: grids[i] })),
  };
}

/** The anyres settings a LLaVA-OneVision preprocessor_config.json must agree with, or a one-line refusal. */
function anyresPixels(pre: Record<string, any>, cfg: AnyresConfig) {
  const size = pre.size ?? {};
  const side = size.height ?? size.shortest_edge;
  if (!(side === cfg.tile && (size.width ?? side) === cfg.tile) || (pre.crop_size && pre.crop_size.height !== cfg.tile))
    throw new OcularError(
      'invalid_request',
      `llava_onevision: preprocessor_config.json's size (${JSON.stringify(pre.size)}) differs from the vision tower's ${cfg.tile} px tiles; resizing tiles is not implemented.`,
    );
  const pins = JSON.stringify(pre.image_grid_pinpoints ?? cfg.pinpoints);
  if (pins !== JSON.stringify(cfg.pinpoints))
    throw new OcularError(
      'invalid_request',
      'llava_onevision: image_grid_pinpoints differ between preprocessor_config.json and config.json.',
    );
  if (pre.do_center_crop) throw new OcularError('invalid_request', 'llava_onevision: do_center_crop is not implemented.');
  const mean = (pre.image_mean ?? [0.48145466, 0.4578275, 0.40821073]) as number[];
  const std = (pre.image_std ?? [0.26862954, 0.26130258, 0.27577711]) as number[];
  const scale = pre.do_rescale === false ? 1 : (pre.rescale_factor ?? 1 / 255);
  const normalize = pre.do_normalize !== false;
  return { resample: Number(pre.resample ?? 3), mean, std, scale, normalize };
}

/**
 * LLaVA-OneVision, as LlavaOnevisionImageProcessor (PIL backend) and LlavaOnevisionProcessor do: per
 * image the base view and the best pinpoint's tiles (pixels resized with Pillow's filter, bit for
 * bit), the packing plan (anyres.ts) for the vision graph, and the image token expanded to the
 * packed token count.
 */
async function processAnyres(processor: any, family: FamilySpec, images: RawImageLike[], text: string): Promise<ProcessedItem> {
  const cfg = family.anyres!;
  const px = anyresPixels(processor.image_processor?.config ?? {}, cfg);
  const S = cfg.tile;
  const tiles: Float32Array[] = [];
  const index: number[] = [];
  const weight: number[] = [];
  const info: ProcessedImage[] = [];
  const counts: number[] = [];
  let tileBase = 0;
  const toPixels = (rgb: Uint8Array) => {
    const out = new Float32Array(3 * S * S);
    const f = Math.fround;
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < S * S; i++) {
        const v = f(rgb[i * 3 + c]! * px.scale);
        out[c * S * S + i] = px.normalize ? f(f(v - f(px.mean[c]!)) / f(px.std[c]!)) : v;
      }
    return out;
  };
  for (const image of images as Array<RawImageLike & { rgb(): { data: Uint8Array; width: number; height: number } }>) {
    const rgb = image.rgb();
    const { width: W, height: H } = rgb;
    const layout = anyresLayout(W, H, cfg);
    tiles.push(toPixels(pilResize(rgb.data, W, H, 3, S, S, px.resample)));
    const resized = pilResize(rgb.data, W, H, 3, layout.resized.width, layout.resized.height, px.resample);
    const [bh, bw] = layout.best;
    const canvas = new Uint8Array(bw * bh * 3); // black padding, as np.pad with zeros
    for (let y = 0; y < layout.resized.height; y++)
      canvas.set(
        resized.subarray(y * layout.resized.width * 3, (y + 1) * layout.resized.width * 3),
        ((y + layout.pad.y) * bw + layout.pad.x) * 3,
      );
    for (let r = 0; r < layout.rows; r++)
      for (let c = 0; c < layout.cols; c++) {
        const tile = new Uint8Array(S * S * 3);
        for (let y = 0; y < S; y++)
          tile.set(canvas.subarray(((r * S + y) * bw + c * S) * 3, ((r * S + y) * bw + (c + 1) * S) * 3), y * S * 3);
        tiles.push(toPixels(tile));
      }
    const plan = packPlan(layout, cfg);
    const shift = tileBase * cfg.grid * cfg.grid;
    for (const v of plan.index) index.push(v >= 0 ? v + shift : v);
    weight.push(...plan.weight);
    tileBase += 1 + layout.rows * layout.cols;
    counts.push(anyresTokenCount(layout, cfg));
    info.push({ width: W, height: H, anyres: layout });
  }
  // LlavaOnevisionProcessor's image token; the tokenizer must read it as config.json's image token id.
  const token = '<image>';
  const encoded = Array.from(processor.tokenizer.encode(token, { add_special_tokens: false }) as number[], Number);
  if (encoded.length !== 1 || encoded[0] !== family.imageTokenId)
    throw new OcularError(
      'invalid_request',
      `llava_onevision: the tokenizer reads '${token}' as [${encoded}], not image token ${family.imageTokenId}.`,
    );
  const pieces = text.split(token);
  if (pieces.length - 1 !== images.length)
    throw new OcularError('invalid_request', `The prompt holds ${pieces.length - 1} image tokens for ${images.length} images.`);
  const expanded = pieces.reduce((acc, piece, i) => acc + token.repeat(counts[i - 1]!) + piece);
  const tokens = processor.tokenizer(expanded);
  const tensors: Record<string, WireTensor> = {};
  if (tiles.length) {
    const pixels = new Float32Array(tiles.length * 3 * S * S);
    tiles.forEach((t, i) => pixels.set(t, i * 3 * S * S));
    tensors.pixel_values = { type: 'float32', dims: [tiles.length, 3, S, S], data: pixels };
    tensors.pack_index = { type: 'int64', dims: [index.length / 4, 4], data: BigInt64Array.from(index, BigInt) };
    tensors.pack_weight = { type: 'float32', dims: [weight.length / 4, 4], data: Float32Array.from(weight) };
  }
  return { inputIds: ids(tokens.input_ids), tensors, images: info, tileTokens: cfg.grid * cfg.grid };
}

export async function processItem(processor: any, family: FamilySpec, images: RawImageLike[], text: string): Promise<ProcessedItem> {
  if (images.length > family.maxImagesPerItem)
    throw new OcularError(
      'invalid_request',
      `${family.family} takes ${family.maxImagesPerItem} image per prompt; this item has ${images.length}.`,
    );
  if (family.processorCall === 'qwen') return processQwen(processor, family, images, text);
  if (family.processorCall === 'anyres') return processAnyres(processor, family, images, text);
  const out =
    family.processorCall === 'images-first'
      ? await processor(images, [text])
      : family.processorCall === 'text-first'
        ? await processor([text], images)
        : await processor([text], [images]);
  const tensors: Record<string, WireTensor> = {};
  for (const [name, value] of Object.entries(out))
    if (value && typeof value === 'object' && 'dims' in value && 'data' in value) tensors[name] = toWire(value as any);
  const imageProcessor = processor.image_processor;
  const reshaped = (out.reshaped_input_sizes ?? []) as Array<[number, number]>;
  return {
    inputIds: ids(out.input_ids),
    tensors,
    images: images.map((im, j) => {
      const info: ProcessedImage = { width: im.width, height: im.height };
      const rows = out.rows?.[0]?.[j];
      const cols = out.cols?.[0]?.[j];
      if (rows !== undefined && cols !== undefined && rows + cols > 0 && reshaped[j]) {
        info.split = { rows, cols };
        const longest = imageProcessor.max_image_size.longest_edge;
        info.resized = imageProcessor.get_resize_for_vision_encoder({ dims: [3, ...reshaped[j]!] }, longest);
      }
      return info;
    }),
  };
}
