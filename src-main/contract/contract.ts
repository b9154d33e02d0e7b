/**
 * The one IPC contract. Every channel the renderer may call is named here, with a runtime-validated
 * request schema, a response schema (the typed result) and whether it changes the workspace.
 * Both transports (Electron IPC and loopback HTTP/WebSocket) carry exactly these channels, and the
 * backend's dispatcher validates every request against this table before a handler sees it.
 *
 * This file must stay importable by the renderer: zod only, no Node or Electron imports.
 */
import { z } from 'zod';
import {
  circuitAttentionRequestSchema,
  circuitAttentionSchema,
  circuitExportRequestSchema,
  circuitExportSchema,
  circuitGetRequestSchema,
  circuitItemSchema,
  circuitItemsRequestSchema,
  circuitSummarySchema,
  circuitTraceStartSchema,
  circuitViewSchema,
} from './circuits-view.js';
export * from './circuits-view.js';
import { modelDiffRequestSchema } from './model-diff.js';
import { SAE_TRAIN_DEFAULTS as TRAIN } from './sae-train-defaults.js';

/** Where ONNX Runtime runs a session: CUDA when it loads (else CPU, with the reason), or forced. */
export const deviceSchema = z.enum(['auto', 'cpu', 'cuda']);
export type Device = z.infer<typeof deviceSchema>;

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
export const jobStateSchema = z.enum(JOB_STATES);
export type JobState = z.infer<typeof jobStateSchema>;

export const jobSchema = z.object({
  id: z.number().int(),
  kind: z.string(),
  params: z.unknown(),
  state: jobStateSchema,
  progress: z.number().min(0).max(1),
  message: z.string().nullable(),
  error: z.string().nullable(),
  result: z.unknown().nullable(),
  resumable: z.boolean(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** Seconds of work done in earlier attempts, so ETA stays honest after a resume. */
  attempts: z.number().int(),
});
export type Job = z.infer<typeof jobSchema>;

export const workspaceInfoSchema = z.object({
  path: z.string(),
  schemaVersion: z.number().int(),
  createdAt: z.string(),
  /** True when the last session did not close cleanly and an integrity check ran on open. */
  recoveredFromUncleanShutdown: z.boolean(),
  counts: z.object({ jobs: z.number().int(), models: z.number().int(), datasets: z.number().int() }),
});
export type WorkspaceInfo = z.infer<typeof workspaceInfoSchema>;

export const appInfoSchema = z.object({
  version: z.string(),
  transport: z.enum(['electron', 'http']),
  readOnly: z.boolean(),
  /** Set when the server is pinned to one workspace folder (`ocular serve --workspace DIR`). */
  pinnedWorkspace: z.string().nullable(),
  workspace: workspaceInfoSchema.nullable(),
  /** When a workspace could not be opened, the reason, so the UI can show it instead of a blank page. */
  workspaceError: z.string().nullable(),
  /** Whether the bundled demo model is present (the first-run screen offers the demo only then). */
  demoAvailable: z.boolean(),
  jobKinds: z.array(z.object({ kind: z.string(), title: z.string(), resumable: z.boolean(), startFromUi: z.boolean() })),
});
export type AppInfo = z.infer<typeof appInfoSchema>;

const tensorSummarySchema = z.object({ name: z.string(), type: z.string(), shape: z.array(z.union([z.number(), z.string()])).nullable() });
export const componentReportSchema = z.object({
  role: z.enum(['vision_encoder', 'embed_tokens', 'decoder', 'other']),
  file: z.string(),
  variants: z.array(z.object({ dtype: z.string(), file: z.string() })),
  opset: z.array(z.object({ domain: z.string(), version: z.number() })),
  inputs: z.array(tensorSummarySchema),
  outputs: z.array(tensorSummarySchema),
  ops: z.record(z.string(), z.number()),
  externalData: z.array(z.string()),
  missingExternalData: z.array(z.string()),
  tower: z
    .object({
      prefix: z.string(),
      layers: z.number().int(),
      width: z.number().nullable(),
      taps: z.array(z.object({ name: z.string(), width: z.number().nullable() })),
      /** Each block's sublayers in order ('attention,mlp', 'recurrent,mlp' for linear attention, ...). */
      blockKinds: z.array(z.string()).optional(),
    })
    .nullable(),
});
const capabilitySchema = z.object({ ok: z.boolean(), detail: z.string() });
export const modelReportSchema = z.object({
  path: z.string(),
  kind: z.enum(['folder', 'file']),
  modelType: z.string().nullable(),
  architectures: z.array(z.string()),
  /** What Ocular can do with this model, each with why (or why not). Absent in reports stored before it existed. */
  capabilities: z.object({ generate: capabilitySchema, harvest: capabilitySchema, edit: capabilitySchema }).optional(),
  components: z.array(componentReportSchema),
  problems: z.array(z.string()),
  warnings: z.array(z.string()),
});
export type ModelReport = z.infer<typeof modelReportSchema>;
export type ComponentReport = z.infer<typeof componentReportSchema>;

/** What `ocular model plan` and the Models page estimate for (defaults here are the only ones). */
export const modelPlanOptionsSchema = z.object({
  /** Sequences run together. */
  batch: z.number().int().min(1).max(4096).default(1),
  /** Tokens per sequence the caches hold (prompt with image tokens, plus generated). */
  context: z.number().int().min(1).max(10_000_000).default(4096),
  /** Rows a harvest would store per tap. */
  tokens: z.number().int().min(0).max(1e12).default(1_000_000),
  /** Taps to harvest; none: the middle decoder block's hook_resid_post. */
  taps: z.array(z.string().min(1).max(200)).max(64).default([]),
  harvestDtype: z.enum(['fp16', 'fp32']).default('fp16'),
  /** Graph variant (fp32, fp16, q4, quantized, ...); none: the one inspection reports. */
  variant: z
    .string()
    .regex(/^[a-z0-9]+$/)
    .max(20)
    .optional(),
  /** GPU memory to check the plan against, in GiB. */
  gpuGiB: z.number().positive().max(100_000).optional(),
});
export type ModelPlanOptions = z.infer<typeof modelPlanOptionsSchema>;

const bytesByDtype = z.record(z.string(), z.number());
export const modelPlanSchema = z.object({
  path: z.string(),
  options: modelPlanOptionsSchema,
  weights: z.object({
    bytes: z.number(),
    byDtype: bytesByDtype,
    components: z.array(z.object({ role: z.string(), file: z.string(), bytes: z.number(), byDtype: bytesByDtype })),
  }),
  /** Decoder state at `context` tokens: KV caches grow with it, conv/recurrent states do not. */
  caches: z.object({
    bytes: z.number(),
    groups: z.array(
      z.object({
        name: z.string(),
        grows: z.boolean(),
        tensors: z.number().int(),
        shape: z.array(z.number()),
        dtype: z.string(),
        bytes: z.number(),
      }),
    ),
  }),
  /** The logits of a prefill of `context` tokens, the largest transient tensor of a forward pass. */
  prefillLogitsBytes: z.number(),
  /** Weights + caches + prefill logits; onnxruntime's workspace for other intermediates comes on top. */
  memoryBytes: z.number(),
  fits: z.boolean().nullable(),
  harvest: z.object({
    bytes: z.number(),
    dtype: z.enum(['fp16', 'fp32']),
    tokens: z.number(),
    taps: z.array(z.object({ name: z.string(), width: z.number(), bytes: z.number() })),
  }),
  notes: z.array(z.string()),
});
export type ModelPlan = z.infer<typeof modelPlanSchema>;

export const modelRecordSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  path: z.string(),
  addedAt: z.string(),
  inspectedAt: z.string(),
  report: modelReportSchema,
});
export type ModelRecord = z.infer<typeof modelRecordSchema>;

export const runtimeDiagnosticsSchema = z.object({
  pid: z.number().int(),
  onnxruntimeVersion: z.string(),
  cudaProviderInstalled: z.boolean(),
  cudaProviderPath: z.string().nullable(),
  cudaLibraries: z.array(z.object({ name: z.string(), path: z.string().nullable() })),
  gpus: z.array(z.object({ name: z.string(), memoryMiB: z.number() })),
  notes: z.array(z.string()),
  /** Sessions that asked for a GPU and run on CPU, with the reason (never a silent fallback). */
  fallbacks: z.array(z.object({ modelPath: z.string(), reason: z.string() })).default([]),
});
export type RuntimeDiagnostics = z.infer<typeof runtimeDiagnosticsSchema>;

export const datasetSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  path: z.string(),
  source: z.enum(['synth', 'import']),
  meta: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  items: z.number().int(),
});
export type DatasetRecord = z.infer<typeof datasetSchema>;

export const accuracySchema = z.object({
  key: z.string(),
  n: z.number().int(),
  correct: z.number().int(),
  accuracy: z.number(),
  ci95: z.tuple([z.number(), z.number()]),
});
export type Accuracy = z.infer<typeof accuracySchema>;

export const evalParamsSchema = z.object({
  maxNewTokens: z.number().int().min(1).max(8192),
  promptTemplate: z.string(),
  batchSize: z.number().int().min(1).max(256),
  limit: z.number().int().positive().nullable(),
  device: deviceSchema,
});
export const evalRecordSchema = z.object({
  id: z.number().int(),
  jobId: z.number().int().nullable(),
  modelPath: z.string(),
  datasetId: z.number().int(),
  datasetName: z.string(),
  params: evalParamsSchema,
  createdAt: z.string(),
  predictions: z.number().int(),
  accuracy: z.number().nullable(),
});
export type EvalRecord = z.infer<typeof evalRecordSchema>;

