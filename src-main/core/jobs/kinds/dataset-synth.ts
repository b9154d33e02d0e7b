/** Generate the synthetic benchmark into a folder and add it to the workspace as a dataset. */
import { z } from 'zod';
import { synthesizeBenchmark } from '../../benchmark/synth.js';
import { readDatasetFolder } from '../../datasets/dataset-folder.js';
import { withWorkerStores } from '../../store/stores.js';
import type { JobKind } from '../job-kind.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';

const params = z
  .object({
    seed: z.number().int().min(0),
    perCell: z.number().int().min(1).max(5000),
    imageSize: z.number().int().min(48).max(512).default(96),
    dest: z.string().min(1),
    name: z.string().min(1),
  })
  .strict();

export const datasetSynthJob: JobKind<z.infer<typeof params>, JobResultOf<'dataset-synth'>> = {
  kind: 'dataset-synth',
  title: 'Generate benchmark',
  resumable: false,
  startFromUi: false,
  params,
  result: jobResults['dataset-synth'],
  async run(ctx) {
    const p = ctx.params;
    await synthesizeBenchmark({
      out: p.dest,
      seed: p.seed,
      perCell: p.perCell,
      imageSize: p.imageSize,
      onProgress: (done, total) => ctx.progress((0.9 * done) / total, `${done} of ${total} images`),
    });
    ctx.progress(0.9, 'checking and importing');
    const folder = await readDatasetFolder(p.dest);
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const record = stores.datasets.insert(folder, p.name);
      return { datasetId: record.id, items: record.items, path: record.path };
    });
  },
};
