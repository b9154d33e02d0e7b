/**
 * SAE / transcoder training defaults, in one place: the request schema (contract.ts) takes its
 * `.default()`s from here, and the training wizard and `ocular train --help` show the same values.
 * No zod here, so the renderer can import it without the schema library.
 */
export const SAE_TRAIN_DEFAULTS = {
  architecture: 'topk',
  expansion: 8,
  k: 32,
  l1Coefficient: 5,
  auxCoefficient: 1 / 32,
  deadAfterSteps: 200,
  bDecInit: 'geometric-median',
  normalizeActivations: 'expected_average_only_in',
  steps: 2000,
  batchSize: 1024,
  lr: 4e-4,
  decay: 'cosine',
  seed: 0,
  checkpointEvery: 250,
  logEvery: 50,
  stepsPerCall: 8,
  /** The shuffle buffer training draws rows through (MiB): the training data's share of memory, whatever the harvest's size. */
  shuffleBufferMb: 256,
} as const;
