/**
 * What each job kind returns when it succeeds: a schema per kind, checked in the worker before the
 * result is stored (a kind returning something else fails its job), and read back typed with
 * `jobResult(job, kind)` instead of a cast. Importable by the renderer: zod and the contract only.
 */
import { z } from 'zod';
import {
  analysisSummarySchema,
  datasetComparisonSchema,
  harvestRecordSchema,
  probeResultsSchema,
  replacementCheckSchema,
  circuitPatchResultSchema,
  saeEvaluationSchema,
  transcoderSetLayerSchema,
  trainMetricsSchema,
  type Job,
} from './contract.js';
import { modelDiffResultSchema } from './model-diff.js';

export const jobResults = {
  selftest: z.object({
    steps: z.number().int(),
    resumedFromStep: z.number().int(),
    threadId: z.number().int(),
    isMainThread: z.boolean(),
    workspace: z.object({ integrity: z.string(), blobRoundTrip: z.boolean() }),
  }),
  'dataset-synth': z.object({ datasetId: z.number().int(), items: z.number().int(), path: z.string() }),
  'patch-mask': z.object({
    sourceDatasetId: z.number().int(),
    masked: z.array(z.object({ method: z.string(), keep: z.number(), datasetId: z.number().int() })),
  }),
  'dataset-compare': datasetComparisonSchema,
  'dataset-filter': z.object({ datasetId: z.number().int(), path: z.string(), kept: z.number().int(), candidates: z.number().int() }),
  evaluate: z.object({ evalId: z.number().int(), items: z.number().int(), accuracy: z.number().nullable() }),
  harvest: z.object({ harvestId: z.number().int(), items: z.number().int(), rows: harvestRecordSchema.shape.rows }),
  'sae-train': z.object({
    saeId: z.number().int(),
    steps: z.number().int(),
    activationScale: z.object({ input: z.number(), output: z.number() }),
    final: trainMetricsSchema.nullable(),
    history: z.array(trainMetricsSchema),
  }),
  'sae-eval': z.object({ saeId: z.number().int(), evaluation: saeEvaluationSchema }),
  analyze: analysisSummarySchema.omit({ histogramEdges: true }).extend({ analysisId: z.number().int() }),
  probe: probeResultsSchema.extend({ probeId: z.number().int() }),
  experiment: z.object({ experimentId: z.number().int(), conditions: z.number().int(), items: z.number().int() }),
  'vlm-generate': z.object({
    family: z.string(),
    outputs: z.array(
      z.object({ image: z.string(), prompt: z.string(), text: z.string(), tokenIds: z.array(z.number().int()), finishReason: z.string() }),
    ),
    hitTokenLimit: z.number().int(),
  }),
  explain: z.object({ analysisId: z.number().int(), saeId: z.number().int(), features: z.number().int(), explained: z.number().int() }),
  'transcoder-set': z.object({ setId: z.number().int(), layers: z.array(transcoderSetLayerSchema) }),
  'replacement-check': replacementCheckSchema,
  'circuit-trace': z.object({
    circuitId: z.number().int(),
    file: z.string(),
    method: z.string(),
    nodes: z.number().int(),
    edges: z.number().int(),
    target: z.string(),
    outputValue: z.number(),
    seconds: z.object({ capture: z.number(), attribution: z.number(), attention: z.number() }),
  }),
  'circuit-patch': circuitPatchResultSchema,
  'model-download': z.object({ path: z.string(), files: z.array(z.string()), bytes: z.number() }),
  'model-diff': modelDiffResultSchema,
} as const;

export type JobKindName = keyof typeof jobResults;
export type JobResultOf<K extends JobKindName> = z.output<(typeof jobResults)[K]>;

/** A succeeded job's result, typed by its kind; refuses a job of another kind or one without a result. */
export function jobResult<K extends JobKindName>(job: Job, kind: K): JobResultOf<K> {
  if (job.kind !== kind) throw new Error(`Job ${job.id} is a ${job.kind} job, not ${kind}.`);
  if (job.state !== 'succeeded')
    throw new Error(`Job ${job.id} (${kind}) has no result: it ${job.state}${job.error ? `: ${job.error}` : ''}.`);
  return jobResults[kind].parse(job.result) as JobResultOf<K>;
}
