/**
 * A linear probe on one harvested tap: label the tap's rows (the item's task, or the colour / shape
 * of the object under an image patch from the scene ground truth), split them by item into train and
 * held-out sides (at most MAX_ROWS each, seeded), fit multinomial logistic regression and score it
 * against the same probe on shuffled labels and the majority class.
 */
import { objectAtPatch, type Scene } from '../benchmark/scene.js';
import { mean } from '../stats/bootstrap.js';
import { wilsonOfOutcomes } from '../stats/proportion.js';
import type { ProbeSpec } from '../../contract/contract.js';
import { mulberry32 } from '../util/random.js';
import { predict, trainLogistic } from './logistic.js';

/** Rows used per side, at most: probes need thousands of tokens, not millions. */
export const MAX_ROWS = 6000;

export type IndexRow = { row: number; item_id: number; modality: string; patch_row: number | null; patch_col: number | null };
export type ItemLabels = Map<number, { id: number; task: string | null; scene_json: string | null }>;
export type Labelled = { r: IndexRow; label: string };

/** The rows that carry a label, with it. */
export function labelRows(index: IndexRow[], items: ItemLabels, label: ProbeSpec['label'], modality: 'image' | 'text' | 'all'): Labelled[] {
  // Grid size per item, for locating the object under a patch.
  const grid = new Map<number, [number, number]>();
  for (const r of index)
    if (r.patch_row !== null) {
      const g = grid.get(r.item_id) ?? [0, 0];
      grid.set(r.item_id, [Math.max(g[0], r.patch_row + 1), Math.max(g[1], r.patch_col! + 1)]);
    }
  const labelOf = (r: IndexRow): string | null => {
    const item = items.get(r.item_id);
    if (!item) return null;
    if (modality !== 'all' && (modality === 'image' ? r.modality !== 'image' : r.modality === 'image')) return null;
    if (label === 'task') return item.task;
    if (r.patch_row === null || !item.scene_json) return null;
    const [rows, cols] = grid.get(r.item_id)!;
    const o = objectAtPatch(JSON.parse(item.scene_json) as Scene, r.patch_row, r.patch_col!, rows, cols);
    return o ? (label === 'color' ? o.color : o.shape) : null;
  };
  return index.map((r) => ({ r, label: labelOf(r) })).filter((x): x is Labelled => x.label !== null);
}

/** A seeded in-place Fisher–Yates shuffle. */
function shuffle<T>(xs: T[] | Int32Array, seed: number): void {
  const rand = mulberry32(seed);
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
}

/** One side of the split (held-out items or the rest): a seeded sample of at most MAX_ROWS rows, in row order. */
export function pickSide(labelled: Labelled[], testItems: Set<number>, test: boolean, seed: number): Labelled[] {
  const side = labelled.filter((x) => testItems.has(x.r.item_id) === test);
  shuffle(side, seed + (test ? 1 : 2));
  return side.slice(0, MAX_ROWS).sort((a, b) => a.r.row - b.r.row);
}

/**
 * Fit on `train`, score on `test` (rows of a tap read by `readRows`, [n, width] in the order asked:
 * only the sampled rows are read, never the whole tap), against shuffled labels and the majority class.
 */
export function fitLayer(
  readRows: (rows: number[]) => Float32Array,
  width: number,
  train: Labelled[],
  test: Labelled[],
  classes: string[],
  spec: Pick<ProbeSpec, 'epochs' | 'l2' | 'seed'>,
) {
  const gather = (side: Labelled[]) => ({
    x: readRows(side.map((s) => s.r.row)),
    y: Int32Array.from(side, (s) => classes.indexOf(s.label)),
  });
  const tr = gather(train);
  const te = gather(test);
  const opts = { epochs: spec.epochs, l2: spec.l2 };
  const hitsOf = (y: Int32Array) =>
    Array.from(predict(trainLogistic(tr.x, y, classes.length, opts), te.x), (p, i) => (p === te.y[i] ? 1 : 0));
  const hits = hitsOf(tr.y);
  // Shuffled-label baseline: the same probe on permuted training labels.
  const shuffled = Int32Array.from(tr.y);
  shuffle(shuffled, spec.seed + 3);
  const shuffledHits = hitsOf(shuffled);
  const counts = classes.map((_, c) => tr.y.filter((v) => v === c).length);
  const majorityClass = counts.indexOf(Math.max(...counts));
  return {
    accuracy: mean(hits),
    ci95: ((w) => [w.lower, w.upper] as [number, number])(wilsonOfOutcomes(Array.from(hits, (h) => h === 1))),
    shuffledAccuracy: mean(shuffledHits),
    majority: mean(Array.from(te.y, (v) => (v === majorityClass ? 1 : 0))),
  };
}
