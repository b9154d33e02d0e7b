/**
 * Metrics at a log step, from the last step of a chunk (as SAELens logs): the chunk graph's per-step
 * losses, FVU per token modality over the rows sampled in that step, and the shares of dead and
 * dense features from the firing bookkeeping carried in the training state.
 */
import type { TrainMetrics } from './train-metrics.js';
import type { STEP_OUTPUTS } from './train-graph.js';

/** A feature firing on more than this share of tokens counts as dense. */
export const DENSE_SHARE = 0.1;

/** Token modalities, in the order of the codes the trainer keeps per row (one byte a row). */
export const MODALITIES = ['image', 'text', 'generated'] as const;

/** Each row's squared distance to the mean target: the denominator of per-modality FVU. */
export function rowVariance(target: Float32Array, rows: number, width: number, mean: Float32Array): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let i = 0; i < width; i++) out[r]! += (target[r * width + i]! - mean[i]!) ** 2;
  return out;
}

/** FVU per modality: Σ SSE / Σ variance over the batch's rows of that modality (null when it has none); rowVar is per batch slot. */
export function fvuByModality(
  rowSse: Float32Array,
  picked: ArrayLike<number>,
  modalityOf: (row: number) => string | undefined,
  rowVar: Float64Array,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const kind of MODALITIES) {
    let sse = 0;
    let sst = 0;
    for (let b = 0; b < rowSse.length; b++) {
      if (modalityOf(picked[b]!) !== kind) continue;
      sse += rowSse[b]!;
      sst += rowVar[b]!;
    }
    out[kind] = sst > 0 ? sse / sst : null;
  }
  return out;
}

/** Share of features that have not fired for `deadAfter` steps (none before that many steps have run). */
export function deadShare(lastFired: Float32Array, step: number, deadAfter: number): number {
  return step >= deadAfter ? lastFired.filter((s) => step - s >= deadAfter).length / lastFired.length : 0;
}

/** Share of features firing on more than DENSE_SHARE of the `tokens` seen since the last log. */
export function denseShare(fireCounts: Float32Array, tokens: number): number {
  return fireCounts.filter((c) => c / tokens > DENSE_SHARE).length / fireCounts.length;
}

export interface LogInput {
  step: number;
  /** The chunk's per-step outputs (loss, mse, …) and per-row SSE, K steps of B rows. */
  out: Record<string, { data: unknown }>;
  K: number;
  B: number;
  /** Each drawn slot's harvest row, and each row's modality. */
  picked: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> };
  modalityOf: (row: number) => string | undefined;
  /** The chunk's targets [K, B, width] (as trained: scaled) and the mean target, for the variance of the logged step's rows. */
  targets: Float32Array;
  mean: Float32Array;
  lastFired: Float32Array;
  fireCounts: Float32Array;
  logEvery: number;
  deadAfterSteps: number;
  lr: number;
}

/** The metrics logged at `step`, the end of a chunk. */
export function logMetrics(x: LogInput): TrainMetrics {
  const last = x.K - 1;
  const stepValue = (o: (typeof STEP_OUTPUTS)[number]) => (x.out[o]!.data as Float32Array)[last]!;
  const rowSse = (x.out.row_sse!.data as Float32Array).subarray(last * x.B, (last + 1) * x.B);
  // Tokens seen since the previous log step (the last interval may be shorter).
  const counted = (x.step - Math.floor((x.step - 1) / x.logEvery) * x.logEvery) * x.B;
  const width = x.mean.length;
  const rowVar = rowVariance(x.targets.subarray(last * x.B * width, (last + 1) * x.B * width), x.B, width, x.mean);
  return {
    step: x.step,
    loss: stepValue('loss'),
    mse: stepValue('mse'),
    l1: stepValue('l1'),
    aux: stepValue('aux'),
    fvu: stepValue('fvu'),
    fvuByModality: fvuByModality(rowSse, x.picked.subarray(last * x.B, (last + 1) * x.B), x.modalityOf, rowVar),
    l0: stepValue('l0'),
    deadFraction: deadShare(x.lastFired, x.step, x.deadAfterSteps),
    denseFraction: denseShare(x.fireCounts, counted),
    lr: x.lr,
  };
}
