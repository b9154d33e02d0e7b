/**
 * What differs between VLM families once the graphs are in the onnx-community layout: how the
 * image token is named in config.json, how one image's features map onto the image grid (for
 * per-token patch row/column), and how the processor is called.
 */
import { OcularError } from '../errors.js';

export interface ImageLayout {
  /** Feature tokens per image (after any pooling or pixel shuffle). */
  tokensPerImage: number;
  /** Tokens before the patch grid that have no patch position (a CLS token, say). */
  leadingTokens: number;
  gridRows: number;
  gridCols: number;
}

export interface FamilySpec {
  family: string;
  imageTokenId: number;
  layout: ImageLayout;
  /** How the processor is called for one item: (images, text), (text, images) or (text, images per text). */
  processorCall: 'images-first' | 'text-first' | 'text-first-nested';
}

/** Families the pipeline can generate with. */
export const SUPPORTED_FAMILIES = ['llava', 'gemma3', 'idefics3', 'smolvlm'] as const;

function squareGrid(tokens: number, family: string): number {
  const side = Math.round(Math.sqrt(tokens));
  if (side * side !== tokens) throw new OcularError('invalid_request', `${family}: ${tokens} image tokens do not form a square grid.`);
  return side;
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
        layout: { tokensPerImage: side * side + (full ? 1 : 0), leadingTokens: full ? 1 : 0, gridRows: side, gridCols: side },
        processorCall: 'images-first',
      };
    }
    case 'gemma3': {
      const tokens = config.mm_tokens_per_image ?? processorConfig.image_seq_length ?? 256;
      const side = squareGrid(tokens, family);
      return {
        family,
        imageTokenId: config.image_token_index ?? config.image_token_id,
        layout: { tokensPerImage: tokens, leadingTokens: 0, gridRows: side, gridCols: side },
        processorCall: 'text-first',
      };
    }
    case 'idefics3':
    case 'smolvlm': {
      const tokens = processorConfig.image_seq_len ?? 64;
      const side = squareGrid(tokens, family);
      return {
        family,
        imageTokenId: config.image_token_id ?? config.image_token_index,
        layout: { tokensPerImage: tokens, leadingTokens: 0, gridRows: side, gridCols: side },
        processorCall: 'text-first-nested',
      };
    }
    default:
      throw new OcularError(
        'invalid_request',
        `Model family '${family || 'unknown'}' is not supported yet (supported: ${SUPPORTED_FAMILIES.join(', ')}).`,
      );
  }
}
