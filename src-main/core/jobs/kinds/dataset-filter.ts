/** SAE-V data filtering: score a harvested dataset's items with an analysed SAE and keep a share as a new dataset. */
import { z } from 'zod';
import { FILTER_METHODS } from '../../datasets/sae-v-filter.js';
import { filterDataset } from '../../datasets/filter-dataset.js';
import { withWorkerStores } from '../../store/stores.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import type { JobKind } from '../job-kind.js';

const params = z
  .object({
    analysisId: z.number().int().positive(),
    by: z.enum(FILTER_METHODS),
    keep: z.number().gt(0).max(1),
    bound: z.number().min(0),
    seed: z.number().int().min(0),
    dest: z.string().min(1),
    name: z.string().min(1),
  })
  .strict();

export const datasetFilterJob: JobKind<z.infer<typeof params>, JobResultOf<'dataset-filter'>> = {
  kind: 'dataset-filter',
  title: 'Filter dataset (SAE-V)',
  resumable: false,
  startFromUi: false,
  params,
  result: jobResults['dataset-filter'],
  async run(ctx) {
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const r = await filterDataset(stores.db, ctx.workspaceDir, ctx.params, (done) => ctx.progress(0, `scored shard ${done}`));
      return { datasetId: r.record.id, path: r.record.path, kept: r.kept, candidates: r.candidates };
    });
  },
};
