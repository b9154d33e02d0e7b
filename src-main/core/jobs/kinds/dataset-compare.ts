/**
 * SAE-V filtering's comparison: SAEs trained on the filtered share, a random share of the same size and
 * all of a training pool, measured on held-out items (core/datasets/compare-run.ts, filter-compare.ts).
 */
import { datasetCompareRequestSchema } from '../../../contract/contract.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { runComparison } from '../../datasets/compare-run.js';
import { withWorkerStores } from '../../store/stores.js';
import type { JobKind } from '../job-kind.js';

export const datasetCompareJob: JobKind<ReturnType<typeof datasetCompareRequestSchema.parse>, JobResultOf<'dataset-compare'>> = {
  kind: 'dataset-compare',
  title: 'Compare filtered / random / all (SAE-V)',
  resumable: false,
  startFromUi: true,
  params: datasetCompareRequestSchema,
  result: jobResults['dataset-compare'],
  async run(ctx) {
    return withWorkerStores(ctx.workspaceDir, (stores) => runComparison(ctx, stores));
  },
};
