/**
 * Train a transcoder set: one transcoder per decoder layer (hook_mlp_in -> hook_mlp_out), each by
 * the sae-train run (trainSae) with the set's shared settings, one after another. The job's
 * checkpoint names the layer in progress and its step; finished layers are found by their stored
 * SAE, so a resumed set neither retrains nor repeats one. Result: a per-layer report (FVU, L0, dead).
 */
import path from 'node:path';
import { transcoderSetRequestSchema, type TranscoderSetLayer } from '../../../contract/contract.js';
import { setLayers } from '../../circuits/transcoder-set.js';
import { HarvestStore } from '../../harvest/harvest-store.js';
import { SaeStore } from '../../sae/sae-store.js';
import type { TrainMetrics } from '../../sae/train-metrics.js';
import { openWorkerDb } from '../../store/sqlite.js';
import { DB_FILE } from '../../store/workspace.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { trainSae, type SaeTrainParams } from './sae-train.js';

export const transcoderSetParams = transcoderSetRequestSchema.strict();

export const transcoderSetJob: JobKind<ReturnType<typeof transcoderSetParams.parse>> = {
  kind: 'transcoder-set',
  title: 'Train transcoder set',
  resumable: true,
  startFromUi: false,
  params: transcoderSetParams,
  async run(ctx) {
    const { layers: requested, ...shared } = ctx.params;
    const db = openWorkerDb(path.join(ctx.workspaceDir, DB_FILE));
    try {
      const layers = setLayers(Object.keys(new HarvestStore(db, ctx.workspaceDir).get(shared.harvestId).stats), requested);
      const saes = new SaeStore(db, ctx.workspaceDir);
      const saved = ctx.checkpoint as { layer: number; step: number; done: TranscoderSetLayer[] } | null;
      const report: TranscoderSetLayer[] = saved?.done ?? [];
      for (const [i, l] of layers.entries()) {
        throwIfCancelled(ctx.signal);
        if (report.some((r) => r.layer === l.layer)) continue;
        const history: TrainMetrics[] = [];
        const params: SaeTrainParams = {
          ...shared,
          tap: l.inTap,
          outputTap: l.outTap,
          name: `set ${ctx.jobId}: ${l.inTap} -> ${l.outTap}`,
        };
        const trained = await trainSae(ctx, db, params, {
          checkpointDir: path.join(ctx.workspaceDir, 'blobs', 'sae-train', String(ctx.jobId), `layer-${l.layer}`),
          checkpoint: saved?.layer === l.layer ? { step: saved.step } : null,
          saveCheckpoint: ({ step }) => ctx.saveCheckpoint({ layer: l.layer, step, done: report }),
          recordMetrics: (m) => history.push(m),
          history: () => history,
          existing: (store) => store.allByJob(ctx.jobId).find((r) => r.hookName === l.inTap) ?? null,
          progress: (f, m) => ctx.progress((i + f) / layers.length, `layer ${l.layer}: ${m}`),
        });
        const final = trained.final;
        report.push({
          ...l,
          saeId: trained.saeId,
          fvu: final?.fvu ?? null,
          l0: final?.l0 ?? null,
          deadFraction: final?.deadFraction ?? null,
        });
        ctx.saveCheckpoint({ layer: -1, step: 0, done: report });
      }
      // A layer finished by an earlier attempt whose checkpoint predates its report still has its SAE.
      for (const r of report) saes.get(r.saeId);
      return { setId: ctx.jobId, layers: report.sort((a, b) => a.layer - b.layer) };
    } finally {
      db.close();
    }
  },
};
