/**
 * Linear probes for choosing a layer: for each harvested tap, a logistic-regression probe predicting
 * a label (the item's task type, or the colour / shape of the benchmark object under an image patch)
 * from single-token activations, trained on some items and tested on held-out items (split by item,
 * so no item's tokens are on both sides), next to the same probe trained on shuffled labels and the
 * majority class.
 */
import { z } from 'zod';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { compareTaps } from '../../../contract/tap-names.js';
import { OcularError } from '../../errors.js';
import { streamOf } from '../../harvest/harvest-store.js';
import { ShardReader } from '../../harvest/shard-reader.js';
import { fitLayer, labelRows, pickSide } from '../../probes/probe-run.js';
import { withWorkerStores } from '../../store/stores.js';
import { mulberry32 } from '../../util/random.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';

const params = z.object({ probeId: z.number().int().positive() }).strict();

export const probeJob: JobKind<z.infer<typeof params>, JobResultOf<'probe'>> = {
  kind: 'probe',
  title: 'Linear probes',
  resumable: false,
  startFromUi: false,
  params,
  result: jobResults['probe'],
  async run(ctx) {
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const probe = stores.probes.get(ctx.params.probeId);
      const spec = probe.spec;
      const modality = spec.modality ?? (spec.label === 'task' ? 'text' : 'image');
      const h = stores.harvests.meta(spec.harvestId);
      const taps = Object.keys(h.stats)
        .filter((t) => streamOf(t) === 'decoder' || spec.label !== 'task')
        .sort(compareTaps);
      if (taps.length === 0) throw new OcularError('invalid_request', `Harvest ${h.id} holds no taps.`);
      const items = stores.datasets.itemLabels(h.datasetId);
      const rand = mulberry32(spec.seed);
      const testItems = new Set([...items.keys()].filter(() => rand() < spec.heldOut));
      const layers: Array<{ tap: string; accuracy: number; ci95: [number, number]; shuffledAccuracy: number; majority: number }> = [];
      let classes: string[] = [];
      let sizes = { train: 0, test: 0 };
      for (const [li, tap] of taps.entries()) {
        throwIfCancelled(ctx.signal);
        const labelled = labelRows(stores.harvests.patchIndex(h.id, streamOf(tap)), items, spec.label, modality);
        if (labelled.length === 0)
          throw new OcularError('invalid_request', `No ${modality} tokens of harvest ${h.id} carry a ${spec.label} label.`);
        classes = [...new Set(labelled.map((x) => x.label))].sort();
        const train = pickSide(labelled, testItems, false, spec.seed);
        const test = pickSide(labelled, testItems, true, spec.seed);
        sizes = { train: train.length, test: test.length };
        const reader = new ShardReader(stores.db, ctx.workspaceDir, h, tap);
        const layer = fitLayer((rows) => reader.readRows(rows), reader.width, train, test, classes, spec);
        layers.push({ tap, ...layer });
        ctx.progress((li + 1) / taps.length, `${tap}: ${(layer.accuracy * 100).toFixed(1)}% held out`);
      }
      const results = { classes, train: sizes.train, test: sizes.test, layers };
      stores.probes.saveResults(probe.id, results);
      return { probeId: probe.id, ...results };
    });
  },
};
