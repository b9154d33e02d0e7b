/**
 * Answer prompts about images with a VLM: the pipeline runs in this job's worker thread, its
 * sessions in the backend's shared pool. A crashed pool process fails the job with the cause.
 */
import { z } from 'zod';
import { VlmPipeline } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { deviceSchema } from '../../../contract/contract.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';

const params = z
  .object({
    model: z.string().min(1),
    items: z
      .array(z.object({ image: z.string().min(1), prompt: z.string() }).strict())
      .min(1)
      .max(10_000),
    batchSize: z.number().int().min(1).max(256).default(8),
    maxNewTokens: z.number().int().min(1).max(8192).default(64),
    device: deviceSchema.default('auto'),
    sampling: z
      .object({ temperature: z.number().positive(), topK: z.number().int().positive().optional(), seed: z.number().int() })
      .strict()
      .optional(),
    ignoreEos: z.boolean().default(false),
  })
  .strict();

type Params = z.infer<typeof params>;

export const vlmGenerateJob: JobKind<Params, JobResultOf<'vlm-generate'>> = {
  kind: 'vlm-generate',
  title: 'Generate answers',
  resumable: false,
  startFromUi: false,
  params,
  result: jobResults['vlm-generate'],
  async run(ctx) {
    const p = ctx.params;
    ctx.progress(0, 'loading the model');
    const vlm = await VlmPipeline.load(p.model, ctx.pool, p.device);
    const outputs: Array<{ image: string; prompt: string; text: string; tokenIds: number[]; finishReason: string }> = [];
    for (let start = 0; start < p.items.length; start += p.batchSize) {
      throwIfCancelled(ctx.signal);
      const batch = p.items.slice(start, start + p.batchSize);
      const { outputs: out } = await vlm.generate(batch, { maxNewTokens: p.maxNewTokens, sampling: p.sampling, ignoreEos: p.ignoreEos });
      out.forEach((o, i) => outputs.push({ image: batch[i]!.image, prompt: batch[i]!.prompt, ...o }));
      ctx.progress(outputs.length / p.items.length, `${outputs.length} of ${p.items.length} answered`);
    }
    const hitLimit = outputs.filter((o) => o.finishReason === 'length').length;
    return { family: vlm.family.family, outputs, hitTokenLimit: hitLimit };
  },
};