export const evalSummarySchema = z.object({
  eval: evalRecordSchema,
  overall: accuracySchema,
  byTask: z.array(accuracySchema),
  byDifficulty: z.array(accuracySchema),
  byAnswerType: z.array(accuracySchema),
  byTaskAndDifficulty: z.array(accuracySchema),
  hitLimitShare: z.number(),
  extractionFailures: z.number().int(),
  /**
   * How every ci95 above was computed: Wilson score intervals (core/stats/proportion.ts), closed form, so
   * no resamples or seed. (Summaries are computed from the stored predictions on each read; the field
   * was `bootstrap {resamples, seed}` before, which no store ever held.)
   */
  intervals: z.object({ method: z.literal('wilson'), level: z.literal(0.95) }),
});
export type EvalSummary = z.infer<typeof evalSummarySchema>;

export const predictionSchema = z.object({
  item: z.object({
    id: z.number().int(),
    key: z.string(),
    image: z.string(),
    question: z.string(),
    answer: z.object({ type: z.enum(['integer', 'float', 'text']), value: z.union([z.number(), z.string()]) }),
    task: z.string().nullable(),
    difficulty: z.number().int().nullable(),
    scene: z.unknown(),
  }),
  raw: z.string(),
  extracted: z.union([z.number(), z.string()]).nullable(),
  method: z.string(),
  correct: z.boolean(),
  hitLimit: z.boolean(),
  tokens: z.number().int(),
});
export type Prediction = z.infer<typeof predictionSchema>;

export const tapStatsSchema = z.object({
  rows: z.number().int(),
  width: z.number().int(),
  mean: z.array(z.number()),
  meanNorm: z.number(),
});
export const harvestParamsSchema = z.object({
  taps: z.array(z.string().min(1)).min(1).max(64),
  tokenKinds: z.array(z.enum(['image', 'text', 'generated'])).min(1),
  dtype: z.enum(['fp16', 'fp32']),
  limit: z.number().int().positive().nullable(),
  batchSize: z.number().int().min(1).max(256),
  shardRows: z.number().int().min(1),
  maxNewTokens: z.number().int().min(1).max(4096),
  device: deviceSchema,
});
export const harvestRecordSchema = z.object({
  id: z.number().int(),
  jobId: z.number().int().nullable(),
  modelPath: z.string(),
  datasetId: z.number().int(),
  params: harvestParamsSchema,
  stats: z.record(z.string(), tapStatsSchema),
  createdAt: z.string(),
  items: z.number().int(),
  rows: z.object({ decoder: z.number().int(), vision: z.number().int() }),
});
export type HarvestRecord = z.infer<typeof harvestRecordSchema>;

/** Spliced-in evaluation of an SAE (see core/jobs/kinds/sae-eval.ts). */
export const saeEvaluationSchema = z.object({
  items: z.number().int(),
  tokens: z.number().int(),
  ceClean: z.number(),
  ceSpliced: z.number(),
  ceZeroAblated: z.number(),
  ceIncrease: z.number(),
  ceLossRecovered: z.number(),
  accuracyClean: z.number().nullable(),
  accuracySpliced: z.number().nullable(),
  accuracyChange: z.number().nullable(),
});
export type SaeEvaluation = z.infer<typeof saeEvaluationSchema>;

export const saeRecordSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  folder: z.string(),
  architecture: z.string(),
  dIn: z.number().int(),
  dSae: z.number().int(),
  k: z.number().int().nullable(),
  hookName: z.string().nullable(),
  modelName: z.string().nullable(),
  source: z.enum(['import', 'trained']),
  createdAt: z.string(),
  /** The training job that made it (null for imports). */
  jobId: z.number().int().nullable(),
  /** A transcoder's output tap and width (null for an SAE). */
  hookNameOut: z.string().nullable(),
  dOut: z.number().int().nullable(),
  evaluation: saeEvaluationSchema.nullable(),
});
export type SaeRecord = z.infer<typeof saeRecordSchema>;

/** Training metrics logged every N steps (core/sae/train-metrics.ts). */
export const trainMetricsSchema = z.object({
  step: z.number().int(),
  loss: z.number(),
  mse: z.number(),
  l1: z.number(),
  aux: z.number(),
  fvu: z.number(),
  fvuByModality: z.record(z.string(), z.number().nullable()),
  l0: z.number(),
  deadFraction: z.number(),
  denseFraction: z.number(),
  lr: z.number(),
});
export type TrainMetrics = z.infer<typeof trainMetricsSchema>;

/**
 * Training without storing (sparsify-style): the model runs over a dataset's items and its decoder
 * taps' rows go straight to the shuffle buffer; no shards are kept (core/harvest/model-rows.ts).
 * An epoch is one pass over the items. `batchSize` is items per forward pass, as a harvest's.
 */
export const trainFromModelSchema = z
  .object({
    modelId: z.number().int().positive(),
    datasetId: z.number().int().positive(),
    tokenKinds: z
      .array(z.enum(['image', 'text']))
      .min(1)
      .default(['image', 'text']),
    limit: z.number().int().positive().nullable().default(null),
    batchSize: z.number().int().min(1).max(256).default(8),
  })
  .strict();

/** An SAE / transcoder training run: the sae-train job's parameters, with defaults users expect. */
export const saeTrainRequestSchema = z.object({
  /** The harvest whose shards are read; exactly one of harvestId and fromModel is given. */
  harvestId: z.number().int().positive().optional(),
  fromModel: trainFromModelSchema.optional(),
  tap: z.string().min(1),
  /** Train a transcoder: read `tap`, reconstruct this tap (same stream, same harvest). */
  outputTap: z.string().min(1).optional(),
  architecture: z.enum(['topk', 'batchtopk', 'relu']).default(TRAIN.architecture),
  expansion: z.number().int().min(1).max(64).default(TRAIN.expansion),
  k: z.number().int().min(1).default(TRAIN.k),
  /** Decoder-norm-weighted L1 weight for ReLU SAEs. */
  l1Coefficient: z.number().min(0).default(TRAIN.l1Coefficient),
  /** AuxK: dead features revived per token (default d_in / 2; 0 turns it off) and the loss weight. */
  auxK: z.number().int().min(0).optional(),
  auxCoefficient: z.number().min(0).default(TRAIN.auxCoefficient),
  /** A feature that has not fired for this many steps counts as dead (and AuxK revives it). */
  deadAfterSteps: z.number().int().min(1).default(TRAIN.deadAfterSteps),
  bDecInit: z.enum(['geometric-median', 'mean', 'zeros']).default(TRAIN.bDecInit),
  /**
   * SAELens's `expected_average_only_in`: train on activations scaled so their mean squared norm is
   * d_in, so one L1 coefficient and learning rate suit any layer or model; the scale is folded into
   * the saved weights, which then read raw activations. `none` trains on raw activations.
   */
  normalizeActivations: z.enum(['expected_average_only_in', 'none']).default(TRAIN.normalizeActivations),
  steps: z.number().int().min(1).max(10_000_000).default(TRAIN.steps),
  batchSize: z.number().int().min(1).max(65536).default(TRAIN.batchSize),
  lr: z.number().positive().default(TRAIN.lr),
  /** Linear warmup over this many steps (default: 5% of the run, at most 500), then cosine decay to 10%. */
  warmupSteps: z.number().int().min(0).optional(),
  decay: z.enum(['cosine', 'none']).default(TRAIN.decay),
  seed: z.number().int().default(TRAIN.seed),
  checkpointEvery: z.number().int().min(1).default(TRAIN.checkpointEvery),
  logEvery: z.number().int().min(1).default(TRAIN.logEvery),
  /** Training steps per session call (one ONNX Loop over a chunk of batches). */
  stepsPerCall: z.number().int().min(1).max(256).default(TRAIN.stepsPerCall),
  /**
   * Rows are drawn through a shuffle buffer of this many MiB (core/harvest/shuffle-buffer.ts): each
   * row once per epoch, in a seeded order a resume continues exactly; memory is bounded by it.
   */
  shuffleBufferMb: z
    .number()
    .positive()
    .max(1 << 20)
    .default(TRAIN.shuffleBufferMb),
  device: deviceSchema.default('auto'),
  name: z.string().min(1).max(200).optional(),
});
export type SaeTrainRequest = z.infer<typeof saeTrainRequestSchema>;

export const saeTrainEstimateSchema = z.object({
  dIn: z.number().int(),
  dOut: z.number().int(),
  dSae: z.number().int(),
  parameters: z.number().int(),
  /** Parameters, Adam moments and the chunk's activations, in bytes. */
  memoryBytes: z.number(),
  tokens: z.number(),
  /** From the speed a finished run in this workspace measured; null before any run. */
  seconds: z.number().nullable(),
});

export const saeEvalRequestSchema = z.object({
  saeId: z.number().int().positive(),
  modelId: z.number().int().positive(),
  datasetId: z.number().int().positive(),
  limit: z.number().int().positive().default(64),
  batchSize: z.number().int().min(1).max(64).default(8),
  /** Also generate answers with and without the splice and grade them (slower). */
  accuracy: z.boolean().default(true),
  maxNewTokens: z.number().int().min(1).max(256).default(16),
  /** Score the reference answer's tokens (default), or every text token (prompt and answer). */
  scoreTokens: z.enum(['answer', 'text']).default('answer'),
  device: deviceSchema.default('auto'),
});

/**
 * SAE-V filtering's comparison (core/datasets/filter-compare.ts): SAEs trained on the filtered share,
 * a random share of the same size and all of a training pool, measured on held-out items.
 */
export const datasetCompareRequestSchema = z
  .object({
    /** The analysis whose SAE scores the harvested items (and whose harvest and tap the new SAEs train on). */
    analysisId: z.number().int().positive(),
    by: z.enum(['cross-modal', 'cooccurrence', 'l0']),
    keep: z.number().gt(0).max(1).default(0.5),
    bound: z.number().min(0).default(0),
    /** Share of the scored items held out for measuring (never trained on by any arm). */
    heldOut: z.number().gt(0).lt(1).default(0.25),
    seed: z.number().int().min(0).default(0),
    /** The three SAEs' shared training settings (TopK). */
    expansion: z.number().int().min(1).max(64).default(4),
    k: z.number().int().min(1).default(16),
    steps: z.number().int().min(1).max(1_000_000).default(400),
    batchSize: z.number().int().min(1).max(65536).default(512),
    lr: z.number().positive().default(1e-3),
    /** Held-out items run with each SAE spliced in for CE recovered (the first N of them). */
    ceItems: z.number().int().min(1).max(100_000).default(64),
    /** The probe on each SAE's codes of image patches: the colour or the shape under the patch. */
    probe: z.enum(['color', 'shape']).default('color'),
    resamples: z.number().int().min(100).max(100_000).default(2000),
    device: deviceSchema.default('auto'),
  })
  .strict();
