/**
 * Train a transcoder set: one transcoder per decoder layer (hook_mlp_in -> hook_mlp_out), each by
 * the sae-train run (trainOnHarvest) with the set's shared settings, one after another. The job's
 * checkpoint names the layer in progress and its step; finished layers are found by their stored
 * SAE, so a resumed set neither retrains nor repeats one. Result: a per-layer report (FVU, L0, dead).
 */
import path from 'node:path';
import { transcoderSetRequestSchema, type TranscoderSetLayer } from '../../../contract/contract.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { setLayers } from '../../circuits/transcoder-set.js';
import type { TrainMetrics } from '../../sae/train-metrics.js';
import { withWorkerStores } from '../../store/stores.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { trainOnHarvest } from './sae-train.js';

export const transcoderSetParams = transcoderSetRequestSchema.strict();

export const transcoderSetJob: JobKind<ReturnType<typeof transcoderSetParams.parse>, JobResultOf<'transcoder-set'>> = {
  kind: 'transcoder-set',
  title: 'Train transcoder set',
  resumable: true,
  startFromUi: false,
  params: transcoderSetParams,
  result: jobResults['transcoder-set'],
  async run(ctx) {
    const { layers: requested, ...shared } = ctx.params;
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const layers = setLayers(Object.keys(stores.harvests.get(shared.harvestId).stats), requested);
      const saved = ctx.checkpoint as { layer: number; step: number; done: TranscoderSetLayer[] } | null;
      const report: TranscoderSetLayer[] = saved?.done ?? [];
      for (const [i, l] of layers.entries()) {
        throwIfCancelled(ctx.signal);
        if (report.some((r) => r.layer === l.layer)) continue;
        const history: TrainMetrics[] = [];
        const params = { ...shared, tap: l.inTap, outputTap: l.outTap, name: `set ${ctx.jobId}: ${l.inTap} -> ${l.outTap}` };
        const trained = await trainOnHarvest(ctx, stores, params, {
          checkpointDir: path.join(stores.layout.saeTrain(ctx.jobId), `layer-${l.layer}`),
          checkpoint: saved?.layer === l.layer ? { step: saved.step } : null,
          saveCheckpoint: ({ step }) => ctx.saveCheckpoint({ layer: l.layer, step, done: report }),
          recordMetrics: (m) => history.push(m),
          history: () => history,
          existing: () => stores.saes.allByJob(ctx.jobId).find((r) => r.hookName === l.inTap) ?? null,
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
      return { setId: ctx.jobId, layers: report.sort((a, b) => a.layer - b.layer) };
    });
  },
};
