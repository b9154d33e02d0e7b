/**
 * What differs between VLM families once the graphs are in the onnx-community layout: how the
 * image token is named in config.json, how the processor is called, how the decoder counts
 * positions (1-D, or Qwen's 3-D M-RoPE), and how one image's tokens map onto the image (tiles and
 * token grids, for per-token patch metadata; see patch-layout.ts).
 */
import { OcularError } from '../errors.js';
import { anyresTiles, anyresTokens, type AnyresConfig, type AnyresLayout } from './anyres.js';
import { centreCrop, splitTiles, wholeImage, type ImageTokenMeta, type Tile } from './patch-layout.js';

/** What the processor reports about one image, as far as the token layout needs it. */
export interface ProcessedImage {
  width: number;
  height: number;
  /** Qwen: (t, h, w) in patches, from image_grid_thw. */
  grid?: [number, number, number];
  /** Idefics3 / SmolVLM image splitting: tiles per column and row (0 and 0 without splitting). */
  split?: { rows: number; cols: number };
  /** Idefics3 / SmolVLM: the size the image was resized to before splitting. */
  resized?: { width: number; height: number };
  /** LLaVA-OneVision: the anyres grid, padding, unpadding and downsampling of this image (anyres.ts). */
  anyres?: AnyresLayout;
}

export interface FamilySpec {
  family: string;
  imageTokenId: number;
  /**
   * How the processor is called for one item: (images, text), (text, images), (text, images per
   * text), or 'qwen': the image processor once per image and the image token expanded to
   * image_grid_thw's merged token count (transformers.js's Qwen processor stacks a list of images as
   * video frames, so images of different sizes cannot go through it together).
   */
  processorCall: 'images-first' | 'text-first' | 'text-first-nested' | 'qwen' | 'anyres';
  /** 'mask': position = count of attended tokens; 'mrope': Qwen's [3, batch, seq] (mrope.ts). */
  positions: 'mask' | 'mrope';
  /** Qwen's spatial merge (patches per token side). */
  mergeSize: number;
  /** Images one prompt may show. */
  maxImagesPerItem: number;
  /** The tiles of one image as the vision tower sees them, in the order their tokens appear. */
  tiles(image: ProcessedImage): Tile[];
  /**
   * The prompt's image tokens of one image, where they are not the tiles' grids read in order
   * (LLaVA-OneVision: unpadded, downsampled, newline tokens); without it, imageTokens(tiles).
   */
  imageTokens?(index: number, image: ProcessedImage): ImageTokenMeta[];
  /** LLaVA-OneVision's anyres settings. */
  anyres?: AnyresConfig;
}

/** Families the pipeline can generate with. */
export const SUPPORTED_FAMILIES = [
  'llava',
  'llava_onevision',
  'gemma3',
  'idefics3',
  'smolvlm',
  'qwen2_5_vl',
  'qwen3_vl',
  'qwen3_5',
] as const;

function squareGrid(tokens: number, family: string): number {
  const side = Math.round(Math.sqrt(tokens));
  if (side * side !== tokens) throw new OcularError('invalid_request', `${family}: ${tokens} image tokens do not form a square grid.`);
  return side;
}

function qwenTiles(merge: number) {
  return (image: ProcessedImage): Tile[] => {
    if (!image.grid) throw new OcularError('invalid_request', 'The processor returned no image_grid_thw for a Qwen image.');
    const [t, h, w] = image.grid;
    if (t !== 1) throw new OcularError('invalid_request', `An image with ${t} temporal patches is a video; Ocular takes images only.`);
    return [wholeImage(image.width, image.height, h / merge, w / merge)];
  };
}

/** image_grid_pinpoints, the tile and token grid sizes and anyres_max_N from a LLaVA-OneVision config.json. */
function onevisionConfig(config: Record<string, any>): AnyresConfig {
  const vision = config.vision_config ?? {};
  const tile = Number(vision.image_size ?? 384);
  const patch = Number(vision.patch_size ?? 14);
  const pinpoints = config.image_grid_pinpoints;
  const aspect = String(config.vision_aspect_ratio ?? 'anyres_max_9');
  const max = /^anyres_max_(\d+)$/.exec(aspect);
  if (!max)
    throw new OcularError('invalid_request', `llava_onevision: vision_aspect_ratio '${aspect}' is not implemented (only anyres_max_N is).`);
  if (
    !Array.isArray(pinpoints) ||
    pinpoints.length === 0 ||
    !pinpoints.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v > 0))
  )
    throw new OcularError('invalid_request', 'llava_onevision: config.json has no valid image_grid_pinpoints ([[height, width], ...]).');
  // SigLIP-384/14 sees 27 x 27 patches (its convolution drops the last 6 px): image_size // patch_size, as pack_image_features.
  return { tile, patch, grid: Math.floor(tile / patch), pinpoints: pinpoints as Array<[number, number]>, maxPatches: Number(max[1]) };
}

