/**
 * Train an SAE (ReLU + L1, TopK or BatchTopK) or a transcoder on taps of a harvest: streams the taps
 * (scale, mean and b_dec passes; a bounded shuffle buffer for the steps: core/sae/train-data.ts,
 * core/harvest/shuffle-buffer.ts), resumes or initialises the state and hands the loop to
 * core/sae/trainer.ts (chunks of steps as ONNX Loop calls in the shared pool, metrics, checkpoints);
 * the trained SAE is stored in the workspace as a SAELens folder.
 */
import path from 'node:path';
import { type z } from 'zod';
import { saeTrainRequestSchema } from '../../../contract/contract.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { OcularError } from '../../errors.js';
import { streamOf, type HarvestRecord } from '../../harvest/harvest-store.js';
import { ShardReader } from '../../harvest/shard-reader.js';
import { RowSubset } from '../../harvest/row-subset.js';
import { ShuffleBuffer, shuffleLayout, type RowSource } from '../../harvest/shuffle-buffer.js';
import { foldScale } from '../../sae/normalize.js';
import type { SaeRecord, SaeStore } from '../../sae/sae-store.js';
import type { TrainMetrics } from '../../sae/train-metrics.js';
import { initialState, readCheckpoint, type TrainState } from '../../sae/train-checkpoint.js';
import { initialBDec, streamedMean, streamedScale } from '../../sae/train-data.js';
import { trainSpec, type SaeTrainSpec } from '../../sae/train-graph.js';
import { MODALITIES } from '../../sae/train-log.js';
import { train } from '../../sae/trainer.js';
import { withWorkerStores, type Stores } from '../../store/stores.js';
import { type JobContext, type JobKind } from '../job-kind.js';
import { modelTrainingRows } from './sae-train-model.js';

export const saeTrainParams = saeTrainRequestSchema.strict();
export type SaeTrainParams = z.infer<typeof saeTrainParams>;

export const saeTrainJob: JobKind<SaeTrainParams, JobResultOf<'sae-train'>> = {
  kind: 'sae-train',
  title: 'Train SAE',
  resumable: true,
  startFromUi: false,
  params: saeTrainParams,
  result: jobResults['sae-train'],
  async run(ctx) {
    return withWorkerStores(ctx.workspaceDir, (stores) => {
      const scope: TrainScope = {
        checkpointDir: stores.layout.saeTrain(ctx.jobId),
        checkpoint: ctx.checkpoint,
        saveCheckpoint: (state) => ctx.saveCheckpoint(state),
        recordMetrics: (m) => stores.trainMetrics.record(ctx.jobId, m),
        history: () => stores.trainMetrics.list(ctx.jobId),
        existing: () => stores.saes.byJob(ctx.jobId),
        progress: (f, m) => ctx.progress(f, m),
      };
      if (!ctx.params.fromModel) return trainOnHarvest(ctx, stores, ctx.params, scope);
      return modelTrainingRows(ctx, stores, ctx.params).then((rows) => trainOnRows(ctx, stores, ctx.params, scope, rows));
    });
  },
};

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
  existing(): SaeRecord | null;
  progress(fraction: number, message: string): void;
  /** Train on these rows of the taps only (ascending; a dataset comparison's share of the items), not every row. */
  rows?: Int32Array;
}

/** What a run trains on: its rows (shards or the model), their modalities, and where they came from for the SAE's metadata. */
export interface TrainingRows {
  input: RowSource;
  target: RowSource;
  /** Row r's modality, as an index into MODALITIES. */
  codes: Uint8Array;
  modelPath: string;
  /** Names the rows in messages ('harvest 3', 'the model'). */
  what: string;
  /** Recorded in the SAE's cfg.json metadata (ocular_training). */
  provenance: Record<string, unknown>;
}

