import type { JobKind } from './job-kind.js';
import { analyzeJob } from './kinds/analyze.js';
import { datasetFilterJob } from './kinds/dataset-filter.js';
import { datasetCompareJob } from './kinds/dataset-compare.js';
import { patchMaskJob } from './kinds/patch-mask.js';
import { datasetSynthJob } from './kinds/dataset-synth.js';
import { evaluateJob } from './kinds/evaluate.js';
import { experimentJob } from './kinds/experiment.js';
import { explainJob } from './kinds/explain.js';
import { harvestJob } from './kinds/harvest.js';
import { saeEvalJob } from './kinds/sae-eval.js';
import { saeTrainJob } from './kinds/sae-train.js';
import { modelDownloadJob } from './kinds/model-download.js';
import { probeJob } from './kinds/probe.js';
import { selftestJob } from './kinds/selftest.js';
import { vlmGenerateJob } from './kinds/vlm-generate.js';
import { transcoderSetJob } from './kinds/transcoder-set.js';
import { replacementCheckJob } from './kinds/replacement-check.js';
import { circuitTraceJob } from './kinds/circuit-trace.js';
import { circuitPatchJob } from './kinds/circuit-patch.js';
import { modelDiffJob } from './kinds/model-diff.js';

// Params differ per kind; each kind validates its own with its zod schema before run() sees them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of kinds with different params and results
export type AnyJobKind = JobKind<any, any>;

/** Every job kind Ocular knows. The backend validates params with these; the worker runs them. */
const KINDS: readonly AnyJobKind[] = [
  selftestJob,
  modelDownloadJob,
  vlmGenerateJob,
  datasetSynthJob,
  datasetFilterJob,
  datasetCompareJob,
  patchMaskJob,
  evaluateJob,
  harvestJob,
  saeTrainJob,
  saeEvalJob,
  analyzeJob,
  experimentJob,
  probeJob,
  explainJob,
  transcoderSetJob,
  replacementCheckJob,
  circuitTraceJob,
  circuitPatchJob,
  modelDiffJob,
];

export function jobKinds(): readonly AnyJobKind[] {
  return KINDS;
}

export function findJobKind(kind: string): AnyJobKind | undefined {
  return KINDS.find((k) => k.kind === kind);
}
