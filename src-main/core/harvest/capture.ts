/**
 * What a harvest captures from one batch: each token's layout (prompt tokens, and for generated
 * tokens a teacher-forced pass over prompt + answer, which for a causal model gives the same
 * activations as during generation), then the exposed taps' rows of the token kinds asked for.
 */
import type { WireTensor } from '../runtime/pool-protocol.js';
import type { PreparedPrefix, VlmItem, VlmPipeline } from '../vlm/pipeline.js';
import type { HarvestBuffer } from './harvest-buffer.js';
import type { RowMeta, TokenKind } from './harvest-store.js';

export type TokenMeta = Omit<RowMeta, 'itemId' | 'position' | 'modality'> & { modality: TokenKind | 'pad' };

/** The prompt's tokens and, when generated tokens are harvested, the answers appended on the right. */
export async function batchTokens(
  vlm: VlmPipeline,
  vlmItems: VlmItem[],
  generated: { maxNewTokens: number } | null,
): Promise<{ prefix: PreparedPrefix; tokens: TokenMeta[][] }> {
  const prefix = await vlm.prepare(vlmItems);
  const tokens: TokenMeta[][] = prefix.tokens.map((row) =>
    row.map((t) => ({
      modality: t.modality as TokenMeta['modality'],
      image: t.image,
      patchRow: t.patchRow,
      patchCol: t.patchCol,
      tokenId: t.tokenId,
      tile: t.tile,
      box: t.box,
    })),
  );
  if (!generated) return { prefix, tokens };
  // Teacher-forced pass over prompt + answer: append the answers' embeddings on the right.
  const { outputs } = await vlm.generate(vlmItems, { maxNewTokens: generated.maxNewTokens });
  const appended = await vlm.appendTokens(
    prefix,
    outputs.map((o) => o.tokenIds),
  );
  const ids = outputs.map((o) => [
    ...o.tokenIds,
    ...new Array<number>(appended.extraLength - o.tokenIds.length).fill(vlm.eosTokenIds[0] ?? 0),
  ]);
  const withAnswers = tokens.map((row, r) => [
    ...row,
    ...ids[r]!.map((tokenId, i) => ({
      modality: (i < outputs[r]!.tokenIds.length ? 'generated' : 'pad') as TokenMeta['modality'],
      image: null,
      patchRow: null,
      patchCol: null,
      tokenId,
      tile: null,
      box: null,
    })),
  ]);
  return { prefix: appended.prefix, tokens: withAnswers };
}

const rowOf = (t: WireTensor, k: number) => {
  const width = t.dims[t.dims.length - 1]!;
  return (t.data as Float32Array).slice(k * width, (k + 1) * width);
};

/** The decoder taps' rows of the kept token kinds; positions count from each item's first real token, not the padded row. */
export function captureDecoder(
  buffer: Pick<HarvestBuffer, 'push' | 'index'>,
  out: Record<string, WireTensor>,
  taps: string[],
  tokens: TokenMeta[][],
  length: number,
  itemIds: number[],
  kinds: Set<TokenKind>,
): void {
  tokens.forEach((row, r) => {
    const leadingPads = row.findIndex((t) => t.modality !== 'pad');
    for (let i = 0; i < length; i++) {
      const meta = row[i]!;
      if (meta.modality === 'pad' || !kinds.has(meta.modality)) continue;
      for (const tap of taps) buffer.push(tap, rowOf(out[tap]!, r * length + i));
      buffer.index('decoder', { ...meta, modality: meta.modality, itemId: itemIds[r]!, position: i - leadingPads });
    }
  });
}

/** The vision taps' rows of one item's image tokens. */
export function captureVision(
  buffer: HarvestBuffer,
  out: Record<string, WireTensor>,
  taps: string[],
  meta: ReturnType<VlmPipeline['visionTokenMeta']>,
  itemId: number,
): void {
  meta.forEach((m, k) => {
    for (const tap of taps) buffer.push(tap, rowOf(out[tap]!, k));
    buffer.index('vision', {
      itemId,
      position: k,
      modality: 'image',
      image: m.image,
      patchRow: m.patchRow,
      patchCol: m.patchCol,
      tokenId: null,
      tile: m.tile,
      box: m.box,
    });
  });
}
