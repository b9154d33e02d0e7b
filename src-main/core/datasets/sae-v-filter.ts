/**
 * SAE-V data filtering (Lou et al. 2025, Algorithm 1 and the ablations of Appendix B).
 *
 * A feature f is active on a token t when its activation exceeds a bound δ: a_f(t) > δ. Per item x,
 * F(x) = { f : f active on some token of x }, and F_img(x), F_txt(x) the features active on at least
 * one image token / one text token of x. Scores:
 *   cross-modal  s(x) = Σ_{f ∈ F(x)} w_f                       (Algorithm 1, "cosine similarity score")
 *   cooccurrence s(x) = |F_img(x) ∩ F_txt(x)|                   (Algorithm 3, features on both modalities)
 *   l0           s(x) = |F(x)|                                 (Algorithm 2, activation count)
 * where w_f is the feature's cross-modal weight: the cosine between the mean hidden state of its top-K
 * image tokens and of its top-K text tokens (ranked by activation), as the analysis stores it; a feature
 * with no image or no text tokens has no weight and adds 0. Each feature counts once per item (the
 * paper's "sum of the scores of its activating features"; Algorithm 2's equation was lost in our copy, and
 * we count it as Algorithms 1 and 3 do). The kept share is the ceil(keep · n) highest-scoring items, ties
 * broken by item id; `random` keeps a seeded uniform share of the same size (the comparison's control).
 */
import { mulberry32 } from '../util/random.js';

export const FILTER_METHODS = ['cross-modal', 'cooccurrence', 'l0', 'random'] as const;
export type FilterMethod = (typeof FILTER_METHODS)[number];

/** Which features are active on an item's image tokens and on its text tokens. */
export interface ItemActivity {
  image: Set<number>;
  text: Set<number>;
}

/** Adds one token's activations (length d_sae) to its item's activity. */
export function recordToken(
  activity: Map<number, ItemActivity>,
  itemId: number,
  isImage: boolean,
  acts: ArrayLike<number>,
  bound: number,
): void {
  let a = activity.get(itemId);
  if (!a) activity.set(itemId, (a = { image: new Set(), text: new Set() }));
  const into = isImage ? a.image : a.text;
  for (let f = 0; f < acts.length; f++) if (acts[f]! > bound) into.add(f);
}

export function itemScore(a: ItemActivity, method: Exclude<FilterMethod, 'random'>, weights: ArrayLike<number | null>): number {
  if (method === 'cooccurrence') {
    let n = 0;
    for (const f of a.image) if (a.text.has(f)) n++;
    return n;
  }
  const all = new Set([...a.image, ...a.text]);
  if (method === 'l0') return all.size;
  let s = 0;
  for (const f of all) s += weights[f] ?? 0;
  return s;
}

export const keptCount = (n: number, keep: number): number => {
  if (!(keep > 0 && keep <= 1)) throw new RangeError(`keep must be in (0, 1], got ${keep}`);
  return Math.ceil(keep * n - 1e-9);
};

/** The kept item ids, highest score first (ties by id); `random` keeps a seeded uniform sample. */
export function selectItems(scores: Map<number, number>, keep: number, method: FilterMethod, seed = 0): number[] {
  const ids = [...scores.keys()].sort((a, b) => a - b);
  const k = keptCount(ids.length, keep);
  if (method === 'random') {
    const rand = mulberry32(seed);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    return ids.slice(0, k);
  }
  return ids.sort((a, b) => scores.get(b)! - scores.get(a)! || a - b).slice(0, k);
}
