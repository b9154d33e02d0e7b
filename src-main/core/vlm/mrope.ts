/**
 * M-RoPE position ids (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Qwen3.5): three rows (temporal, height, width).
 * As transformers' get_rope_index computes them, per batch row over its attended tokens only:
 *   text run of n tokens at position p:        all three rows p, p+1, ..., p+n-1; then p += n
 *   image of merged grid t x h x w at p:       t-row p + ti, h-row p + hi, w-row p + wi  (row-major over
 *                                               the merged grid); then p += max(h, w)   (images have t = 1)
 * Padded slots get 0, as both libraries fill them (they are masked). Decoding continues every row at its
 * largest position + 1, one step per token, the same in all three rows (HF: past length + rope delta).
 */
import { OcularError } from '../errors.js';

export interface MropeInput {
  inputIds: number[][];
  /** Row-major [batch, length]: 1 for attended tokens. */
  attentionMask: Uint8Array;
  /** Each image's (t, h, w) in patches, in the order images appear across the batch. */
  grids: Array<[number, number, number]>;
  imageTokenId: number;
  mergeSize: number;
}

export interface MropePositions {
  /** [3, batch, length] row-major. */
  ids: BigInt64Array;
  /** Per batch row, the position the first generated token takes. */
  next: number[];
}

export function mropePositions(input: MropeInput): MropePositions {
  const batch = input.inputIds.length;
  const length = input.inputIds[0]?.length ?? 0;
  const ids = new BigInt64Array(3 * batch * length);
  const next: number[] = [];
  let image = 0;
  for (let r = 0; r < batch; r++) {
    const slots: number[] = [];
    for (let i = 0; i < length; i++) if (input.attentionMask[r * length + i]) slots.push(i);
    const tokens = slots.map((i) => input.inputIds[r]![i]!);
    let pos = 0;
    let max = -1;
    const set = (k: number, t: number, h: number, w: number) => {
      const at = r * length + slots[k]!;
      ids[at] = BigInt(t);
      ids[batch * length + at] = BigInt(h);
      ids[2 * batch * length + at] = BigInt(w);
      max = Math.max(max, t, h, w);
    };
    let k = 0;
    while (k < tokens.length) {
      if (tokens[k] !== input.imageTokenId) {
        set(k, pos, pos, pos);
        pos++;
        k++;
        continue;
      }
      const grid = input.grids[image++];
      if (!grid) throw new OcularError('invalid_request', 'The prompts hold more images than image_grid_thw describes.');
      const [t, h, w] = [grid[0], Math.floor(grid[1] / input.mergeSize), Math.floor(grid[2] / input.mergeSize)];
      const count = t * h * w;
      for (let j = 0; j < count; j++) {
        if (tokens[k + j] !== input.imageTokenId)
          throw new OcularError(
            'invalid_request',
            `An image of ${count} tokens (grid ${grid.join('x')}) has only ${j} image tokens in its prompt.`,
          );
        set(k + j, pos + Math.floor(j / (h * w)), pos + (Math.floor(j / w) % h), pos + (j % w));
      }
      k += count;
      pos += Math.max(h, w);
    }
    next.push(max + 1);
  }
  if (image !== input.grids.length)
    throw new OcularError('invalid_request', `image_grid_thw describes ${input.grids.length} images but the prompts hold ${image}.`);
  return { ids, next };
}

/** Positions for `extra` tokens appended after each row's prompt (teacher forcing): next, next + 1, ... */
export function appendMrope(positions: MropePositions, batch: number, length: number, extra: number): MropePositions {
  const total = length + extra;
  const ids = new BigInt64Array(3 * batch * total);
  for (let a = 0; a < 3; a++)
    for (let r = 0; r < batch; r++) {
      ids.set(positions.ids.subarray((a * batch + r) * length, (a * batch + r + 1) * length), (a * batch + r) * total);
      for (let j = 0; j < extra; j++) ids[(a * batch + r) * total + length + j] = BigInt(positions.next[r]! + j);
    }
  return { ids, next: positions.next.map((n) => n + extra) };
}