export type DatasetCompareRequest = z.infer<typeof datasetCompareRequestSchema>;

const estimateSchema = z.object({ value: z.number(), ci95: z.tuple([z.number(), z.number()]) });
export const datasetComparisonSchema = z.object({
  heldOutItems: z.number().int(),
  poolItems: z.number().int(),
  /** FVU and CE recovered: percentile bootstrap over held-out items (resamples, seed); probe accuracy: Wilson over held-out rows. */
  intervals: z.object({
    fvu: z.literal('bootstrap-items'),
    ceRecovered: z.literal('bootstrap-items'),
    probe: z.literal('wilson'),
    resamples: z.number().int(),
    seed: z.number().int(),
  }),
  arms: z.array(
    z.object({
      arm: z.enum(['filtered', 'random', 'all']),
      items: z.number().int(),
      rows: z.number().int(),
      saeId: z.number().int(),
      fvu: estimateSchema,
      ceRecovered: estimateSchema,
      /** Mean cross-entropy per scored answer token over the spliced items: clean, spliced, zero-ablated. */
      ce: z.object({ clean: z.number(), spliced: z.number(), zero: z.number(), items: z.number().int(), tokens: z.number().int() }),
      probe: z.object({ accuracy: z.number(), ci95: z.tuple([z.number(), z.number()]), train: z.number().int(), test: z.number().int() }),
    }),
  ),
});
export type DatasetComparison = z.infer<typeof datasetComparisonSchema>;

// ---- Circuits: transcoder sets, replacement models ----

/** One transcoder per decoder layer (hook_mlp_in -> hook_mlp_out) with shared settings (see core/jobs/kinds/transcoder-set.ts). */
export const transcoderSetRequestSchema = saeTrainRequestSchema.omit({ tap: true, outputTap: true, name: true, fromModel: true }).extend({
  harvestId: z.number().int().positive(),
  /** Decoder layers (default: every layer whose hook_mlp_in and hook_mlp_out the harvest holds). */
  layers: z.array(z.number().int().min(0).max(1023)).min(1).max(1024).optional(),
});
export type TranscoderSetRequest = z.infer<typeof transcoderSetRequestSchema>;

export const transcoderSetLayerSchema = z.object({
  layer: z.number().int(),
  saeId: z.number().int(),
  inTap: z.string(),
  outTap: z.string(),
  fvu: z.number().nullable(),
  l0: z.number().nullable(),
  deadFraction: z.number().nullable(),
});
export type TranscoderSetLayer = z.infer<typeof transcoderSetLayerSchema>;

/** The replacement model: every layer's MLP replaced by the set's transcoder at once. */
export const replacementCheckRequestSchema = z.object({
  /** The transcoder-set job whose transcoders replace the MLPs. */
  setId: z.number().int().positive(),
  modelId: z.number().int().positive(),
  datasetId: z.number().int().positive(),
  limit: z.number().int().positive().default(64),
  batchSize: z.number().int().min(1).max(64).default(8),
  accuracy: z.boolean().default(true),
  maxNewTokens: z.number().int().min(1).max(256).default(16),
  scoreTokens: z.enum(['answer', 'text']).default('answer'),
  device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
});

export const replacementCheckSchema = z.object({
  setId: z.number().int(),
  layers: z.array(z.number().int()),
  items: z.number().int(),
  tokens: z.number().int(),
  /** Mean answer cross-entropy (nats per token): the clean model, transcoders with error terms kept (equals clean), and dropped. */
  ceClean: z.number(),
  ceErrorsKept: z.number(),
  ceReplaced: z.number(),
  ceIncrease: z.number(),
  accuracyClean: z.number().nullable(),
  accuracyReplaced: z.number().nullable(),
  accuracyChange: z.number().nullable(),
});
export type ReplacementCheck = z.infer<typeof replacementCheckSchema>;

/** One attribution graph with attention maps (see core/circuits/trace.ts); image is a file on disk, so CLI / trusted only. */
export const circuitTraceRequestSchema = z.object({
  setId: z.number().int().positive(),
  image: z.string().min(1),
  prompt: z.string().min(1).max(4000),
  /** One token's text; default: the model's top prediction. */
  target: z.string().min(1).optional(),
  /** One token's text: attribute target minus contrast instead of the target less the mean logit. */
  contrast: z.string().min(1).optional(),
  maxFeatureNodes: z.number().int().min(0).max(100_000).default(512),
  nodeThreshold: z.number().gt(0).max(1).default(0.8),
  edgeThreshold: z.number().gt(0).max(1).default(0.98),
  /** Linearised backward (refuses what it cannot linearise), ablation in the real model, or auto: linearised, else ablation. */
  method: z.enum(['auto', 'linearised', 'ablation']).default('auto'),
  device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
});

/**
 * Circuit patching (core/circuits/patch*.ts): chosen transcoder features' activations (or a saved
 * graph's feature nodes) from prompt A set in prompt B; B's answer against random-feature controls.
 */
const patchSelectionFields = {
  setId: z.number().int().positive(),
  /** Features as (layer, feature); or `graphId`: a saved circuit (trace job id) whose feature nodes are patched; or `pairGraph`. */
  features: z
    .array(z.object({ layer: z.number().int().min(0), feature: z.number().int().min(0) }))
    .min(1)
    .max(10_000)
    .optional(),
  graphId: z.number().int().positive().optional(),
  /** Or per pair the feature nodes of A's own graph (A's answer against B's), traced and pruned so. */
  pairGraph: z
    .object({ maxFeatureNodes: z.number().int().min(1).max(100_000).default(64), nodeThreshold: z.number().gt(0).max(1).default(0.8) })
    .strict()
    .optional(),
  /** Where features are patched: every position, the last, the image's or the text's; a graph's nodes keep their own positions. */
  positions: z.enum(['all', 'last', 'image', 'text']).default('all'),
  controls: z.number().int().min(0).max(10).default(3),
  seed: z.number().int().min(0).default(0),
  resamples: z.number().int().min(100).max(100_000).default(2000),
  device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
};
const oneSelection = <T extends { features?: unknown; graphId?: unknown; pairGraph?: unknown }>(r: T, ctx: z.RefinementCtx) => {
  if ([r.features, r.graphId, r.pairGraph].filter((x) => x !== undefined).length !== 1)
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'name one of features, graphId or pairGraph to patch' });
};
/** Pairs from a registered dataset (the app's request). */
export const circuitPatchRequestSchema = z
  .object({
    ...patchSelectionFields,
    datasetId: z.number().int().positive(),
    task: z.string().min(1).max(200).optional(),
    /** Keep pairs whose A answers this (e.g. red) and whose B answers that (e.g. blue). */
    aAnswer: z.string().min(1).max(200).optional(),
    bAnswer: z.string().min(1).max(200).optional(),
    limit: z.number().int().min(1).max(10_000).default(64),
  })
  .strict()
  .superRefine(oneSelection);
const patchPromptSchema = z.object({ image: z.string().min(1), prompt: z.string().min(1).max(4000), answer: z.string().min(1).optional() });
/** The job's parameters: a dataset's pairs, or one pair of image files (CLI / trusted only). */
export const circuitPatchParamsSchema = z.union([
  circuitPatchRequestSchema,
  z
    .object({ ...patchSelectionFields, a: patchPromptSchema.strict(), b: patchPromptSchema.strict() })
    .strict()
    .superRefine(oneSelection),
]);
const interval95 = z.object({ share: z.number(), ci95: z.tuple([z.number(), z.number()]) });
const patchOutcomeSchema = z.object({ top: z.number().int(), logitDiff: z.number() });
export const circuitPatchResultSchema = z.object({
  setId: z.number().int(),
  selection: z.string(),
  pairs: z.number().int(),
  skipped: z.object({ layout: z.number().int(), sameAnswerToken: z.number().int() }),
  conditions: z.array(
    z.object({
      id: z.string(),
      n: z.number().int(),
      answersA: interval95,
      keepsB: interval95,
      meanShift: z.number(),
      vsClean: z
        .object({ difference: z.number(), ci95: z.tuple([z.number(), z.number()]), p: z.number(), pHolm: z.number(), pBh: z.number() })
        .nullable(),
    }),
  ),
  patchVsControls: z.array(
    z.object({
      control: z.string(),
      answersADifference: z.number(),
      ci95: z.tuple([z.number(), z.number()]),
      pMcNemar: z.number(),
      pMcNemarHolm: z.number(),
      pMcNemarBh: z.number(),
      shiftDifference: z.number(),
      pPermutation: z.number(),
      pPermutationHolm: z.number(),
      pPermutationBh: z.number(),
    }),
  ),
  flagged: z.boolean(),
  perPair: z.array(
    z.object({
      a: z.string(),
      b: z.string(),
      answerA: z.string(),
      answerB: z.string(),
      clean: patchOutcomeSchema,
      patched: patchOutcomeSchema,
      controls: z.array(patchOutcomeSchema),
      sites: z.number().int(),
      controlsShort: z.number().int(),
    }),
  ),
});
export type CircuitPatchResult = z.infer<typeof circuitPatchResultSchema>;

// ---- Feature analysis, browser and labels ----