/** One training run on a harvest's taps: the stored SAE's id, the final metrics and their history. */
export async function trainOnHarvest(
  ctx: JobContext<unknown>,
  stores: Stores,
  p: SaeTrainParams,
  scope: TrainScope,
): Promise<JobResultOf<'sae-train'>> {
  if (p.harvestId === undefined) throw new OcularError('invalid_request', 'Name a harvest to train on, or train from the model.');
  const h = stores.harvests.get(p.harvestId);
  const taps = trainingTaps(stores, h, p.tap, p.outputTap);
  const subset = scope.rows;
  const input: RowSource = subset ? new RowSubset(taps.input, subset) : taps.input;
  const target: RowSource = !subset ? taps.target : taps.target === taps.input ? input : new RowSubset(taps.target, subset);
  const allCodes = new Uint8Array(taps.input.rows);
  for (const r of stores.harvests.modalities(h.id, streamOf(p.tap))) allCodes[r.row] = MODALITIES.indexOf(r.modality as 'text');
  const codes = subset ? Uint8Array.from(subset, (r) => allCodes[r]!) : allCodes;
  const provenance = { source: 'harvest', harvest_id: h.id, dataset_id: h.datasetId, ...(subset ? { rows_chosen: subset.length } : {}) };
  return trainOnRows(ctx, stores, p, scope, { input, target, codes, modelPath: h.modelPath, what: `harvest ${h.id}`, provenance });
}

/** One training run on rows from shards or from the model (see trainOnHarvest, sae-train-model.ts). */
export async function trainOnRows(
  ctx: JobContext<unknown>,
  stores: Stores,
  p: SaeTrainParams,
  scope: TrainScope,
  data: TrainingRows,
): Promise<JobResultOf<'sae-train'>> {
  const { input, target, codes } = data;
  const rows = input.rows;
  if (rows === 0) throw new OcularError('invalid_request', `No rows of ${p.tap} to train on.`);
  const spec = specOf(p, input.width, target.width);
  const layout = stores.layout;
  const checkpointDir = scope.checkpointDir;
  const resumed = (scope.checkpoint as { step?: number } | null)?.step ? readCheckpoint(checkpointDir) : null;
  // Training reads scaled activations (see sae/normalize.ts); a resumed run keeps its checkpoint's
  // scales (none recorded: trained raw). An SAE's target is its input, scaled once.
  const scaleOf = async (key: 'scaleIn' | 'scaleOut', src: RowSource) =>
    resumed ? resumed[key] : p.normalizeActivations === 'none' ? 1 : streamedScale(src);
  const scaleIn = await scaleOf('scaleIn', input);
  const scaleOut = spec.transcoder ? await scaleOf('scaleOut', target) : scaleIn;
  const mean = await streamedMean(target, scaleOut);
  const state = resumed?.state ?? initialState(spec, await initialBDec(p.bDecInit, target, scaleOut, mean, p.seed), p.seed);
  const startStep = resumed?.step ?? 0;
  // The shuffled stream, where the checkpoint left it (its layout too: a changed buffer size does not reorder a resumed run).
  const sources = [{ source: input, scale: scaleIn }, ...(spec.transcoder ? [{ source: target, scale: scaleOut }] : [])];
  const B = Math.min(p.batchSize, rows);
  const shuffle = resumed?.shuffle ?? {
    layout: shuffleLayout(rows, [spec.dIn, ...(spec.transcoder ? [spec.dOut] : [])], p.shuffleBufferMb * 2 ** 20, p.seed),
    position: { epoch: Math.floor((startStep * B) / rows), cursor: (startStep * B) % rows },
  };
  if (shuffle.layout.rows !== rows)
    throw new OcularError('invalid_request', `The checkpoint was trained on ${shuffle.layout.rows} rows, ${data.what} now has ${rows}.`);
  const stream = new ShuffleBuffer(sources, shuffle.layout, shuffle.position);
  const final = await train(
    {
      pool: ctx.pool,
      signal: ctx.signal,
      graphCache: layout.graphCache,
      checkpointDir,
      carryKey: `sae-train:${ctx.jobId}:${process.pid}:${Date.now()}`,
      scales: { scaleIn, scaleOut },
      onLog: (m) => {
        scope.recordMetrics(m);
        const dead = (m.deadFraction * 100).toFixed(1);
        scope.progress(m.step / p.steps, `step ${m.step}: FVU ${m.fvu.toFixed(3)}, L0 ${m.l0.toFixed(1)}, dead ${dead}%`);
      },
      onCheckpoint: (step) => scope.saveCheckpoint({ step }),
    },
    spec,
    { ...p, warmup: p.warmupSteps ?? Math.min(500, Math.floor(p.steps * 0.05)) },
    { rows: stream, mean, modalityOf: (r) => MODALITIES[codes[r]!] },
    state,
    startStep,
  );
  // An epoch is one pass over the rows (from the model: over the dataset's items).
  const provenance = { ...data.provenance, rows_per_epoch: rows, epochs: (p.steps * B) / rows };
  const record = scope.existing() ?? storeTrained(stores.saes, ctx.jobId, p, data.modelPath, spec, state, scaleIn, scaleOut, provenance);
  const history = scope.history();
  return {
    saeId: record.id,
    steps: p.steps,
    activationScale: { input: scaleIn, output: scaleOut },
    final: final ?? history.at(-1) ?? null,
    history,
  };
}

