/**
 * Train an SAE (ReLU + L1, TopK or BatchTopK) or a transcoder on taps of a harvest. Chunks of steps
 * run as one ONNX Loop call (core/sae/train-graph.ts) in the shared session pool; the job samples
 * batches, carries the state between chunks, logs metrics to the workspace and checkpoints state
 * (safetensors), so an interrupted run resumes from its last checkpoint without losing completed
 * steps. The trained SAE is stored in the workspace as a SAELens folder.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type z } from 'zod';
import { saeTrainRequestSchema } from '../../../contract/contract.js';
import { OcularError } from '../../errors.js';
import { HarvestStore, streamOf } from '../../harvest/harvest-store.js';
import { encodeModel } from '../../onnx/model-io.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { validateModel } from '../../onnx/validate.js';
import { geometricMedian, initialWeights, meanOf } from '../../sae/init.js';
import { activationScale, foldScale, scaleInPlace } from '../../sae/normalize.js';
import { readSafetensors, writeSafetensors, type Tensor } from '../../sae/safetensors.js';
import { SaeStore, type SaeRecord } from '../../sae/sae-store.js';
import { TrainMetricsStore, type TrainMetrics } from '../../sae/train-metrics.js';
import {
  SAE_PARAMS,
  type STEP_OUTPUTS,
  saeTrainChunkGraph,
  stateDims,
  stateNames,
  trainSpec,
  type SaeTrainSpec,
} from '../../sae/train-graph.js';
import { openWorkerDb, type Db } from '../../store/sqlite.js';
import { DB_FILE } from '../../store/workspace.js';
import { mulberry32 } from '../../util/random.js';
import { throwIfCancelled, type JobContext, type JobKind } from '../job-kind.js';

export const saeTrainParams = saeTrainRequestSchema.strict();
export type SaeTrainParams = z.infer<typeof saeTrainParams>;

/** Learning rate at a step: linear warmup, then cosine decay to a tenth (or constant). */
export function learningRate(step: number, total: number, base: number, warmup: number, decay: 'cosine' | 'none'): number {
  if (warmup > 0 && step < warmup) return (base * (step + 1)) / warmup;
  if (decay === 'none') return base;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return base * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** A feature firing on more than this share of tokens counts as dense. */
const DENSE_SHARE = 0.1;

/**
 * Where one training run keeps its state: the sae-train job uses its job id for all of it; a
 * transcoder set (transcoder-set.ts) runs one per layer inside its own job.
 */
export interface TrainScope {
  checkpointDir: string;
  /** The run's last saved checkpoint ({ step }), or null on a fresh start. */
  checkpoint: unknown;
  saveCheckpoint(state: { step: number }): void;
  recordMetrics(m: TrainMetrics): void;
  history(): TrainMetrics[];
  /** The SAE an earlier attempt of this run stored, if any (a finished run is not stored twice). */
  existing(saes: SaeStore): SaeRecord | null;
  progress(fraction: number, message: string): void;
}

export const saeTrainJob: JobKind<SaeTrainParams> = {
  kind: 'sae-train',
  title: 'Train SAE',
  resumable: true,
  startFromUi: false,
  params: saeTrainParams,
  async run(ctx) {
    const db = openWorkerDb(path.join(ctx.workspaceDir, DB_FILE));
    try {
      const metricsStore = new TrainMetricsStore(db);
      return await trainSae(ctx, db, ctx.params, {
        checkpointDir: path.join(ctx.workspaceDir, 'blobs', 'sae-train', String(ctx.jobId)),
        checkpoint: ctx.checkpoint,
        saveCheckpoint: (state) => ctx.saveCheckpoint(state),
        recordMetrics: (m) => metricsStore.record(ctx.jobId, m),
        history: () => metricsStore.list(ctx.jobId),
        existing: (saes) => saes.byJob(ctx.jobId),
        progress: (f, m) => ctx.progress(f, m),
      });
    } finally {
      db.close();
    }
  },
};

/** One training run on a harvest's taps; returns the stored SAE's id, the final metrics and their history. */
export async function trainSae(ctx: JobContext<unknown>, db: Db, p: SaeTrainParams, scope: TrainScope) {
  const harvests = new HarvestStore(db, ctx.workspaceDir);
  const h = harvests.get(p.harvestId);
  const input = harvests.readTap(h.id, p.tap);
  if (input.rows === 0) throw new OcularError('invalid_request', `Harvest ${h.id} has no rows for ${p.tap}.`);
  let target = input;
  if (p.outputTap) {
    if (streamOf(p.outputTap) !== streamOf(p.tap))
      throw new OcularError('invalid_request', `A transcoder's taps must be in the same tower: ${p.tap} and ${p.outputTap} are not.`);
    target = harvests.readTap(h.id, p.outputTap);
    if (target.rows !== input.rows)
      throw new OcularError(
        'invalid_request',
        `Harvest ${h.id} has ${input.rows} rows for ${p.tap} but ${target.rows} for ${p.outputTap}.`,
      );
  }
  const rows = input.rows;
  const modality = harvests.rowIndex(h.id, streamOf(p.tap)).map((r) => r.modality);
  const warmup = p.warmupSteps ?? Math.min(500, Math.floor(p.steps * 0.05));
  const spec: SaeTrainSpec = trainSpec({
    architecture: p.architecture,
    dIn: input.width,
    dOut: target.width,
    dSae: input.width * p.expansion,
    k: p.k,
    transcoder: Boolean(p.outputTap),
    l1Coefficient: p.architecture === 'relu' ? p.l1Coefficient : 0,
    auxK: p.auxK,
    auxCoefficient: p.auxCoefficient,
  });
  const dims = stateDims(spec);
  const names = stateNames(spec);

  const graph = saeTrainChunkGraph(spec);
  validateModel(graph, 'the SAE training graph');
  const graphDir = path.join(ctx.workspaceDir, 'blobs', 'graph-cache');
  fs.mkdirSync(graphDir, { recursive: true });
  // Cached by content, so a changed graph (new spec or new Ocular) never reuses a stale file.
  const bytes = encodeModel(graph);
  const graphFile = path.join(graphDir, `sae-train-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.onnx`);
  if (!fs.existsSync(graphFile)) writeFileAtomic(graphFile, bytes);
  const session = await ctx.pool.load(graphFile, p.device);

  const checkpointDir = scope.checkpointDir;
  const checkpointFile = path.join(checkpointDir, 'checkpoint.safetensors');
  const state: Record<string, Float32Array> = {};
  let step = 0;
  const resumed = (scope.checkpoint as { step?: number } | null)?.step;
  const checkpoint = resumed && fs.existsSync(checkpointFile) ? readSafetensors(checkpointFile) : null;
  // Training reads scaled activations (see sae/normalize.ts); a resumed run keeps its checkpoint's
  // scales (none recorded: trained raw). An SAE's target is its input, scaled once.
  const scaleOf = (key: 'scaleIn' | 'scaleOut', data: Float32Array, width: number) =>
    checkpoint ? Number(checkpoint.metadata[key] ?? 1) : p.normalizeActivations === 'none' ? 1 : activationScale(data, rows, width);
  const scaleIn = scaleOf('scaleIn', input.data, spec.dIn);
  const scaleOut = spec.transcoder ? scaleOf('scaleOut', target.data, spec.dOut) : scaleIn;
  scaleInPlace(input.data, scaleIn);
  if (spec.transcoder) scaleInPlace(target.data, scaleOut);
  if (checkpoint) {
    for (const [name, t] of checkpoint.tensors) state[name] = t.data;
    step = Number(checkpoint.metadata.step);
  } else {
    const { W_enc, W_dec } = initialWeights(spec.dIn, spec.dOut, spec.dSae, p.seed);
    const bDec =
      p.bDecInit === 'zeros'
        ? new Float32Array(spec.dOut)
        : p.bDecInit === 'mean'
          ? meanOf(target.data, rows, spec.dOut)
          : geometricMedian(target.data, rows, spec.dOut, { seed: p.seed });
    Object.assign(state, { W_enc, b_enc: new Float32Array(spec.dSae), W_dec, b_dec: bDec });
    for (const name of SAE_PARAMS) {
      state[`m_${name}`] = new Float32Array(state[name]!.length);
      state[`v_${name}`] = new Float32Array(state[name]!.length);
    }
    state.last_fired = new Float32Array(spec.dSae);
    state.fire_counts = new Float32Array(spec.dSae);
    state.threshold = new Float32Array(1);
  }

  const saveCheckpoint = () => {
    fs.mkdirSync(checkpointDir, { recursive: true });
    const tensors: Record<string, Tensor> = {};
    // The BatchTopK threshold is kept (as one value) whatever the architecture, so every checkpoint has the same tensors.
    for (const name of new Set([...names, 'threshold']))
      tensors[name] = { shape: name === 'threshold' ? [1] : dims[name]!, data: state[name]! };
    writeSafetensors(checkpointFile, tensors, { step: String(step), scaleIn: String(scaleIn), scaleOut: String(scaleOut) });
    scope.saveCheckpoint({ step });
  };

  // Each row's variance about the mean target: the denominator of per-modality FVU.
  const mean = meanOf(target.data, rows, spec.dOut);
  const rowVar = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let i = 0; i < spec.dOut; i++) rowVar[r]! += (target.data[r * spec.dOut + i]! - mean[i]!) ** 2;

  const B = Math.min(p.batchSize, rows);
  const batchRand = mulberry32(p.seed * 7919 + step);
  const maxChunk = p.stepsPerCall;
  const xs = new Float32Array(maxChunk * B * spec.dIn);
  const ys = spec.transcoder ? new Float32Array(maxChunk * B * spec.dOut) : xs;
  const picked = new Int32Array(maxChunk * B);
  let final: TrainMetrics | null = null;

  const carryKey = `sae-train:${ctx.jobId}:${process.pid}:${Date.now()}`;
  let sendState = [...names];
  try {
    while (step < p.steps) {
      throwIfCancelled(ctx.signal);
      // A chunk ends at the next log or checkpoint step, so both happen between calls.
      const nextLog = (Math.floor(step / p.logEvery) + 1) * p.logEvery;
      const nextCheckpoint = (Math.floor(step / p.checkpointEvery) + 1) * p.checkpointEvery;
      const K = Math.min(maxChunk, nextLog - step, nextCheckpoint - step, p.steps - step);
      for (let j = 0; j < K * B; j++) {
        const r = Math.floor(batchRand() * rows);
        picked[j] = r;
        xs.set(input.data.subarray(r * spec.dIn, (r + 1) * spec.dIn), j * spec.dIn);
        if (spec.transcoder) ys.set(target.data.subarray(r * spec.dOut, (r + 1) * spec.dOut), j * spec.dOut);
      }
      const lrs = Float32Array.from({ length: K }, (_, j) => learningRate(step + j, p.steps, p.lr, warmup, p.decay));
      const feeds: Record<string, { type: 'float32'; dims: number[]; data: Float32Array }> = {
        xs: { type: 'float32', dims: [K, B, spec.dIn], data: xs.subarray(0, K * B * spec.dIn) },
        lrs: { type: 'float32', dims: [K], data: lrs },
        t0: { type: 'float32', dims: [], data: Float32Array.of(step) },
        dead_after: { type: 'float32', dims: [], data: Float32Array.of(p.deadAfterSteps) },
      };
      if (spec.transcoder) feeds.ys = { type: 'float32', dims: [K, B, spec.dOut], data: ys.subarray(0, K * B * spec.dOut) };
      // The state lives in the pool process between calls; it is sent once, and read back only
      // where needed: firing bookkeeping at log steps, everything at checkpoints.
      for (const name of sendState) feeds[`in_${name}`] = { type: 'float32', dims: dims[name]!, data: state[name]! };
      sendState = [];
      const logs = (step + K) % p.logEvery === 0 || step + K === p.steps;
      const checkpoints = (step + K) % p.checkpointEvery === 0 || step + K === p.steps;
      const keep = checkpoints ? names : logs ? ['last_fired', 'fire_counts'] : [];
      const out = await ctx.pool.run(session, feeds, undefined, {
        key: carryKey,
        pairs: names.map((nm) => [`out_${nm}`, `in_${nm}`]),
        keep: keep.map((nm) => `out_${nm}`),
      });
      for (const name of keep) state[name] = out[`out_${name}`]!.data as Float32Array;
      step += K;

      if (step % p.logEvery === 0 || step === p.steps) {
        const last = K - 1;
        const stepValue = (o: (typeof STEP_OUTPUTS)[number]) => (out[o]!.data as Float32Array)[last]!;
        const rowSse = (out.row_sse!.data as Float32Array).subarray(last * B, (last + 1) * B);
        const fvuByModality: Record<string, number | null> = {};
        for (const kind of ['image', 'text', 'generated']) {
          let sse = 0;
          let sst = 0;
          for (let b = 0; b < B; b++) {
            const r = picked[last * B + b]!;
            if (modality[r] !== kind) continue;
            sse += rowSse[b]!;
            sst += rowVar[r]!;
          }
          fvuByModality[kind] = sst > 0 ? sse / sst : null;
        }
        const lastFired = state.last_fired!;
        const dead = step >= p.deadAfterSteps ? lastFired.filter((s) => step - s >= p.deadAfterSteps).length / spec.dSae : 0;
        const counted = (step - Math.floor((step - 1) / p.logEvery) * p.logEvery) * B;
        const dense = state.fire_counts!.filter((c) => c / counted > DENSE_SHARE).length / spec.dSae;
        state.fire_counts!.fill(0);
        sendState.push('fire_counts');
        final = {
          step,
          loss: stepValue('loss'),
          mse: stepValue('mse'),
          l1: stepValue('l1'),
          aux: stepValue('aux'),
          fvu: stepValue('fvu'),
          fvuByModality,
          l0: stepValue('l0'),
          deadFraction: dead,
          denseFraction: dense,
          lr: lrs[last]!,
        };
        if (!Number.isFinite(final.loss))
          throw new OcularError('internal', `Training diverged at step ${step} (loss ${final.loss}); lower the learning rate.`);
        scope.recordMetrics(final);
        scope.progress(
          step / p.steps,
          `step ${step}: FVU ${final.fvu.toFixed(3)}, L0 ${final.l0.toFixed(1)}, dead ${(dead * 100).toFixed(1)}%`,
        );
      }
      if (step % p.checkpointEvery === 0) saveCheckpoint();
    }
  } finally {
    await ctx.pool.dropCarry(session, carryKey).catch(() => undefined);
  }
  saveCheckpoint();

  const architecture = spec.architecture === 'batchtopk' ? 'jumprelu' : spec.architecture;
  const raw = foldScale({ W_enc: state.W_enc!, W_dec: state.W_dec!, b_dec: state.b_dec! }, scaleIn, scaleOut);
  const saes = new SaeStore(db, ctx.workspaceDir);
  const existing = scope.existing(saes);
  const record =
    existing ??
    saes.add(
      {
        architecture,
        dIn: spec.dIn,
        dSae: spec.dSae,
        ...(spec.transcoder ? { dOut: spec.dOut, hookNameOut: p.outputTap } : {}),
        ...(spec.architecture === 'relu' ? {} : { k: spec.k }),
        W_enc: raw.W_enc,
        b_enc: state.b_enc!,
        W_dec: raw.W_dec,
        b_dec: raw.b_dec,
        // BatchTopK becomes JumpReLU for inference, with the threshold learned in training (as SAELens does).
        ...(spec.architecture === 'batchtopk' ? { threshold: new Float32Array(spec.dSae).fill(state.threshold![0]!) } : {}),
        applyBDecToInput: !spec.transcoder,
        hookName: p.tap,
        modelName: path.basename(h.modelPath),
        // Scaling is folded into the weights above, so the saved SAE reads raw activations.
        normalizeActivations: 'none',
      },
      p.name ??
        `${p.tap}${p.outputTap ? ` -> ${p.outputTap}` : ''} ${spec.architecture}${spec.architecture === 'relu' ? '' : ` k${spec.k}`} x${p.expansion}`,
      'trained',
      ctx.jobId,
    );
  const history = scope.history();
  return {
    saeId: record.id,
    steps: step,
    activationScale: { input: scaleIn, output: scaleOut },
    final: final ?? history.at(-1) ?? null,
    history,
  };
}