export const analysisRequestSchema = z.object({
  saeId: z.number().int().positive(),
  harvestId: z.number().int().positive(),
  /** Top-activating examples kept per feature. */
  topN: z.number().int().min(1).max(200).default(20),
  /** Image and text tokens per feature behind the cross-modal weight. */
  crossK: z.number().int().min(1).max(100).default(10),
  /** Promoted / suppressed tokens kept per feature. */
  logitTokens: z.number().int().min(0).max(50).default(10),
  device: deviceSchema.default('auto'),
});

export const analysisSummarySchema = z.object({
  rows: z.number().int(),
  features: z.number().int(),
  /** Features that never fired on these rows. */
  neverFired: z.number().int(),
  truncatedRows: z.number().int(),
  histogramEdges: z.array(z.number()),
  logitEffects: z.boolean(),
  seconds: z.number(),
  /** Seconds per stage: the streaming pass, cross-modal reads, logit effects, tokens and images, features, saving. */
  timings: z.record(z.string(), z.number()).optional(),
});

export const analysisRecordSchema = z.object({
  id: z.number().int(),
  saeId: z.number().int(),
  harvestId: z.number().int(),
  jobId: z.number().int().nullable(),
  params: analysisRequestSchema,
  summary: analysisSummarySchema.nullable(),
  createdAt: z.string(),
});
export type AnalysisRecord = z.infer<typeof analysisRecordSchema>;

export const labelStatusSchema = z.enum(['unlabelled', 'labelled', 'needs-review', 'uninterpretable']);
export type LabelStatus = z.infer<typeof labelStatusSchema>;

export const featureLabelSchema = z.object({
  feature: z.number().int().min(0),
  label: z.string().max(2000),
  tags: z.array(z.string().min(1).max(100)).max(50),
  confidence: z.number().min(0).max(1).nullable(),
  status: labelStatusSchema,
  annotator: z.string().min(1).max(200),
  updatedAt: z.string(),
});
export type FeatureLabel = z.infer<typeof featureLabelSchema>;

export const featureRowSchema = z.object({
  feature: z.number().int(),
  density: z.number(),
  maxAct: z.number(),
  meanAct: z.number(),
  imageShare: z.number().nullable(),
  crossModal: z.number().nullable(),
  label: z.string().nullable(),
  status: labelStatusSchema,
});
export type FeatureRow = z.infer<typeof featureRowSchema>;

export const featureSortSchema = z.enum(['feature', 'density', 'maxAct', 'imageShare', 'crossModal', 'label', 'status']);

const tokenActivation = z.object({ token: z.string(), activation: z.number() });

export const featureExampleSchema = z.object({
  rank: z.number().int(),
  row: z.number().int(),
  activation: z.number(),
  itemId: z.number().int(),
  position: z.number().int(),
  modality: z.enum(['image', 'text', 'generated']),
  patchRow: z.number().int().nullable(),
  patchCol: z.number().int().nullable(),
  /** The item's image, copied into the workspace by the analysis (a path inside it). */
  imagePath: z.string().nullable(),
  /** This feature's activation on every image token of the item, [rows x cols] row-major. */
  heatmap: z
    .object({
      rows: z.number().int(),
      cols: z.number().int(),
      values: z.array(z.number()),
      /** The image and tile the grid covers (images split into tiles have one grid per tile). */
      image: z.number().int().optional(),
      tile: z.number().int().optional(),
      /** Every image token of the item: its image, tile, box in the original image's pixels [x0, y0, x1, y1], and activation. */
      cells: z
        .array(z.object({ image: z.number().int(), tile: z.number().int(), box: z.array(z.number()).length(4), value: z.number() }))
        .optional(),
    })
    .nullable(),
  /** Text tokens around the example with this feature's activation on each; `at` marks the example. */
  context: z.array(tokenActivation.extend({ at: z.boolean() })),
  question: z.string(),
  answer: z.string(),
  task: z.string().nullable(),
  /** The benchmark object under the patch (synthetic datasets), or null. */
  object: z.object({ shape: z.string(), color: z.string(), size: z.string() }).nullable(),
});
export type FeatureExample = z.infer<typeof featureExampleSchema>;

export const featureDetailSchema = z.object({
  row: featureRowSchema,
  quantiles: z.object({ q50: z.number(), q90: z.number(), q99: z.number() }),
  histogram: z.object({ edges: z.array(z.number()), counts: z.array(z.number()) }),
  logits: z.object({ promoted: z.array(tokenActivation), suppressed: z.array(tokenActivation) }).nullable(),
  examples: z.array(featureExampleSchema),
  label: featureLabelSchema.nullable(),
});
export type FeatureDetail = z.infer<typeof featureDetailSchema>;

export const labelConflictSchema = z.object({ feature: z.number().int(), ours: featureLabelSchema, theirs: featureLabelSchema });
export type LabelConflict = z.infer<typeof labelConflictSchema>;

// ---- Experiments and probes ----

/** A set of features to intervene on: listed by hand, found by label/tag search, or picked by a task-selectivity rule. */
export const featureSetSchema = z
  .object({
    name: z.string().min(1).max(100),
    features: z.array(z.number().int().min(0)).max(4096).optional(),
    search: z.string().min(1).max(200).optional(),
    /** The `top` features whose mean activation on `task` items most exceeds their largest mean on any other task, by at least `margin`. */
    selective: z
      .object({
        task: z.string().min(1),
        top: z.number().int().min(1).max(1024).default(10),
        margin: z.number().min(0).default(0),
        /**
         * Which tokens the per-task means are taken over: each item's last prompt token (`answer`: where
         * the model decides its answer), the question's text tokens, the image's, or all.
         */
        tokens: z.enum(['answer', 'text', 'image', 'all']).default('answer'),
      })
      .optional(),
  })
  .refine((s) => [s.features, s.search, s.selective].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of features, search or selective',
  });
export type FeatureSetSpec = z.infer<typeof featureSetSchema>;

export const operationSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('scale'), values: z.array(z.number()).min(1).max(20) }),
  z.object({ op: z.literal('clamp'), values: z.array(z.number()).min(1).max(20) }),
  z.object({ op: z.literal('zero') }),
  z.object({ op: z.literal('mean') }),
  z.object({ op: z.literal('add'), values: z.array(z.number()).min(1).max(20) }),
]);
export type OperationSpec = z.infer<typeof operationSchema>;

export const experimentSpecSchema = z.object({
  name: z.string().min(1).max(200),
  modelId: z.number().int().positive(),
  saeId: z.number().int().positive(),
  /** The analysis behind selectivity rules and mean-ablation values. */
  analysisId: z.number().int().positive(),
  datasetId: z.number().int().positive(),
  /** Only items of these task types (null: all). */
  tasks: z.array(z.string()).nullable().default(null),
  limit: z.number().int().positive().nullable().default(null),
  featureSets: z.array(featureSetSchema).min(1).max(4),
  operation: operationSchema,
  /** Decoder taps: which tokens are edited. A vision-tower tap edits image patches: 'image' or 'all'. */
  where: z.enum(['image', 'text', 'generated', 'all']).default('all'),
  /**
   * Vision-tower taps: edit every patch, or only the patches where the condition's features fire
   * (a random direction goes where its intervention's features fire).
   */
  patches: z.enum(['all', 'firing']).default('all'),
  controls: z
    .object({
      randomSets: z.number().int().min(0).max(10).default(2),
      randomDirections: z.boolean().default(true),
      union: z.boolean().default(true),
    })
    .default({ randomSets: 2, randomDirections: true, union: true }),
  seed: z.number().int().default(0),
  resamples: z.number().int().min(100).max(100_000).default(2000),
  maxNewTokens: z.number().int().min(1).max(256).default(8),
  batchSize: z.number().int().min(1).max(64).default(16),
  device: deviceSchema.default('auto'),
});
export type ExperimentSpec = z.infer<typeof experimentSpecSchema>;

const groupStats = z.object({
  key: z.string(),
  n: z.number().int(),
  accuracy: z.number(),
  ci95: z.tuple([z.number(), z.number()]),
  drift: z.number(),
  shiftNorm: z.number(),
  klFirstToken: z.number(),
  pVsBaseline: z.number().nullable(),
  /** pVsBaseline adjusted across the table's comparisons (every condition's groups of this kind): Holm, Benjamini–Hochberg. */
  pVsBaselineHolm: z.number().nullable().default(null),
  pVsBaselineBh: z.number().nullable().default(null),
});

export const conditionResultSchema = z.object({
  id: z.string(),
  kind: z.enum(['baseline', 'intervention', 'union', 'random-set', 'random-direction']),
  set: z.string().nullable(),
  value: z.number().nullable(),
  features: z.array(z.number().int()),
  /** For controls: the intervention they control for. */
  controlFor: z.string().nullable(),
  n: z.number().int(),
  accuracy: z.number(),
  ci95: z.tuple([z.number(), z.number()]),
  accuracyChange: z.number(),
  accuracyChangeCi95: z.tuple([z.number(), z.number()]),
  /** Share of items whose extracted answer differs from the baseline's. */
  drift: z.number(),
  /** Mean L2 norm of the activation change at the edited positions. */
  shiftNorm: z.number(),
  /** Mean KL(baseline || condition) of the first answer token's distribution. */
  klFirstToken: z.number(),
  pVsBaseline: z.number().nullable(),
  /** pVsBaseline adjusted across the experiment's conditions: Holm–Bonferroni and Benjamini–Hochberg. */
  pVsBaselineHolm: z.number().nullable().default(null),
  pVsBaselineBh: z.number().nullable().default(null),
  /** Interventions: paired permutation p against each of their controls. */
  pVsControls: z.record(z.string(), z.number()),
  /** An intervention some control moved at least as much. */
  flagged: z.boolean(),
  byTask: z.array(groupStats),
  byDifficulty: z.array(groupStats),
});
export type ConditionResult = z.infer<typeof conditionResultSchema>;

