/**
 * Train a TopK SAE on one tap of a harvest. Each step runs the ONNX training graph
 * (core/sae/train-graph.ts) in the shared session pool; parameters and Adam moments are carried
 * between steps by this job and checkpointed to the workspace (safetensors), so an interrupted run
 * resumes from its last checkpoint without losing completed steps. The trained SAE is stored in
 * the workspace as a SAELens folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { HarvestStore, streamOf } from '../../harvest/harvest-store.js';
import { writeModel } from '../../onnx/model-io.js';
import { validateModel } from '../../onnx/validate.js';
import { readSafetensors, writeSafetensors, type Tensor } from '../../sae/safetensors.js';
import { SaeStore } from '../../sae/sae-store.js';
import { SAE_PARAMS, paramDims, saeTrainStepGraph, type SaeTrainShape } from '../../sae/train-graph.js';
import { openWorkerDb } from '../../store/sqlite.js';
import { DB_FILE } from '../../store/workspace.js';
import { mulberry32 } from '../../util/random.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';

const params = z
  .object({
    harvestId: z.number().int().positive(),
    tap: z.string().min(1),
    expansion: z.number().int().min(1).max(64).default(8),
    k: z.number().int().min(1).default(32),
    steps: z.number().int().min(1).max(10_000_000).default(2000),
    batchSize: z.number().int().min(1).max(65536).default(1024),
    lr: z.number().positive().default(4e-4),
    /** Linear warmup over this many steps (default: 5% of the run, at most 500), then cosine decay to 10%. */
    warmupSteps: z.number().int().min(0).optional(),
    decay: z.enum(['cosine', 'none']).default('cosine'),
    seed: z.number().int().default(0),
    checkpointEvery: z.number().int().min(1).default(250),
    logEvery: z.number().int().min(1).default(50),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
    name: z.string().min(1).optional(),
  })
  .strict();

export interface TrainMetrics {
  step: number;
  loss: number;
  fvu: number;
  /** FVU over the batch's image-token rows and text-token rows (null when the batch had none). */
  fvuByModality: Record<string, number | null>;
  l0: number;
  deadFraction: number;
  lr: number;
}