/** The training graph's spec from a request and the taps' widths. */
function specOf(p: SaeTrainParams, dIn: number, dOut: number): SaeTrainSpec {
  return trainSpec({
    architecture: p.architecture,
    dIn,
    dOut,
    dSae: dIn * p.expansion,
    k: p.k,
    transcoder: Boolean(p.outputTap),
    l1Coefficient: p.architecture === 'relu' ? p.l1Coefficient : 0,
    auxK: p.auxK,
    auxCoefficient: p.auxCoefficient,
  });
}

/** Readers of the input tap and the target's (the input itself for an SAE; for a transcoder, a tap of the same tower and rows). */
function trainingTaps(stores: Stores, h: HarvestRecord, tap: string, outputTap: string | undefined) {
  const input = new ShardReader(stores.db, stores.layout.root, h, tap);
  if (input.rows === 0) throw new OcularError('invalid_request', `Harvest ${h.id} has no rows for ${tap}.`);
  if (!outputTap) return { input, target: input };
  if (streamOf(outputTap) !== streamOf(tap))
    throw new OcularError('invalid_request', `A transcoder's taps must be in the same tower: ${tap} and ${outputTap} are not.`);
  const target = new ShardReader(stores.db, stores.layout.root, h, outputTap);
  if (target.rows !== input.rows)
    throw new OcularError('invalid_request', `Harvest ${h.id} has ${input.rows} rows for ${tap} but ${target.rows} for ${outputTap}.`);
  return { input, target };
}

/** The trained SAE as a SAELens folder in the workspace, reading raw activations (scales folded into the weights). */
function storeTrained(
  saes: SaeStore,
  jobId: number,
  p: SaeTrainParams,
  modelPath: string,
  spec: SaeTrainSpec,
  state: TrainState,
  scaleIn: number,
  scaleOut: number,
  provenance: Record<string, unknown>,
) {
  const raw = foldScale({ W_enc: state.W_enc!, W_dec: state.W_dec!, b_dec: state.b_dec! }, scaleIn, scaleOut);
  const name =
    p.name ??
    `${p.tap}${p.outputTap ? ` -> ${p.outputTap}` : ''} ${spec.architecture}${spec.architecture === 'relu' ? '' : ` k${spec.k}`} x${p.expansion}`;
  const sae = {
    // BatchTopK becomes JumpReLU for inference, with the threshold learned in training (as SAELens does).
    architecture: spec.architecture === 'batchtopk' ? ('jumprelu' as const) : spec.architecture,
    dIn: spec.dIn,
    dSae: spec.dSae,
    ...(spec.transcoder ? { dOut: spec.dOut, hookNameOut: p.outputTap } : {}),
    ...(spec.architecture === 'relu' ? {} : { k: spec.k }),
    W_enc: raw.W_enc,
    b_enc: state.b_enc!,
    W_dec: raw.W_dec,
    b_dec: raw.b_dec,
    ...(spec.architecture === 'batchtopk' ? { threshold: new Float32Array(spec.dSae).fill(state.threshold![0]!) } : {}),
    applyBDecToInput: !spec.transcoder,
    hookName: p.tap,
    modelName: path.basename(modelPath),
    normalizeActivations: 'none' as const,
    metadata: { ocular_training: provenance },
  };
  return saes.add(sae, name, 'trained', jobId);
}