export const experimentResultsSchema = z.object({
  conditions: z.array(conditionResultSchema),
  items: z.number().int(),
  resamples: z.number().int(),
  seed: z.number().int(),
  version: z.string(),
  featureSets: z.record(z.string(), z.array(z.number().int())),
  seconds: z.number(),
});
export type ExperimentResults = z.infer<typeof experimentResultsSchema>;

export const experimentRecordSchema = z.object({
  id: z.number().int(),
  jobId: z.number().int().nullable(),
  name: z.string(),
  spec: experimentSpecSchema,
  results: experimentResultsSchema.nullable(),
  createdAt: z.string(),
});
export type ExperimentRecord = z.infer<typeof experimentRecordSchema>;

/**
 * One effect replicated over SAEs trained with different seeds: an intervention's (or the union's)
 * accuracy change against the baseline, on one task (null: all the experiment's items), per seed.
 */
export const replicatedEffectSchema = z.object({
  condition: z.string(),
  set: z.string().nullable(),
  value: z.number().nullable(),
  task: z.string().nullable(),
  perSeed: z.array(
    z.object({
      experimentId: z.number().int(),
      saeId: z.number().int(),
      /** The SAE's training seed (null: an imported SAE). */
      saeSeed: z.number().int().nullable(),
      /** Accuracy change against the baseline (a share: -0.5 is 50 points lost). */
      effect: z.number(),
      pVsBaseline: z.number().nullable(),
    }),
  ),
  min: z.number(),
  median: z.number(),
  max: z.number(),
  mean: z.number(),
  /**
   * Student-t 95% interval for the mean effect over seeds (df = seeds - 1), clipped to [-1, 1]; null with
   * one seed, or when every seed gave the same effect (no spread to estimate).
   */
  ci95: z.tuple([z.number(), z.number()]).nullable(),
});
export type ReplicatedEffect = z.infer<typeof replicatedEffectSchema>;

export const replicationRecordSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  /** One experiment per SAE seed, same spec apart from the SAE and its analysis. */
  experimentIds: z.array(z.number().int()),
  /** Null until every experiment has results. */
  results: z
    .object({
      seeds: z.number().int(),
      ciMethod: z.literal('student-t'),
      effects: z.array(replicatedEffectSchema),
    })
    .nullable(),
  createdAt: z.string(),
});
export type ReplicationRecord = z.infer<typeof replicationRecordSchema>;

export const experimentOutputSchema = z.object({
  itemId: z.number().int(),
  condition: z.string(),
  raw: z.string(),
  extracted: z.string().nullable(),
  correct: z.boolean(),
  shiftNorm: z.number(),
  kl: z.number(),
  question: z.string(),
  answer: z.string(),
  task: z.string().nullable(),
  difficulty: z.number().nullable(),
});
export type ExperimentOutput = z.infer<typeof experimentOutputSchema>;

export const probeSpecSchema = z.object({
  harvestId: z.number().int().positive(),
  /** What to predict from each token's activation: the item's task type, or the benchmark object under an image patch. */
  label: z.enum(['task', 'color', 'shape']),
  /** Token kinds used; by default text tokens for task probes, image tokens (patches) for colour and shape. */
  modality: z.enum(['image', 'text', 'all']).nullable().default(null),
  heldOut: z.number().min(0.05).max(0.5).default(0.25),
  epochs: z.number().int().min(1).max(500).default(60),
  l2: z.number().min(0).default(1e-3),
  seed: z.number().int().default(0),
});
export type ProbeSpec = z.infer<typeof probeSpecSchema>;

export const probeResultsSchema = z.object({
  classes: z.array(z.string()),
  train: z.number().int(),
  test: z.number().int(),
  layers: z.array(
    z.object({
      tap: z.string(),
      accuracy: z.number(),
      ci95: z.tuple([z.number(), z.number()]),
      shuffledAccuracy: z.number(),
      majority: z.number(),
    }),
  ),
});
export const probeRecordSchema = z.object({
  id: z.number().int(),
  jobId: z.number().int().nullable(),
  harvestId: z.number().int(),
  spec: probeSpecSchema,
  results: probeResultsSchema.nullable(),
  createdAt: z.string(),
});
export type ProbeRecord = z.infer<typeof probeRecordSchema>;

// ---- The feature workbench: example samples, neighbours, content search, reviews, your own input ----

/** A token interval of a feature's non-zero activations, between two quantiles of them. */
export const activationIntervalSchema = z.object({
  /** The quantiles bounding the interval (0.9 and 0.99: the tokens between p90 and p99). */
  quantiles: z.tuple([z.number(), z.number()]),
  lo: z.number(),
  hi: z.number(),
  /** Firing tokens (of the chosen modality) inside it. */
  count: z.number().int(),
});
export type ActivationInterval = z.infer<typeof activationIntervalSchema>;

export const featureExamplesResultSchema = z.object({
  examples: z.array(featureExampleSchema),
  /** Firing tokens in the chosen set (modality and interval): how far "more" can go. */
  total: z.number().int(),
  intervals: z.array(activationIntervalSchema),
  /** Rows the feature was computed on, of all rows of its tap: equal unless the harvest is too large to scan whole. */
  scannedRows: z.number().int(),
  totalRows: z.number().int(),
});
export type FeatureExamplesResult = z.infer<typeof featureExamplesResultSchema>;

export const nearestFeatureSchema = z.object({
  feature: z.number().int(),
  cosine: z.number(),
  label: z.string().nullable(),
  density: z.number().nullable(),
});
export type NearestFeature = z.infer<typeof nearestFeatureSchema>;

export const contentQueryKinds = ['token', 'promotes', 'suppresses', 'color', 'shape', 'size'] as const;
export const contentMatchSchema = featureRowSchema.extend({
  /** Share of top examples that match (token and attribute queries) or the logit (promotes / suppresses). */
  score: z.number(),
  /** What matched, in words ("14 of 20 top examples"). */
  matches: z.string(),
});
export type ContentMatch = z.infer<typeof contentMatchSchema>;

/** An image sent from the renderer: base64 PNG or JPEG bytes (no data: prefix), resized there to fit. */
const inputImage = z
  .string()
  .min(16)
  .max(1_000_000)
  .regex(/^[A-Za-z0-9+/]+=*$/, 'the image must be base64-encoded PNG or JPEG bytes');

export const probeInputRequestSchema = z.object({
  analysisId: z.number().int().positive(),
  image: inputImage,
  prompt: z.string().min(1).max(2000),
  /** The feature whose activation on every token comes back; null: only the input's top features. */
  feature: z.number().int().min(0).nullable().default(null),
  top: z.number().int().min(1).max(100).default(20),
  device: deviceSchema.default('auto'),
});
export const probeInputResultSchema = z.object({
  tap: z.string(),
  /** Every prompt token (image patches and text), with the chosen feature's activation on it. */
  tokens: z.array(
    z.object({
      token: z.string(),
      modality: z.enum(['image', 'text']),
      patchRow: z.number().int().nullable(),
      patchCol: z.number().int().nullable(),
      activation: z.number().nullable(),
    }),
  ),
  /** The image tokens' patch grid. */
  grid: z.object({ rows: z.number().int(), cols: z.number().int() }).nullable(),
  /** The input's most active features: maximum over its tokens, where it fired, and its label. */
  topFeatures: z.array(
    z.object({
      feature: z.number().int(),
      max: z.number(),
      imageMax: z.number(),
      textMax: z.number(),
      firing: z.number().int(),
      label: z.string().nullable(),
    }),
  ),
  seconds: z.number(),
});
export type ProbeInputResult = z.infer<typeof probeInputResultSchema>;

export const steerInputRequestSchema = z.object({
  analysisId: z.number().int().positive(),
  feature: z.number().int().min(0),
  image: inputImage,
  prompt: z.string().min(1).max(2000),
  /** scale: multiply the feature's activation by `value`; add: add value x its decoder direction. */
  op: z.enum(['scale', 'add']),
  value: z.number().min(-1000).max(1000),
  where: z.enum(['all', 'image', 'text']).default('all'),
  maxNewTokens: z.number().int().min(1).max(64).default(16),
  device: deviceSchema.default('auto'),
});
export const steerInputResultSchema = z.object({
  baseline: z.string(),
  steered: z.string(),
  /** Mean L2 norm of the edit's change to the tap over the edited prompt positions. */
  shiftNorm: z.number(),
  seconds: z.number(),
});
export type SteerInputResult = z.infer<typeof steerInputResultSchema>;

export const experimentPlanSchema = z.object({
  /** Every task of the dataset, with its item count and how many items the experiment would run. */
  tasks: z.array(z.object({ task: z.string(), available: z.number().int(), selected: z.number().int(), requested: z.boolean() })),
  /** Items without a task type (run only when no tasks are chosen). */
  untagged: z.number().int(),
  total: z.number().int(),
});
export type ExperimentPlan = z.infer<typeof experimentPlanSchema>;

// ---- Auto-interpretation ----

/** An OpenAI-compatible chat-completions server the user runs (llama.cpp, Ollama, vLLM): base URL up to /v1. */
export const chatEndpointSchema = z
  .object({
    url: z.string().min(1).max(2000),
    model: z.string().min(1).max(200),
    /** The model reads images: explainers and scorers then get patch crops and heatmaps. */
    multimodal: z.boolean().default(false),
  })
  .strict();
export type ChatEndpointSpec = z.infer<typeof chatEndpointSchema>;

export const explainRequestSchema = z
  .object({
    analysisId: z.number().int().positive(),
    /** Features to explain; null: the `top` most often firing features of the analysis. */
    features: z.array(z.number().int().min(0)).min(1).max(4096).nullable().default(null),
    top: z.number().int().min(1).max(4096).default(20),
    /** `ground-truth`: from the benchmark's scene annotations; `llm`: the chat endpoint in Settings. */
    explainer: z.enum(['ground-truth', 'llm']).default('ground-truth'),
    /** Who scores: the chat endpoint (detection and simulation prompts), or, for ground-truth explanations only, their own predicate. */
    scorer: z.enum(['endpoint', 'predicate']).default('predicate'),
    explainExamples: z.number().int().min(2).max(100).default(20),
    scoreExamples: z.number().int().min(2).max(100).default(10),
    seed: z.number().int().min(0).default(0),
  })
  .refine((r) => !(r.explainer === 'llm' && r.scorer === 'predicate'), {
    message: 'an LLM explanation has no predicate: score it with the endpoint',
  });