/** Learning rate at a step: linear warmup, then cosine decay to a tenth (or constant). */
export function learningRate(step: number, total: number, base: number, warmup: number, decay: 'cosine' | 'none'): number {
  if (warmup > 0 && step < warmup) return (base * (step + 1)) / warmup;
  if (decay === 'none') return base;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return base * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Steps a feature may go without firing before it counts as dead. */
const DEAD_AFTER_STEPS = 200;

function meanOf(data: Float32Array, rows: number, width: number): Float32Array {
  const mean = new Float32Array(width);
  for (let r = 0; r < rows; r++) for (let i = 0; i < width; i++) mean[i]! += data[r * width + i]! / rows;
  return mean;
}

export const saeTrainJob: JobKind<z.infer<typeof params>> = {
  kind: 'sae-train',
  title: 'Train SAE',
  resumable: true,
  startFromUi: false,
  params,
  async run(ctx) {
    const p = ctx.params;
    const db = openWorkerDb(path.join(ctx.workspaceDir, DB_FILE));
    try {
      const harvests = new HarvestStore(db, ctx.workspaceDir);
      const h = harvests.get(p.harvestId);
      const { data, width, rows } = harvests.readTap(h.id, p.tap);
      if (rows === 0) throw new Error(`Harvest ${h.id} has no rows for ${p.tap}.`);
      const modality = harvests.rowIndex(h.id, streamOf(p.tap)).map((r) => r.modality);
      const warmup = p.warmupSteps ?? Math.min(500, Math.floor(p.steps * 0.05));
      const shape: SaeTrainShape = { dIn: width, dSae: width * p.expansion, k: Math.min(p.k, width * p.expansion) };
      const dims = paramDims(shape);

      const graph = saeTrainStepGraph(shape);
      validateModel(graph, 'the SAE training graph');
      const graphDir = path.join(ctx.workspaceDir, 'blobs', 'graph-cache');
      fs.mkdirSync(graphDir, { recursive: true });
      const graphFile = path.join(graphDir, `sae-train-${shape.dIn}x${shape.dSae}-k${shape.k}.onnx`);
      if (!fs.existsSync(graphFile)) writeModel(graph, graphFile);
      const session = await ctx.pool.load(graphFile, p.device);

      const checkpointDir = path.join(ctx.workspaceDir, 'blobs', 'sae-train', String(ctx.jobId));
      const checkpointFile = path.join(checkpointDir, 'checkpoint.safetensors');
      const state: Record<string, Float32Array> = {};
      const lastFired = new Float64Array(shape.dSae);
      let step = 0;
      const history: TrainMetrics[] = [];
      const resumed = (ctx.checkpoint as { step?: number } | null)?.step;
      if (resumed && fs.existsSync(checkpointFile)) {
        const { tensors, metadata } = readSafetensors(checkpointFile);
        for (const [name, t] of tensors) state[name] = t.data;
        step = Number(metadata.step);
        lastFired.set(state.last_fired ?? lastFired);
        history.push(...(JSON.parse(metadata.history ?? '[]') as TrainMetrics[]));
      } else {
        // b_dec starts at the mean activation; decoder rows random unit vectors; encoder = decoder^T.
        const rand = mulberry32(p.seed);
        const mean = meanOf(data, rows, width);
        const wDec = new Float32Array(shape.dSae * width);
        for (let f = 0; f < shape.dSae; f++) {
          let n = 0;
          for (let i = 0; i < width; i++) {
            const v = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
            wDec[f * width + i] = v;
            n += v * v;
          }
          n = Math.sqrt(n);
          for (let i = 0; i < width; i++) wDec[f * width + i]! /= n;
        }
        const wEnc = new Float32Array(width * shape.dSae);
        for (let f = 0; f < shape.dSae; f++) for (let i = 0; i < width; i++) wEnc[i * shape.dSae + f] = wDec[f * width + i]!;
        Object.assign(state, { W_enc: wEnc, b_enc: new Float32Array(shape.dSae), W_dec: wDec, b_dec: mean });
        for (const name of SAE_PARAMS) {
          state[`m_${name}`] = new Float32Array(state[name]!.length);
          state[`v_${name}`] = new Float32Array(state[name]!.length);
        }
      }

      const batchRand = mulberry32(p.seed * 7919 + step);
      const batch = new Float32Array(Math.min(p.batchSize, rows) * width);
      const saveCheckpoint = () => {
        fs.mkdirSync(checkpointDir, { recursive: true });
        const tensors: Record<string, Tensor> = { last_fired: { shape: [shape.dSae], data: Float32Array.from(lastFired) } };
        for (const name of SAE_PARAMS) {
          tensors[name] = { shape: dims[name], data: state[name]! };
          tensors[`m_${name}`] = { shape: dims[name], data: state[`m_${name}`]! };
          tensors[`v_${name}`] = { shape: dims[name], data: state[`v_${name}`]! };
        }
        writeSafetensors(checkpointFile, tensors, { step: String(step), history: JSON.stringify(history) });
        ctx.saveCheckpoint({ step });
      };

      // Each row's variance about the mean activation: the denominator of per-modality FVU.
      const mean = meanOf(data, rows, width);
      const rowVar = new Float64Array(rows);
      for (let r = 0; r < rows; r++) for (let i = 0; i < width; i++) rowVar[r]! += (data[r * width + i]! - mean[i]!) ** 2;
      const picked = new Int32Array(batch.length / width);

      while (step < p.steps) {
        throwIfCancelled(ctx.signal);
        const n = batch.length / width;
        for (let b = 0; b < n; b++) {
          const r = Math.floor(batchRand() * rows);
          picked[b] = r;
          batch.set(data.subarray(r * width, (r + 1) * width), b * width);
        }
        const lr = learningRate(step, p.steps, p.lr, warmup, p.decay);
        const feeds: Record<string, { type: 'float32'; dims: number[]; data: Float32Array }> = {
          x: { type: 'float32', dims: [n, width], data: batch },
          t: { type: 'float32', dims: [], data: Float32Array.of(step + 1) },
          lr: { type: 'float32', dims: [], data: Float32Array.of(lr) },
        };
        for (const name of SAE_PARAMS) {
          feeds[name] = { type: 'float32', dims: dims[name], data: state[name]! };
          feeds[`m_${name}`] = { type: 'float32', dims: dims[name], data: state[`m_${name}`]! };
          feeds[`v_${name}`] = { type: 'float32', dims: dims[name], data: state[`v_${name}`]! };
        }
        const out = await ctx.pool.run(session, feeds);
        for (const name of SAE_PARAMS) {
          state[name] = out[`next_${name}`]!.data as Float32Array;
          state[`m_${name}`] = out[`next_m_${name}`]!.data as Float32Array;
          state[`v_${name}`] = out[`next_v_${name}`]!.data as Float32Array;
        }
        step++;
        const fired = out.fired!.data as Float32Array;
        for (let f = 0; f < shape.dSae; f++) if (fired[f]! > 0) lastFired[f] = step;
        if (step % p.logEvery === 0 || step === p.steps) {
          const dead = lastFired.filter((s) => step - s >= DEAD_AFTER_STEPS && step >= DEAD_AFTER_STEPS).length / shape.dSae;
          const rowSse = out.row_sse!.data as Float32Array;
          const fvuByModality: Record<string, number | null> = {};
          for (const kind of ['image', 'text', 'generated']) {
            let sse = 0;
            let sst = 0;
            for (let b = 0; b < n; b++) {
              if (modality[picked[b]!] !== kind) continue;
              sse += rowSse[b]!;
              sst += rowVar[picked[b]!]!;
            }
            fvuByModality[kind] = sst > 0 ? sse / sst : null;
          }
          const m = { step, loss: out.loss!.data[0] as number, fvu: out.fvu!.data[0] as number, fvuByModality, l0: out.l0!.data[0] as number, deadFraction: dead, lr };
          history.push(m);
          ctx.progress(step / p.steps, `step ${step}: FVU ${m.fvu.toFixed(3)}, L0 ${m.l0.toFixed(1)}, dead ${(dead * 100).toFixed(1)}%`);
        }
        if (step % p.checkpointEvery === 0) saveCheckpoint();
      }
      saveCheckpoint();

      const saes = new SaeStore(db, ctx.workspaceDir);
      const record = saes.add(
        {
          architecture: 'topk',
          dIn: shape.dIn,
          dSae: shape.dSae,
          k: shape.k,
          W_enc: state.W_enc!,
          b_enc: state.b_enc!,
          W_dec: state.W_dec!,
          b_dec: state.b_dec!,
          applyBDecToInput: true,
          hookName: p.tap,
          modelName: path.basename(h.modelPath),
          normalizeActivations: 'none',
        },
        p.name ?? `${p.tap} topk k${shape.k} x${p.expansion}`,
        'trained',
      );
      const last = history[history.length - 1]!;
      return { saeId: record.id, steps: step, final: last, history };
    } finally {
      db.close();
    }
  },
};
