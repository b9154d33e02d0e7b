/**
 * Model diffing's request and result (core/diff/): two checkpoints of one architecture over the same
 * items through one SAE. Importable by the renderer: zod only. Defaults here are the only ones.
 */
import { z } from 'zod';

const ci = z.tuple([z.number(), z.number()]);

export const modelDiffRequestSchema = z
  .object({
    saeId: z.number().int().positive(),
    baseModelId: z.number().int().positive(),
    tunedModelId: z.number().int().positive(),
    datasetId: z.number().int().positive(),
    /** Items (at most N, stratified by task as experiments are; both models see the same ones). */
    limit: z.number().int().min(1).max(5000).default(200),
    batchSize: z.number().int().min(1).max(64).default(8),
    maxNewTokens: z.number().int().min(1).max(256).default(16),
    /** Token kinds the SAE reads at its tap. */
    tokenKinds: z
      .array(z.enum(['image', 'text']))
      .min(1)
      .default(['image', 'text']),
    /** A feature fires on a token when its activation exceeds this bound. */
    bound: z.number().min(0).default(0),
    /** Appears: base rate below quietRate and tuned rate at least activeRate (vanishes: the reverse). */
    quietRate: z.number().min(0).max(1).default(0.001),
    activeRate: z.number().min(0).max(1).default(0.01),
    /** How many most-moved features to report, and linked features per task. */
    moved: z.number().int().min(1).max(1000).default(50),
    linked: z.number().int().min(1).max(50).default(5),
    resamples: z.number().int().min(100).max(20000).default(1000),
    seed: z.number().int().min(0).default(0),
    /** A task changed when its Holm-adjusted p is below alpha. */
    alpha: z.number().gt(0).lt(1).default(0.05),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
  })
  .strict()
  .refine((r) => r.baseModelId !== r.tunedModelId, { message: 'base and fine-tuned model must differ' })
  .refine((r) => r.quietRate <= r.activeRate, { message: 'quietRate must not exceed activeRate' });
export type ModelDiffRequest = z.input<typeof modelDiffRequestSchema>;

export const featureChangeSchema = z.object({
  feature: z.number().int(),
  rate: z.object({ base: z.number(), tuned: z.number(), baseCi95: ci, tunedCi95: ci }),
  rateChange: z.object({ value: z.number(), ci95: ci }),
  meanChange: z.object({ base: z.number(), tuned: z.number(), value: z.number(), ci95: ci }),
  status: z.enum(['appears', 'vanishes']).nullable(),
});

export const taskChangeSchema = z.object({
  task: z.string(),
  n: z.number().int(),
  base: z.object({ accuracy: z.number(), ci95: ci }),
  tuned: z.object({ accuracy: z.number(), ci95: ci }),
  change: z.object({ value: z.number(), ci95: ci }),
  p: z.number(),
  pHolm: z.number(),
  pBh: z.number(),
  changed: z.boolean(),
  features: z.array(z.object({ feature: z.number().int(), onTask: z.number(), onTaskCi95: ci, elsewhere: z.number() })),
});

export const modelDiffResultSchema = z.object({
  saeId: z.number().int(),
  tap: z.string(),
  datasetId: z.number().int(),
  baseModel: z.string(),
  tunedModel: z.string(),
  items: z.number().int(),
  tokens: z.number().int(),
  fvu: z.object({ base: z.number(), tuned: z.number() }),
  accuracy: z.object({ base: z.number(), tuned: z.number() }),
  thresholds: z.object({ bound: z.number(), quietRate: z.number(), activeRate: z.number(), alpha: z.number() }),
  /** How each interval was made, in words (shown beside the numbers). */
  methods: z.object({ rates: z.string(), changes: z.string(), tasks: z.string(), linked: z.string() }),
  moved: z.array(featureChangeSchema),
  appeared: z.array(featureChangeSchema),
  vanished: z.array(featureChangeSchema),
  tasks: z.array(taskChangeSchema),
});
export type ModelDiffResult = z.infer<typeof modelDiffResultSchema>;
