/** Patch masking (SAE-V, Appendix C): write masked copies of an analysed dataset, one per method and keep share. */
import { z } from 'zod';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { writeMaskedDatasets } from '../../masking/mask-datasets.js';
import { PATCH_METHODS } from '../../masking/patch-scores.js';
import { withWorkerStores } from '../../store/stores.js';
import type { JobKind } from '../job-kind.js';

const params = z
  .object({
    analysisId: z.number().int().positive(),
    methods: z.array(z.enum(PATCH_METHODS)).min(1),
    keeps: z.array(z.number().gt(0).max(1)).min(1),
    bound: z.number().min(0),
    features: z.array(z.number().int().min(0)),
    seed: z.number().int().min(0),
    fill: z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]),
    destRoot: z.string().min(1),
  })
  .strict();

export const patchMaskJob: JobKind<z.infer<typeof params>, JobResultOf<'patch-mask'>> = {
  kind: 'patch-mask',
  title: 'Mask image patches (SAE-V)',
  resumable: false,
  startFromUi: false,
  params,
  result: jobResults['patch-mask'],
  async run(ctx) {
    return withWorkerStores(ctx.workspaceDir, (stores) =>
      writeMaskedDatasets(stores.db, ctx.workspaceDir, ctx.params, (f) => ctx.progress(f)),
    );
  },
};
