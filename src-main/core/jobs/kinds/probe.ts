/**
 * Linear probes for choosing a layer: for each harvested tap, a logistic-regression probe predicting
 * a label (the item's task type, or the colour / shape of the benchmark object under an image patch)
 * from single-token activations, trained on some items and tested on held-out items (split by item,
 * so no item's tokens are on both sides), next to the same probe trained on shuffled labels and the
 * majority class.
 */
import { z } from 'zod';
import { objectAtPatch, type Scene } from '../../benchmark/scene.js';
import { OcularError } from '../../errors.js';
import { bootstrapMeanCi, mean } from '../../experiments/stats.js';
import { streamOf } from '../../harvest/harvest-store.js';
import { predict, trainLogistic } from '../../probes/logistic.js';
import { withWorkerStores } from '../../store/stores.js';
import { mulberry32 } from '../../util/random.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { compareTaps } from '../../../contract/tap-names.js';

const params = z.object({ probeId: z.number().int().positive() }).strict();

/** Rows used per side, at most: probes need thousands of tokens, not millions. */
const MAX_ROWS = 6000;

export const probeJob: JobKind<z.infer<typeof params>, JobResultOf<'probe'>> = {
  kind: 'probe',
  title: 'Linear probes',
  resumable: false,
  startFromUi: false,
  params,
  result: jobResults['probe'],
  async run(ctx) {
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const store = stores.probes;
      const probe = store.get(ctx.params.probeId);
      const spec = probe.spec;
      const modality = spec.modality ?? (spec.label === 'task' ? 'text' : 'image');
      const harvests = stores.harvests;
      const h = harvests.meta(spec.harvestId);
      const taps = Object.keys(h.stats)
        .filter((t) => streamOf(t) === 'decoder' || spec.label !== 'task')
        .sort(compareTaps);
      if (taps.length === 0) throw new OcularError('invalid_request', `Harvest ${h.id} holds no taps.`);
      const items = stores.datasets.itemLabels(h.datasetId);
      const rand = mulberry32(spec.seed);
      const itemIds = [...items.keys()];
      const testItems = new Set(itemIds.filter(() => rand() < spec.heldOut));

      const layers: Array<{ tap: string; accuracy: number; ci95: [number, number]; shuffledAccuracy: number; majority: number }> = [];
      let classes: string[] = [];
      let sizes = { train: 0, test: 0 };
      for (const [li, tap] of taps.entries()) {
        throwIfCancelled(ctx.signal);
        const stream = streamOf(tap);
        const index = stores.harvests.patchIndex(h.id, stream);
        // Grid size per item, for locating the object under a patch.
        const grid = new Map<number, [number, number]>();
        for (const r of index)
          if (r.patch_row !== null) {
            const g = grid.get(r.item_id) ?? [0, 0];
            grid.set(r.item_id, [Math.max(g[0], r.patch_row + 1), Math.max(g[1], r.patch_col! + 1)]);
          }
        const labelOf = (r: (typeof index)[number]): string | null => {
          const item = items.get(r.item_id);
          if (!item) return null;
          if (modality !== 'all' && (modality === 'image' ? r.modality !== 'image' : r.modality === 'image')) return null;
          if (spec.label === 'task') return item.task;
          if (r.patch_row === null || !item.scene_json) return null;
          const [rows, cols] = grid.get(r.item_id)!;
          const o = objectAtPatch(JSON.parse(item.scene_json) as Scene, r.patch_row, r.patch_col!, rows, cols);
          return o ? (spec.label === 'color' ? o.color : o.shape) : null;
        };
        const labelled = index
          .map((r) => ({ r, label: labelOf(r) }))
          .filter((x): x is { r: (typeof index)[number]; label: string } => x.label !== null);
        if (labelled.length === 0)
          throw new OcularError('invalid_request', `No ${modality} tokens of harvest ${h.id} carry a ${spec.label} label.`);
        classes = [...new Set(labelled.map((x) => x.label))].sort();
        const pick = (test: boolean) => {
          const side = labelled.filter((x) => testItems.has(x.r.item_id) === test);
          const r2 = mulberry32(spec.seed + (test ? 1 : 2));
          for (let i = side.length - 1; i > 0; i--) {
            const j = Math.floor(r2() * (i + 1));
            [side[i], side[j]] = [side[j]!, side[i]!];
          }
          return side.slice(0, MAX_ROWS).sort((a, b) => a.r.row - b.r.row);
        };
        const train = pick(false);
        const test = pick(true);
        sizes = { train: train.length, test: test.length };
        const { data, width } = harvests.readTap(h.id, tap);
        const gather = (side: typeof train) => {
          const x = new Float32Array(side.length * width);
          side.forEach((s, i) => x.set(data.subarray(s.r.row * width, (s.r.row + 1) * width), i * width));
          return { x, y: Int32Array.from(side, (s) => classes.indexOf(s.label)) };
        };
        const tr = gather(train);
        const te = gather(test);
        const model = trainLogistic(tr.x, tr.y, classes.length, { epochs: spec.epochs, l2: spec.l2 });
        const hits = Array.from(predict(model, te.x), (p, i) => (p === te.y[i] ? 1 : 0));
        // Shuffled-label baseline: the same probe on permuted training labels.
        const shuffled = Int32Array.from(tr.y);
        const r3 = mulberry32(spec.seed + 3);
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = Math.floor(r3() * (i + 1));
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const shuffledModel = trainLogistic(tr.x, shuffled, classes.length, { epochs: spec.epochs, l2: spec.l2 });
        const shuffledHits = Array.from(predict(shuffledModel, te.x), (p, i) => (p === te.y[i] ? 1 : 0));
        const counts = classes.map((_, c) => tr.y.filter((v) => v === c).length);
        const majorityClass = counts.indexOf(Math.max(...counts));
        layers.push({
          tap,
          accuracy: mean(hits),
          ci95: bootstrapMeanCi(hits, 2000, spec.seed + li),
          shuffledAccuracy: mean(shuffledHits),
          majority: mean(Array.from(te.y, (v) => (v === majorityClass ? 1 : 0))),
        });
        ctx.progress((li + 1) / taps.length, `${tap}: ${(mean(hits) * 100).toFixed(1)}% held out`);
      }
      const results = { classes, train: sizes.train, test: sizes.test, layers };
      store.saveResults(probe.id, results);
      return { probeId: probe.id, ...results };
    });
  },
};
