/**
 * The training loop, as SAELens's trainer is split: chunks of steps run in the session pool
 * (train-step.ts samples and feeds them), metrics are logged at log steps (train-log.ts) and the
 * state is checkpointed (train-checkpoint.ts). The weights and Adam moments stay in the pool process
 * between calls and are read back only where needed: firing bookkeeping at log steps, everything at
 * checkpoints. Rows arrive through the shuffle buffer, scaled (see normalize.ts; scales are the
 * caller's); its position is checkpointed with the weights, so a resumed run draws the rows the
 * uninterrupted one did and ends with its weights bit for bit.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OcularError } from '../errors.js';
import { throwIfCancelled } from '../jobs/job-kind.js';
import { encodeModel } from '../onnx/model-io.js';
import { validateModel } from '../onnx/validate.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device } from '../runtime/pool-protocol.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import { sparseEncodeGraph, sparseTrainable } from './sparse-train.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { ShuffleBuffer } from '../harvest/shuffle-buffer.js';
import { writeCheckpoint, type TrainState } from './train-checkpoint.js';
import { saeTrainChunkGraph, stateDims, stateNames, type SaeTrainSpec } from './train-graph.js';
import { logMetrics } from './train-log.js';
import type { TrainMetrics } from './train-metrics.js';
import { ChunkSampler, checkpointsAt, chunkLength, learningRate, logsAt, type Schedule } from './train-step.js';

export interface TrainOptions extends Schedule {
  batchSize: number;
  lr: number;
  warmup: number;
  decay: 'cosine' | 'none';
  deadAfterSteps: number;
  seed: number;
  device: Device;
}

export interface TrainData {
  /** The shuffled stream of (input, target) rows, scaled, at the run's position. */
  rows: ShuffleBuffer;
  /** The mean (scaled) target row, for per-modality FVU. */
  mean: Float32Array;
  /** Each harvest row's token modality. */
  modalityOf: (row: number) => string | undefined;
}

export interface TrainerContext {
  pool: PoolClient;
  signal: AbortSignal;
  /** Where the content-hashed training graph is cached. */
  graphCache: string;
  checkpointDir: string;
  /** A key unique to this run for the state carried in the pool process. */
  carryKey: string;
  scales: { scaleIn: number; scaleOut: number };
  onLog(m: TrainMetrics): void;
  onCheckpoint(step: number): void;
}

/** The chunk graph written once into the graph cache, named by its content, so a changed graph never reuses a stale file. */
export function trainGraphFile(spec: SaeTrainSpec, cacheDir: string): string {
  const graph = saeTrainChunkGraph(spec);
  validateModel(graph, 'the SAE training graph');
  fs.mkdirSync(cacheDir, { recursive: true });
  const bytes = encodeModel(graph);
  const file = path.join(cacheDir, `sae-train-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.onnx`);
  if (!fs.existsSync(file)) writeFileAtomic(file, bytes);
  return file;
}

/** The sparse step's encoder graph (sparse-train.ts), cached as trainGraphFile's. */
export function sparseEncodeFile(spec: SaeTrainSpec, cacheDir: string): string {
  const graph = sparseEncodeGraph(spec);
  validateModel(graph, 'the sparse SAE encoder graph');
  fs.mkdirSync(cacheDir, { recursive: true });
  const bytes = encodeModel(graph);
  const file = path.join(cacheDir, `sae-sparse-encode-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.onnx`);
  if (!fs.existsSync(file)) writeFileAtomic(file, bytes);
  return file;
}

/**
 * TopK / BatchTopK on CPU train with the sparse kernels in the pool process (one dense product
 * per step); ReLU, GPU sessions and OCULAR_SPARSE_TRAIN=0 run the ONNX chunk graph, whose step is
 * the same mathematics with dense products.
 */
async function loadStep(ctx: TrainerContext, spec: SaeTrainSpec, device: Device): Promise<{ session: SessionHandle; sparse: boolean }> {
  if (sparseTrainable(spec) && device !== 'cuda' && process.env.OCULAR_SPARSE_TRAIN !== '0') {
    const session = await ctx.pool.load(sparseEncodeFile(spec, ctx.graphCache), device);
    if (session.executionProvider === 'cpu') return { session, sparse: true };
  }
  return { session: await ctx.pool.load(trainGraphFile(spec, ctx.graphCache), device), sparse: false };
}

/** Train from `state` at `step` to o.steps; `state` is updated in place. Returns the last metrics logged here. */
export async function train(
  ctx: TrainerContext,
  spec: SaeTrainSpec,
  o: TrainOptions,
  data: TrainData,
  state: TrainState,
  startStep: number,
): Promise<TrainMetrics | null> {
  const dims = stateDims(spec);
  const names = stateNames(spec);
  const { session, sparse } = await loadStep(ctx, spec, o.device);
  const B = Math.min(o.batchSize, data.rows.layout.rows);
  const sampler = new ChunkSampler(spec, B, o.stepsPerCall, data.rows);
  const checkpoint = (step: number) => {
    const shuffle = { layout: data.rows.layout, position: data.rows.position };
    writeCheckpoint(ctx.checkpointDir, { step, ...ctx.scales, state, shuffle }, names, dims);
    ctx.onCheckpoint(step);
  };
  let step = startStep;
  let final: TrainMetrics | null = null;
  let sendState = [...names];
  try {
    while (step < o.steps) {
      throwIfCancelled(ctx.signal);
      const K = chunkLength(step, o);
      await sampler.sample(K);
      const lrs = Float32Array.from({ length: K }, (_, j) => learningRate(step + j, o.steps, o.lr, o.warmup, o.decay));
      const feeds = sampler.feeds(K, step, lrs, o.deadAfterSteps);
      // The state is sent once (and bookkeeping reset after a log); the pool process carries it between calls.
      for (const name of sendState) feeds[`in_${name}`] = { type: 'float32', dims: dims[name]!, data: state[name]! };
      sendState = [];
      const keep = checkpointsAt(step + K, o) ? names : logsAt(step + K, o) ? ['last_fired', 'fire_counts'] : [];
      const out = await ctx.pool.run(session, feeds, undefined, {
        key: ctx.carryKey,
        pairs: names.map((nm) => [`out_${nm}`, `in_${nm}`]),
        keep: keep.map((nm) => `out_${nm}`),
        ...(sparse ? { sparse: spec } : {}),
      });
      for (const name of keep) state[name] = out[`out_${name}`]!.data as Float32Array;
      step += K;
      if (logsAt(step, o)) {
        final = logMetrics({
          step,
          out,
          K,
          B,
          picked: sampler.picked,
          modalityOf: data.modalityOf,
          targets: sampler.ys,
          mean: data.mean,
          lastFired: state.last_fired!,
          fireCounts: state.fire_counts!,
          logEvery: o.logEvery,
          deadAfterSteps: o.deadAfterSteps,
          lr: lrs[K - 1]!,
        });
        state.fire_counts!.fill(0);
        sendState.push('fire_counts');
        if (!Number.isFinite(final.loss))
          throw new OcularError('internal', `Training diverged at step ${step} (loss ${final.loss}); lower the learning rate.`);
        ctx.onLog(final);
      }
      if (step % o.checkpointEvery === 0) checkpoint(step);
    }
  } finally {
    await ctx.pool.dropCarry(session, ctx.carryKey).catch(() => undefined);
  }
  checkpoint(step);
  return final;
}