export type ExplainRequest = z.infer<typeof explainRequestSchema>;

export const detectionScoreSchema = z.object({
  n: z.number().int(),
  positives: z.number().int(),
  tp: z.number().int(),
  fp: z.number().int(),
  tn: z.number().int(),
  fn: z.number().int(),
  accuracy: z.number(),
  accuracyCi95: z.tuple([z.number(), z.number()]),
  balancedAccuracy: z.number(),
  precision: z.number().nullable(),
  recall: z.number(),
  f1: z.number().nullable(),
});

export const explanationSchema = z.object({
  id: z.number().int(),
  saeId: z.number().int(),
  analysisId: z.number().int().nullable(),
  jobId: z.number().int().nullable(),
  feature: z.number().int(),
  explanation: z.string(),
  explainer: z.enum(['ground-truth', 'llm']),
  /** Where it came from: prompt version, endpoint and model, seed, the rows shown and scored, the predicate. */
  provenance: z.record(z.string(), z.unknown()),
  confidence: z.number().nullable(),
  scores: z
    .object({
      detection: detectionScoreSchema,
      simulation: z.object({ r: z.number().nullable(), n: z.number().int(), reason: z.string().optional() }),
      scorer: z.string(),
    })
    .nullable(),
  status: z.enum(['suggested', 'accepted', 'edited', 'rejected']),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  createdAt: z.string(),
});
export type Explanation = z.infer<typeof explanationSchema>;

/** What a harvest reads and writes; its estimate needs exactly these. */
const harvestRequest = z.object({
  modelId: z.number().int().positive(),
  datasetId: z.number().int().positive(),
  taps: harvestParamsSchema.shape.taps,
  tokenKinds: harvestParamsSchema.shape.tokenKinds.default(['image', 'text']),
  dtype: z.enum(['fp16', 'fp32']).default('fp16'),
  limit: z.number().int().positive().nullable().default(null),
  maxNewTokens: z.number().int().min(1).max(4096).default(16),
});

const empty = z.object({}).strict();
const jobId = z.object({ id: z.number().int().positive() }).strict();
const folderPath = z.string().min(1).max(4096);

function channel<Req extends z.ZodType, Res extends z.ZodType>(def: { request: Req; response: Res; mutates: boolean; summary: string }) {
  return def;
}

