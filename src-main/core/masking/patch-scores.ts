/**
 * Patch masking (SAE-V, Section 3.2 and Appendix C): keep a share of an image's patches chosen by an
 * SAE score and mask the rest, against keeping the same number of random patches.
 *
 * Per image token (patch) p of an item, with a_f(p) the SAE activation and "active" meaning a_f(p) > δ:
 *   l0           s(p) = |{f active on p}|
 *   l1           s(p) = Σ_f a_f(p)
 *   cooccurrence s(p) = |{f active on p and on at least one text token of the item}|
 *   cross-modal  s(p) = Σ_{f active on p} w_f          (w_f the feature's cross-modal weight; none adds 0)
 *   features     s(p) = Σ_{f ∈ chosen} a_f(p)           (a chosen feature set)
 * The kept patches are the ceil(keep · P) highest-scoring of the item's P patches (ties by patch index);
 * `random` keeps a seeded uniform choice of the same number. Masked patches are painted over in the
 * image at their boxes in original pixels with one fill colour, so the model sees them as blank.
 */
import { loadSharp } from '../util/sharp.js';
import { keptCount } from '../datasets/sae-v-filter.js';
import { mulberry32 } from '../util/random.js';

export const PATCH_METHODS = ['l0', 'l1', 'cooccurrence', 'cross-modal', 'features', 'random'] as const;
export type PatchMethod = (typeof PATCH_METHODS)[number];

export interface PatchScoreInput {
  /** Activations of each patch, [P][d_sae]. */
  patches: ArrayLike<number>[];
  /** Features active on at least one text token of the item. */
  textActive: Set<number>;
  weights: ArrayLike<number | null>;
  bound: number;
  features: readonly number[];
}

export function patchScores(method: Exclude<PatchMethod, 'random'>, x: PatchScoreInput): number[] {
  return x.patches.map((acts) => {
    if (method === 'features') return x.features.reduce((s, f) => s + Math.max(0, acts[f] ?? 0), 0);
    let s = 0;
    for (let f = 0; f < acts.length; f++) {
      const a = acts[f]!;
      if (method === 'l1') s += Math.max(0, a);
      else if (a > x.bound) {
        if (method === 'l0') s += 1;
        else if (method === 'cooccurrence') s += x.textActive.has(f) ? 1 : 0;
        else s += x.weights[f] ?? 0;
      }
    }
    return s;
  });
}

/** Indices of the kept patches, ascending. */
export function keptPatches(scores: readonly number[] | null, count: number, keep: number, seed: number): number[] {
  const k = keptCount(count, keep);
  const idx = Array.from({ length: count }, (_, i) => i);
  if (scores === null) {
    const rand = mulberry32(seed);
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
  } else idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, k).sort((a, b) => a - b);
}

/** The image with every box not kept painted `fill` (RGB), as PNG. Boxes are [x0, y0, x1, y1] in pixels. */
export async function maskImage(
  imageFile: string,
  boxes: ReadonlyArray<readonly [number, number, number, number]>,
  kept: readonly number[],
  fill: [number, number, number],
): Promise<Buffer> {
  const sharp = await loadSharp();
  const { data, info } = await sharp(imageFile).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const keep = new Set(kept);
  boxes.forEach((b, i) => {
    if (keep.has(i)) return;
    const [x0, y0, x1, y1] = b.map((v) => Math.round(v)) as [number, number, number, number];
    for (let y = Math.max(0, y0); y < Math.min(info.height, y1); y++)
      for (let x = Math.max(0, x0); x < Math.min(info.width, x1); x++) data.set(fill, (y * info.width + x) * 3);
  });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .png()
    .toBuffer();
}
