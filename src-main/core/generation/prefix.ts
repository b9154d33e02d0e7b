/**
 * A VLM prompt's input embeddings: the token embeddings with the image tokens' rows replaced, in
 * reading order (row-major over the left-padded batch), by the vision encoder's features. Shared by
 * the pipeline (harvests, teacher-forced passes) and the pool host (generation builds its prefix
 * where the decoder runs, so a prompt crosses processes once as token ids and pixels).
 */
import { OcularError } from '../errors.js';
import type { WireTensor } from '../runtime/pool-protocol.js';

/** What the pool host needs to build a prefix itself. */
export interface PrefixInputs {
  /** [batch, length] row-major, left-padded. */
  inputIds: BigInt64Array;
  batch: number;
  length: number;
  attentionMask: Uint8Array;
  imageTokenId: number;
  /** The vision encoder session (in the same host) and its inputs for the batch's images. */
  vision?: { session: number; feeds: Record<string, WireTensor> };
}

export function mergeImageFeatures(
  embeds: Float32Array,
  ids: ArrayLike<number | bigint>,
  imageTokenId: number,
  features: Float32Array | undefined,
  width: number,
): void {
  const total = features ? features.length / width : 0;
  let next = 0;
  for (let p = 0; p < ids.length; p++) {
    if (Number(ids[p]) !== imageTokenId) continue;
    if (next >= total) throw new OcularError('invalid_request', `The prompts hold more image tokens than the ${total} image features.`);
    embeds.set(features!.subarray(next * width, (next + 1) * width), p * width);
    next++;
  }
  if (next !== total)
    throw new OcularError('invalid_request', `The vision encoder produced ${total} features but the prompts hold ${next} image tokens.`);
}