export const contract = {
  'app.info': channel({
    request: empty,
    response: appInfoSchema,
    mutates: false,
    summary: 'Version, transport, read-only flag, open workspace and available job kinds.',
  }),
  'workspace.create': channel({
    // Path may be omitted when the server is pinned to a folder: then that folder is created.
    request: z.object({ path: folderPath.optional() }).strict(),
    response: workspaceInfoSchema,
    mutates: true,
    summary: 'Create a new workspace folder (workspace.sqlite + blobs/) and open it.',
  }),
  'workspace.open': channel({
    request: z.object({ path: folderPath.optional() }).strict(),
    response: workspaceInfoSchema,
    mutates: false,
    summary: 'Open an existing workspace, migrating it to the current schema.',
  }),
  'workspace.close': channel({
    request: empty,
    response: z.object({ closed: z.boolean() }),
    mutates: false,
    summary: 'Close the open workspace cleanly.',
  }),
  'workspace.recent': channel({
    request: empty,
    response: z.array(z.object({ path: z.string(), openedAt: z.string() })),
    mutates: false,
    summary: 'Recently opened workspaces, newest first.',
  }),
  'jobs.list': channel({
    request: z.object({ limit: z.number().int().min(1).max(1000).default(200) }).strict(),
    response: z.array(jobSchema),
    mutates: false,
    summary: 'Jobs in the open workspace, newest first.',
  }),
  'jobs.get': channel({
    request: jobId,
    response: jobSchema,
    mutates: false,
    summary: 'One job by id.',
  }),
  'jobs.start': channel({
    request: z.object({ kind: z.string().min(1).max(64), params: z.record(z.string(), z.unknown()).default({}) }).strict(),
    response: jobSchema,
    mutates: true,
    summary: 'Queue a job of a registered kind; its params are validated by the kind.',
  }),
  'jobs.cancel': channel({
    request: jobId,
    response: jobSchema,
    mutates: true,
    summary: 'Cancel a queued or running job.',
  }),
  'jobs.resume': channel({
    request: jobId,
    response: jobSchema,
    mutates: true,
    summary: 'Resume an interrupted, failed or cancelled job from its last checkpoint (resumable kinds only).',
  }),
  'models.list': channel({
    request: empty,
    response: z.array(modelRecordSchema),
    mutates: false,
    summary: 'Models registered in the workspace, with their inspection reports.',
  }),
  'models.add': channel({
    request: z.object({ path: folderPath, name: z.string().min(1).max(200).optional() }).strict(),
    response: modelRecordSchema,
    mutates: true,
    summary: 'Inspect a local model folder (or .onnx file) and register it; refused with the problems when it is unusable.',
  }),
  'models.download': channel({
    request: z
      .object({
        repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'a repository id looks like owner/name'),
        revision: z
          .string()
          .regex(/^[\w.-]+$/)
          .default('main'),
        dtype: z.enum(['fp32', 'fp16', 'q4', 'q4f16', 'int8', 'uint8', 'quantized', 'bnb4']).default('fp32'),
      })
      .strict(),
    response: jobSchema,
    mutates: true,
    summary: 'Start downloading an onnx-community export from the Hugging Face Hub into the workspace (the only network use).',
  }),
  'models.plan': channel({
    request: modelPlanOptionsSchema.extend({ id: z.number().int().positive() }).strict(),
    response: modelPlanSchema,
    mutates: false,
    summary: 'Estimate, from graphs and config alone, memory for weights, caches and prefill logits, and the disk a harvest takes.',
  }),
  'models.get': channel({
    request: z.object({ id: z.number().int().positive() }).strict(),
    response: modelRecordSchema,
    mutates: false,
    summary: 'One registered model.',
  }),
  'models.remove': channel({
    request: z.object({ id: z.number().int().positive() }).strict(),
    response: z.object({ removed: z.boolean() }),
    mutates: true,
    summary: 'Forget a registered model (its files are left alone).',
  }),
  'datasets.list': channel({
    request: empty,
    response: z.array(datasetSchema),
    mutates: false,
    summary: 'Datasets in the workspace.',
  }),
  'datasets.import': channel({
    request: z.object({ path: folderPath, name: z.string().min(1).max(200).optional() }).strict(),
    response: datasetSchema,
    mutates: true,
    summary:
      'Import a folder of images with a JSONL or CSV of questions and answers; all rows are checked first, nothing is half-imported.',
  }),
  'datasets.synth': channel({
    request: z
      .object({
        seed: z.number().int().min(0).default(0),
        perCell: z.number().int().min(1).max(5000).default(20),
        imageSize: z.number().int().min(48).max(512).default(96),
      })
      .strict(),
    response: jobSchema,
    mutates: true,
    summary: 'Generate the synthetic benchmark into the workspace and add it as a dataset (a job).',
  }),
  'datasets.filter': channel({
    request: z
      .object({
        analysisId: z.number().int().positive(),
        /** SAE-V scores: cross-modal (Algorithm 1), cooccurrence, l0 (Appendix B); random: a seeded share of the same size. */
        by: z.enum(['cross-modal', 'cooccurrence', 'l0', 'random']),
        keep: z.number().gt(0).max(1).default(0.5),
        /** A feature is active on a token when its activation exceeds this bound. */
        bound: z.number().min(0).default(0),
        seed: z.number().int().min(0).default(0),
      })
      .strict(),
    response: jobSchema,
    mutates: true,
    summary:
      "Keep the best-scoring share of an analysis's harvested items (SAE-V data filtering) as a new dataset in the workspace (a job).",
  }),
  'datasets.compare': channel({
    request: datasetCompareRequestSchema,
    response: jobSchema,
    mutates: true,
    summary:
      'Train SAEs on the SAE-V filtered share, a random share of the same size and all items; FVU, CE recovered and probe accuracy on held-out items, with CIs (a job).',
  }),
  'datasets.filterReport': channel({
    request: z.object({ datasetId: z.number().int().positive() }).strict(),
    response: z.object({
      filter: z.object({ method: z.string(), keep: z.number(), bound: z.number(), seed: z.number(), analysisId: z.number() }),
      candidates: z.number().int(),
      kept: z.number().int(),
      /** Every candidate item's score, and whether the filter kept it. */
      items: z.array(z.object({ key: z.string(), score: z.number(), kept: z.boolean() })),
    }),
    mutates: false,
    summary: "A filtered dataset's filter, its kept share and every candidate's score (from its dataset.json).",
  }),
  'datasets.mask': channel({
    request: z
      .object({
        analysisId: z.number().int().positive(),
        /** Patch scores (SAE-V Appendix C): l0, l1, cooccurrence, cross-modal; features: the chosen features' activation; random: the control. */
        methods: z
          .array(z.enum(['l0', 'l1', 'cooccurrence', 'cross-modal', 'features', 'random']))
          .min(1)
          .default(['l0', 'l1', 'cooccurrence', 'cross-modal', 'random']),
        keeps: z.array(z.number().gt(0).max(1)).min(1).max(10).default([0.75, 0.5, 0.25]),
        bound: z.number().min(0).default(0),
        features: z.array(z.number().int().min(0)).max(4096).default([]),
        seed: z.number().int().min(0).default(0),
        /** RGB painted over masked patches. */
        fill: z
          .tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)])
          .default([128, 128, 128]),
      })
      .strict(),
    response: jobSchema,
    mutates: true,
    summary:
      "Masked copies of an analysis's dataset: per patch score and keep share, the best patches kept and the rest painted over (a job).",
  }),
  'masks.compare': channel({
    request: z.object({ maskJobId: z.number().int().positive() }).strict(),
    response: z.object({
      modelPath: z.string(),
      /** Datasets of the masking (full images first) and the finished evaluation of each by the analysis's model, if any. */
      datasets: z.array(
        z.object({ method: z.string(), keep: z.number(), datasetId: z.number().int(), evalId: z.number().int().nullable() }),
      ),
      /** The comparison (core/masking/compare.ts), once every dataset has an evaluation; empty before. */
      rows: z.array(
        z.object({
          method: z.string(),
          keep: z.number(),
          n: z.number().int(),
          accuracy: z.number(),
          ci95: z.tuple([z.number(), z.number()]),
          vsRandom: z
            .object({ difference: z.number(), ci95: z.tuple([z.number(), z.number()]), p: z.number(), pHolm: z.number(), pBh: z.number() })
            .nullable(),
        }),
      ),
    }),
    mutates: false,
    summary:
      "A patch masking's datasets with their evaluations by the analysis's model, and the comparison against random patches once all are evaluated.",
  }),
  'datasets.remove': channel({
    request: jobId,
    response: z.object({ removed: z.boolean() }),
    mutates: true,
    summary: 'Remove a dataset and its evaluations from the workspace (image files are left alone).',
  }),
  'evals.start': channel({
    request: z
      .object({
        modelId: z.number().int().positive(),
        datasetId: z.number().int().positive(),
        maxNewTokens: z.number().int().min(1).max(8192).default(32),
        promptTemplate: z.string().includes('{question}', { message: 'the template must contain {question}' }).default('{question}'),
        batchSize: z.number().int().min(1).max(256).default(8),
        limit: z.number().int().positive().nullable().default(null),
        device: deviceSchema.default('auto'),
      })
      .strict(),
    response: z.object({ eval: evalRecordSchema, job: jobSchema }),
    mutates: true,
    summary: 'Evaluate a registered model on a dataset (a resumable job).',
  }),
  'evals.list': channel({
    request: empty,
    response: z.array(evalRecordSchema),
    mutates: false,
    summary: 'Evaluations in the workspace, newest first.',
  }),
  'evals.get': channel({
    request: jobId,
    response: evalSummarySchema,
    mutates: false,
    summary: 'Accuracy overall and per task, difficulty and answer type, with Wilson 95% CIs.',
  }),
  'evals.predictions': channel({
    request: z
      .object({
        id: z.number().int().positive(),
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(1000).default(100),
        onlyWrong: z.boolean().default(false),
      })
      .strict(),
    response: z.array(predictionSchema),
    mutates: false,
    summary: 'Predictions with raw outputs, extracted answers and grades.',
  }),
  'evals.export': channel({
    request: z.object({ id: z.number().int().positive(), format: z.enum(['csv', 'json']) }).strict(),
    response: z.object({ filename: z.string(), content: z.string() }),
    mutates: false,
    summary: 'An evaluation as CSV (one row per prediction) or JSON (summary and predictions).',
  }),
  'demo.start': channel({
    request: z
      .object({
        perCell: z.number().int().min(1).max(500).default(20),
        /** SAE training seeds: above 1, the experiment is replicated over that many SAEs (a replication). */
        seeds: z.number().int().min(1).max(10).default(1),
      })
      .strict(),
    response: z.object({ model: modelRecordSchema, job: jobSchema }),
    mutates: true,
    summary: 'Register the bundled demo model, generate the benchmark and, when it is ready, evaluate the model on it.',
  }),
  'harvests.start': channel({
    request: harvestRequest
      .extend({
        batchSize: z.number().int().min(1).max(256).default(8),
        shardRows: z.number().int().min(1).default(65536),
        device: deviceSchema.default('auto'),
      })
      .strict(),
    response: z.object({
      harvest: harvestRecordSchema,
      job: jobSchema,
      estimate: z.object({ bytes: z.number(), freeBytes: z.number().nullable() }),
    }),
    mutates: true,
    summary:
      'Harvest activations at chosen taps over a dataset into shards (a resumable job); refused when the estimate exceeds free disk.',
  }),
  'harvests.estimate': channel({
    request: harvestRequest.strict(),
    response: z.object({ bytes: z.number(), freeBytes: z.number().nullable() }),
    mutates: false,
    summary: 'Disk space a harvest would take, and the free space of the workspace disk.',
  }),
  'harvests.list': channel({
    request: empty,
    response: z.array(harvestRecordSchema),
    mutates: false,
    summary: 'Harvests in the workspace with their row counts and activation statistics.',
  }),
  'saes.list': channel({
    request: empty,
    response: z.array(saeRecordSchema),
    mutates: false,
    summary: 'SAEs and transcoders in the workspace (trained or imported), with their spliced-in evaluation when run.',
  }),
  'saes.estimate': channel({
    request: saeTrainRequestSchema.strict(),
    response: saeTrainEstimateSchema,
    mutates: false,
    summary: 'Size, memory and (once a run has measured this machine) time of a training run before it starts.',
  }),
  'saes.train': channel({
    request: saeTrainRequestSchema.strict(),
    response: jobSchema,
    mutates: true,
    summary: 'Train an SAE or transcoder on taps of a harvest (a resumable job).',
  }),
  'saes.metrics': channel({
    request: z.object({ jobId: z.number().int().positive(), afterStep: z.number().int().min(-1).default(-1) }).strict(),
    response: z.array(trainMetricsSchema),
    mutates: false,
    summary: "A training run's logged metrics after a step (for live curves).",
  }),
  'saes.evaluate': channel({
    request: saeEvalRequestSchema.strict(),
    response: jobSchema,
    mutates: true,
    summary: 'Splice an SAE into its model: cross-entropy increase, CE loss recovered vs zero-ablation, accuracy change (a job).',
  }),
  'circuits.list': channel({
    request: empty,
    response: z.array(circuitSummarySchema),
    mutates: false,
    summary: 'Attribution graphs saved in the workspace (one per trace job), newest first.',
  }),
  'circuits.get': channel({
    request: circuitGetRequestSchema,
    response: circuitViewSchema,
    mutates: false,
    summary: "A saved attribution graph pruned to the features carrying a share of the output's influence, with its image and tokens.",
  }),
  'circuits.attention': channel({
    request: circuitAttentionRequestSchema,
    response: circuitAttentionSchema,
    mutates: false,
    summary: "A saved graph's attention from the answer position to the image patches: one layer's heads, or the rollout.",
  }),
  'circuits.items': channel({
    request: circuitItemsRequestSchema,
    response: z.array(circuitItemSchema),
    mutates: false,
    summary: "A dataset's items to trace (question, task, reference answer), a page at a time.",
  }),
  'circuits.trace': channel({
    request: circuitTraceStartSchema,
    response: jobSchema,
    mutates: true,
    summary: 'Trace an attribution graph for one image and prompt through a transcoder set and save it (a job).',
  }),
  'circuits.exportNeuronpedia': channel({
    request: circuitExportRequestSchema,
    response: circuitExportSchema,
    mutates: false,
    summary: "A saved attribution graph as Neuronpedia's graph JSON (circuit-tracer's format; image patches listed in its metadata).",
  }),
  'circuits.trainSet': channel({
    request: transcoderSetRequestSchema.strict(),
    response: jobSchema,
    mutates: true,
    summary: 'Train a transcoder per decoder layer (hook_mlp_in -> hook_mlp_out) with shared settings (a resumable job).',
  }),
  'circuits.checkReplacement': channel({
    request: replacementCheckRequestSchema.strict(),
    response: jobSchema,
    mutates: true,
    summary:
      "Run the model with every MLP replaced by the set's transcoders (errors kept / dropped): answer CE and accuracy vs clean (a job).",
  }),
  'circuits.patch': channel({
    request: circuitPatchRequestSchema,
    response: jobSchema,
    mutates: true,
    summary:
      "Patch chosen features' (or a saved graph's nodes') activations from prompt A into prompt B over a dataset's pairs: B's answer vs random-feature controls (a job).",
  }),
  'analyses.start': channel({
    request: analysisRequestSchema.strict(),
    response: z.object({ analysis: analysisRecordSchema, job: jobSchema }),
    mutates: true,
    summary: "Analyse an SAE's features over a harvest (streaming over its shards; a job).",
  }),
  'analyses.list': channel({
    request: empty,
    response: z.array(analysisRecordSchema),
    mutates: false,
    summary: 'Feature analyses in the workspace.',
  }),
  'features.list': channel({
    request: z
      .object({
        analysisId: z.number().int().positive(),
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(1000).default(200),
        sort: featureSortSchema.default('feature'),
        order: z.enum(['asc', 'desc']).default('asc'),
        search: z.string().max(200).default(''),
        status: labelStatusSchema.nullable().default(null),
      })
      .strict(),
    response: z.object({ total: z.number().int(), features: z.array(featureRowSchema) }),
    mutates: false,
    summary: 'A window of the feature list, sorted and filtered (search matches labels, tags and feature ids).',
  }),
  'features.get': channel({
    request: z.object({ analysisId: z.number().int().positive(), feature: z.number().int().min(0) }).strict(),
    response: featureDetailSchema,
    mutates: false,
    summary: 'A feature page: statistics, histogram, logit effects, top examples with patch heatmaps and text contexts, label.',
  }),
  'labels.set': channel({
    request: featureLabelSchema.omit({ updatedAt: true }).extend({ saeId: z.number().int().positive() }).strict(),
    response: featureLabelSchema,
    mutates: true,
    summary: 'Label a feature (text, tags, confidence, status, annotator); the previous value goes to its history.',
  }),
  'labels.history': channel({
    request: z.object({ saeId: z.number().int().positive(), feature: z.number().int().min(0) }).strict(),
    response: z.array(featureLabelSchema.extend({ source: z.string() })),
    mutates: false,
    summary: "Every change to a feature's label, newest first.",
  }),
  'labels.export': channel({
    request: z.object({ saeId: z.number().int().positive(), format: z.enum(['json', 'csv']) }).strict(),
    response: z.object({ filename: z.string(), content: z.string() }),
    mutates: false,
    summary: "An SAE's labels as JSON or CSV, to merge several annotators' work.",
  }),
  'labels.import': channel({
    request: z
      .object({
        saeId: z.number().int().positive(),
        format: z.enum(['json', 'csv']),
        content: z.string().max(50_000_000),
        /** For features listed here, take the imported label over ours; other conflicts are only reported. */
        takeTheirs: z.array(z.number().int().min(0)).default([]),
      })
      .strict(),
    response: z.object({ applied: z.number().int(), unchanged: z.number().int(), conflicts: z.array(labelConflictSchema) }),
    mutates: true,
    summary: 'Import labels: new and identical ones merge; differing ones are listed as conflicts, never silently overwritten.',
  }),
  'experiments.start': channel({
    request: experimentSpecSchema,
    response: z.object({ experiment: experimentRecordSchema, job: jobSchema }),
    mutates: true,
    summary: 'Run a steering / ablation experiment with its controls (a resumable job); the full spec, seeds and version are stored.',
  }),
  'experiments.list': channel({
    request: empty,
    response: z.array(experimentRecordSchema),
    mutates: false,
    summary: 'Experiments with their results.',
  }),
  'replications.start': channel({
    request: z
      .object({
        /** The experiment to replicate; its saeId and analysisId are replaced by each run's. */
        spec: experimentSpecSchema,
        runs: z
          .array(z.object({ saeId: z.number().int().positive(), analysisId: z.number().int().positive() }))
          .min(2)
          .max(20),
      })
      .strict(),
    response: z.object({ replication: replicationRecordSchema, jobs: z.array(jobSchema) }),
    mutates: true,
    summary: 'Run one experiment over SAEs trained with different seeds (one job each); the replication reports each effect across seeds.',
  }),
  'replications.list': channel({
    request: empty,
    response: z.array(replicationRecordSchema),
    mutates: false,
    summary: "Experiments replicated across SAE seeds, with each effect's per-seed values, range, median and t interval.",
  }),
  'experiments.outputs': channel({
    request: z
      .object({
        id: z.number().int().positive(),
        condition: z.string().optional(),
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(1000).default(200),
      })
      .strict(),
    response: z.array(experimentOutputSchema),
    mutates: false,
    summary: "Per-item outputs of an experiment's conditions, for drill-down against the baseline.",
  }),
  'experiments.export': channel({
    request: z.object({ id: z.number().int().positive(), format: z.enum(['json', 'csv', 'html']) }).strict(),
    response: z.object({ filename: z.string(), content: z.string() }),
    mutates: false,
    summary: 'An experiment as JSON, CSV, or a self-contained HTML report that opens offline.',
  }),
  'probes.start': channel({
    request: probeSpecSchema.strict(),
    response: z.object({ probe: probeRecordSchema, job: jobSchema }),
    mutates: true,
    summary: 'Linear probes per harvested layer for a label, with held-out accuracy and a shuffled-label baseline (a job).',
  }),
  'probes.list': channel({
    request: empty,
    response: z.array(probeRecordSchema),
    mutates: false,
    summary: 'Probe runs with their per-layer accuracy.',
  }),
  'runtime.diagnostics': channel({
    request: empty,
    response: runtimeDiagnosticsSchema,
    mutates: false,
    summary: 'What the ONNX Runtime pool sees: CUDA provider installed or not, CUDA/cuDNN libraries found, GPUs.',
  }),
  'features.examples': channel({
    request: z
      .object({
        analysisId: z.number().int().positive(),
        feature: z.number().int().min(0),
        modality: z.enum(['any', 'image', 'text']).default('any'),
        /** null: the top of the ranking; an index into the result's intervals: a seeded random sample from it. */
        interval: z.number().int().min(0).max(15).nullable().default(null),
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(60).default(12),
      })
      .strict(),
    response: featureExamplesResultSchema,
    mutates: false,
    summary: "A feature's examples by modality, top-ranked or sampled from quantile intervals of its activations, a page at a time.",
  }),
  'features.nearest': channel({
    request: z
      .object({ analysisId: z.number().int().positive(), feature: z.number().int().min(0), n: z.number().int().min(1).max(50).default(8) })
      .strict(),
    response: z.array(nearestFeatureSchema),
    mutates: false,
    summary: 'The features whose decoder directions are closest to this one (cosine similarity).',
  }),
  'features.searchContent': channel({
    request: z
      .object({
        analysisId: z.number().int().positive(),
        /** `token:red`, `promotes:red`, `suppresses:red`, or a benchmark attribute: `color:red`, `shape:triangle`, `size:large`. */
        query: z.string().min(3).max(200),
        limit: z.number().int().min(1).max(500).default(200),
      })
      .strict(),
    response: z.object({ kind: z.enum(contentQueryKinds), value: z.string(), features: z.array(contentMatchSchema) }),
    mutates: false,
    summary:
      'Features by what they respond to: a token in their top examples, a ground-truth attribute under their patches, a token their logit effects promote.',
  }),
  'labels.review': channel({
    request: z
      .object({
        saeId: z.number().int().positive(),
        feature: z.number().int().min(0),
        verdict: z.enum(['agree', 'disagree']),
        annotator: z.string().min(1).max(200),
      })
      .strict(),
    response: featureLabelSchema,
    mutates: true,
    summary: "Agree or disagree with another annotator's label (recorded in its history; disagreeing marks it for review).",
  }),
  'experiments.plan': channel({
    request: z
      .object({
        datasetId: z.number().int().positive(),
        tasks: z.array(z.string()).nullable().default(null),
        limit: z.number().int().positive().nullable().default(null),
      })
      .strict(),
    response: experimentPlanSchema,
    mutates: false,
    summary: "A dataset's task types and how many items of each an experiment with these tasks and limit would run (stratified).",
  }),
  'inputs.probe': channel({
    request: probeInputRequestSchema.strict(),
    response: probeInputResultSchema,
    mutates: false,
    summary:
      "Run the model with the SAE on your own image and prompt: a feature's activation on every patch and token, and the input's top features.",
  }),
  'autointerp.endpoint': channel({
    request: empty,
    response: chatEndpointSchema.nullable(),
    mutates: false,
    summary: 'The chat endpoint (URL and model) auto-interpretation uses, or null when none is set.',
  }),
  'autointerp.setEndpoint': channel({
    request: z.object({ endpoint: chatEndpointSchema.nullable() }).strict(),
    response: chatEndpointSchema.nullable(),
    mutates: true,
    summary: 'Set (or clear) the OpenAI-compatible chat endpoint auto-interpretation uses.',
  }),
  'explanations.start': channel({
    request: explainRequestSchema,
    response: z.object({ job: jobSchema }),
    mutates: true,
    summary: 'Explain features of an analysis (ground truth or chat endpoint) and score the explanations (detection, simulation).',
  }),
  'explanations.list': channel({
    request: z
      .object({
        saeId: z.number().int().positive(),
        feature: z.number().int().min(0).nullable().default(null),
        status: z.enum(['suggested', 'accepted', 'edited', 'rejected']).nullable().default(null),
      })
      .strict(),
    response: z.array(explanationSchema),
    mutates: false,
    summary: "An SAE's explanation suggestions (newest first), optionally for one feature or one status.",
  }),
  'explanations.decide': channel({
    request: z
      .object({
        id: z.number().int().positive(),
        action: z.enum(['accept', 'edit', 'reject']),
        annotator: z.string().min(1).max(200),
        /** The edited text (action `edit` only). */
        text: z.string().min(1).max(2000).optional(),
      })
      .strict()
      .refine((r) => (r.action === 'edit') === (r.text !== undefined), { message: 'give text with edit, and only with edit' }),
    response: z.object({ explanation: explanationSchema, label: featureLabelSchema.nullable() }),
    mutates: true,
    summary: "Accept a suggestion as the feature's label, accept it edited, or reject it (recorded with its provenance).",
  }),
  'diffs.start': channel({
    request: modelDiffRequestSchema,
    response: jobSchema,
    mutates: true,
    summary:
      'Model diffing: a base model and its fine-tune (one architecture) over the same items through one SAE: FVU, feature changes, tasks whose accuracy changed (a job).',
  }),
  'studies.export': channel({
    request: empty,
    response: z.object({ filename: z.string(), content: z.string() }),
    mutates: false,
    summary: "The workspace's explanations, data filters, patch maskings and model diffs as one self-contained HTML report.",
  }),
  'inputs.steer': channel({
    request: steerInputRequestSchema.strict(),
    response: steerInputResultSchema,
    mutates: false,
    summary: 'Generate an answer to your own image and prompt with one feature scaled or its direction added, next to the unedited answer.',
  }),
};

export type Contract = typeof contract;
export type Channel = keyof Contract;
export type RequestOf<C extends Channel> = z.input<Contract[C]['request']>;
export type ParsedRequestOf<C extends Channel> = z.output<Contract[C]['request']>;
export type ResponseOf<C extends Channel> = z.output<Contract[C]['response']>;

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(contract, name);
}

/** Events pushed from the backend to every connected renderer. */
export type BackendEvent = { type: 'job.updated'; job: Job } | { type: 'workspace.changed'; workspace: WorkspaceInfo | null };

/** Error shape that crosses both transports. `code` lets the UI react without parsing text. */
export type ContractErrorCode =
  'invalid_request' | 'unknown_channel' | 'read_only' | 'not_found' | 'conflict' | 'workspace' | 'internal' | 'unauthorized';
export interface ContractErrorPayload {
  code: ContractErrorCode;
  message: string;
}
