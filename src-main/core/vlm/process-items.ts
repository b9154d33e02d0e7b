/**
 * One batch item (a prompt and its images) through the family's transformers.js processor, and the
 * vision encoder's inputs for a whole batch. Each item is processed alone (processors differ in
 * whether and on which side they pad; generation needs left padding, done by the pipeline), and
 * what the token layout needs about each image (its size, Qwen's grid, Idefics3's split) is read
 * from the processor's own outputs.
 */
import { OcularError } from '../errors.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import type { FamilySpec, ProcessedImage } from './families.js';

export interface ProcessedItem {
  inputIds: number[];
  /** The processor's outputs by name (pixel_values, image_grid_thw, pixel_attention_mask, ...). */
  tensors: Record<string, WireTensor>;
  images: ProcessedImage[];
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

/** The vision encoder's inputs for the batch: each input stacked along axis 0 (image count padded where 5-D). */
export function visionFeeds(items: ProcessedItem[], inputNames: readonly string[]): Record<string, WireTensor> {
  const feeds: Record<string, WireTensor> = {};
  for (const name of inputNames) {
    // Qwen2-VL's exports call the grid 'grid_thw', Qwen2.5-VL's and later 'image_grid_thw'.
    const source = name === 'grid_thw' ? 'image_grid_thw' : name;
    const parts = items.map((it) => it.tensors[source]);
    if (parts.some((p) => !p))
      throw new OcularError('invalid_request', `The vision encoder needs '${name}', which the processor did not produce.`);
    const wire = parts as WireTensor[];
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

export async function processItem(processor: any, family: FamilySpec, images: RawImageLike[], text: string): Promise<ProcessedItem> {
  if (images.length > family.maxImagesPerItem)
    throw new OcularError(
      'invalid_request',
      `${family.family} takes ${family.maxImagesPerItem} image per prompt; this item has ${images.length}.`,
    );
  if (family.processorCall === 'qwen') return processQwen(processor, family, images, text);
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
