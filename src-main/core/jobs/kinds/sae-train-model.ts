/**
 * The sae-train job's rows when it trains from the model without storing (params.fromModel): the
 * model loaded with a decoder graph exposing the run's taps, the items laid out and numbered as a
 * harvest numbers them (core/harvest/model-rows.ts), and the taps' rows produced on demand.
 */
import path from 'node:path';
import { checkModelTaps, checkTrainSource, ModelRows } from '../../harvest/model-rows.js';
import { MODALITIES } from '../../sae/train-log.js';
import type { Stores } from '../../store/stores.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import type { JobContext } from '../job-kind.js';
import { tappedGraph } from './harvest.js';
import type { SaeTrainParams, TrainingRows } from './sae-train.js';

/** Batches of produced rows kept for reuse: a quarter of the shuffle buffer, at most 64 MiB. */
const cacheBytes = (p: SaeTrainParams) => Math.min(64 * 2 ** 20, (p.shuffleBufferMb * 2 ** 20) / 4);

export async function modelTrainingRows(ctx: JobContext<unknown>, stores: Stores, p: SaeTrainParams): Promise<TrainingRows> {
  checkTrainSource(p);
  const f = p.fromModel!;
  const model = stores.models.get(f.modelId);
  checkModelTaps(model.report, p.tap, p.outputTap);
  const dataset = stores.datasets.get(f.datasetId);
  const items = stores.datasets.items(dataset.id, { limit: f.limit ?? undefined });
  ctx.progress(0, 'loading the model');
  const vlm = await VlmPipeline.load(model.path, ctx.pool, p.device);
  const taps = [p.tap, ...(p.outputTap && p.outputTap !== p.tap ? [p.outputTap] : [])];
  const decoder = (await tappedGraph(ctx.pool, vlm.files.decoder, taps, '', stores.layout.graphCache, p.device))!;
  const rows = await ModelRows.index(
    {
      vlm,
      pool: ctx.pool,
      decoder,
      taps,
      items,
      datasetPath: dataset.path,
      batchSize: f.batchSize,
      kinds: new Set(f.tokenKinds),
      cacheBytes: cacheBytes(p),
      codeOf: (m) => MODALITIES.indexOf(m),
    },
    (done, of) => ctx.progress(0, `laid out ${done} of ${of} items`),
  );
  const input = rows.source(p.tap);
  return {
    input,
    target: p.outputTap ? rows.source(p.outputTap) : input,
    codes: rows.codes,
    modelPath: model.path,
    what: `dataset ${dataset.id} run through the model`,
    provenance: {
      source: 'model',
      model_id: model.id,
      dataset_id: dataset.id,
      dataset_path: path.basename(dataset.path),
      items: items.length,
      token_kinds: f.tokenKinds,
      items_per_forward_pass: f.batchSize,
    },
  };
}