export function familySpec(config: Record<string, any>, processorConfig: Record<string, any>): FamilySpec {
  const family = String(config.model_type ?? '');
  switch (family) {
    case 'llava': {
      const vision = config.vision_config ?? {};
      const side = Math.floor((vision.image_size ?? 336) / (vision.patch_size ?? 14));
      const full = (config.vision_feature_select_strategy ?? 'default') === 'full';
      return {
        family,
        imageTokenId: config.image_token_index ?? config.image_token_id,
        processorCall: 'images-first',
        positions: 'mask',
        mergeSize: 1,
        maxImagesPerItem: 1,
        tiles: (image) => [centreCrop(image.width, image.height, side, side, full ? 1 : 0)],
      };
    }
    case 'gemma3': {
      const side = squareGrid(config.mm_tokens_per_image ?? processorConfig.image_seq_length ?? 256, family);
      return {
        family,
        imageTokenId: config.image_token_index ?? config.image_token_id,
        processorCall: 'text-first',
        positions: 'mask',
        mergeSize: 1,
        maxImagesPerItem: 1,
        tiles: (image) => [wholeImage(image.width, image.height, side, side)],
      };
    }
    case 'idefics3':
    case 'smolvlm': {
      const side = squareGrid(processorConfig.image_seq_len ?? 64, family);
      return {
        family,
        imageTokenId: config.image_token_id ?? config.image_token_index,
        processorCall: 'text-first-nested',
        positions: 'mask',
        mergeSize: 1,
        maxImagesPerItem: Infinity,
        tiles: (image) =>
          image.split && image.split.rows + image.split.cols > 0 && image.resized
            ? splitTiles(image.width, image.height, image.resized, image.split, side)
            : [wholeImage(image.width, image.height, side, side)],
      };
    }
    // Qwen3.5: Qwen3-VL's vision tower and M-RoPE over a hybrid decoder (gated delta-net + full attention),
    // whose conv / recurrent states the generation loop carries like KV caches (decoder-states.ts).
    case 'qwen2_5_vl':
    case 'qwen3_vl':
    case 'qwen3_5': {
      const merge = config.vision_config?.spatial_merge_size ?? 2;
      return {
        family,
        imageTokenId: config.image_token_id,
        processorCall: 'qwen',
        positions: 'mrope',
        mergeSize: merge,
        maxImagesPerItem: Infinity,
        tiles: qwenTiles(merge),
      };
    }
    case 'llava_onevision': {
      const anyres = onevisionConfig(config);
      const layoutOf = (image: ProcessedImage) => {
        if (!image.anyres) throw new OcularError('invalid_request', 'The processor returned no anyres layout for a LLaVA-OneVision image.');
        return image.anyres;
      };
      return {
        family,
        imageTokenId: config.image_token_index ?? config.image_token_id,
        processorCall: 'anyres',
        positions: 'mask',
        mergeSize: 1,
        // Several images in one prompt are not tiled (each is padded to a square, one view): not implemented.
        maxImagesPerItem: 1,
        tiles: (image) => anyresTiles(layoutOf(image), anyres),
        imageTokens: (index, image) => anyresTokens(index, layoutOf(image), anyres),
        anyres,
      };
    }
    case 'llava_next':
      // Its processor tiles each image at a grid pinpoint and the model unpads the tiles' features and adds
      // newline tokens as OneVision does, but with its own rules (no anyres_max); not implemented for it.
      throw new OcularError(
        'invalid_request',
        `Model family '${family}' is not supported yet: its anyres tiling (image_grid_pinpoints) and feature unpadding are not implemented.`,
      );
    default:
      throw new OcularError(
        'invalid_request',
        `Model family '${family || 'unknown'}' is not supported yet (supported: ${SUPPORTED_FAMILIES.join(', ')}).`,
      );
  }
}
