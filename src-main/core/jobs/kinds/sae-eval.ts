/**
 * Spliced-in evaluation of a trained or imported SAE: replace its decoder tap by the SAE's
 * reconstruction (graph surgery, error term dropped) and compare next-token cross-entropy against
 * the clean model and against zero-ablating the tap, and optionally accuracy with and without the
 * splice (core/circuits/splice-eval.ts, shared with the transcoder replacement-model check).
 * Results are stored on the SAE.
 */
import path from 'node:path';
import type { z } from 'zod';
import { saeEvalRequestSchema } from '../../../contract/contract.js';
import { OcularError } from '../../errors.js';
import { DatasetStore } from '../../datasets/dataset-store.js';
import { ModelRegistry } from '../../model/registry.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { saeIdentityInputs } from '../../onnx/surgery.js';
import type { WireTensor } from '../../runtime/pool-protocol.js';
import { SaeStore, type SaeEvaluation } from '../../sae/sae-store.js';
import { lossRecovered } from '../../sae/splice-metrics.js';
import { spliceEvaluate } from '../../circuits/splice-eval.js';
import { openWorkerDb } from '../../store/sqlite.js';
import { DB_FILE } from '../../store/workspace.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import type { JobKind } from '../job-kind.js';

export const saeEvalParams = saeEvalRequestSchema.strict();

type Mode = 'clean' | 'spliced' | 'zero';

/** The SAE edit's inputs for a mode, over `batch` x `length` positions (mask: where it applies). */
function editFeeds(dSae: number, batch: number, length: number, mode: Mode, mask?: Uint8Array): Record<string, WireTensor> {
  const feeds = saeIdentityInputs('s', dSae, batch, length);
  if (mask) feeds['sae.s.position_mask']!.data.set(mask);
  if (mode === 'spliced') feeds['sae.s.keep_error']!.data.fill(0);
  if (mode === 'zero') feeds['sae.s.output_scale']!.data.fill(0);
  return feeds;
}

export const saeEvalJob: JobKind<z.infer<typeof saeEvalParams>> = {
  kind: 'sae-eval',
  title: 'Evaluate SAE (spliced in)',
  resumable: false,
  startFromUi: false,
  params: saeEvalParams,
  async run(ctx) {
    const p = ctx.params;
    const db = openWorkerDb(path.join(ctx.workspaceDir, DB_FILE));
    try {
      const saes = new SaeStore(db, ctx.workspaceDir);
      const record = saes.get(p.saeId);
      const sae = saes.load(p.saeId);
      if (sae.dOut !== undefined || record.hookNameOut)
        throw new OcularError(
          'invalid_request',
          'Spliced-in evaluation replaces one tap by its reconstruction; a transcoder reads one tap and writes another.',
        );
      if (!sae.hookName || sae.hookName.startsWith('vision.'))
        throw new OcularError(
          'invalid_request',
          `SAE ${p.saeId} is on ${sae.hookName ?? 'no tap'}; spliced-in evaluation needs a decoder tap (blocks.N.hook_...).`,
        );
      const model = new ModelRegistry(db).get(p.modelId);
      const datasets = new DatasetStore(db);
      const dataset = datasets.get(p.datasetId);
      const items = datasets.items(dataset.id, { limit: p.limit });
      const textChoices = datasets.textChoices(dataset.id);
      ctx.progress(0, 'loading the model and splicing the SAE in');
      const vlm = await VlmPipeline.load(model.path, ctx.pool, p.device);
      const edited = writeEditedGraph(
        vlm.files.decoder,
        { saeEdits: [{ id: 's', tap: sae.hookName, sae }] },
        { cacheDir: path.join(ctx.workspaceDir, 'blobs', 'graph-cache') },
      );
      // Beside the token embedding, so generating with the splice needs no reload.
      const [session] = await ctx.pool.loadTogether([edited.path, vlm.files.embed], p.device);

      const r = await spliceEvaluate<Mode>({
        vlm,
        pool: ctx.pool,
        session: session!,
        editedPath: edited.path,
        datasetDir: dataset.path,
        items,
        textChoices,
        batchSize: p.batchSize,
        scoreTokens: p.scoreTokens,
        modes: {
          clean: (b, l, mask) => editFeeds(sae.dSae, b, l, 'clean', mask),
          spliced: (b, l, mask) => editFeeds(sae.dSae, b, l, 'spliced', mask),
          zero: (b, l, mask) => editFeeds(sae.dSae, b, l, 'zero', mask),
        },
        accuracyMode: p.accuracy ? 'spliced' : null,
        maxNewTokens: p.maxNewTokens,
        signal: ctx.signal,
        progress: (f, m) => ctx.progress(f, m),
      });
      if (r.tokens === 0) throw new OcularError('invalid_request', `Dataset ${dataset.id} gave no text tokens to score.`);
      const evaluation: SaeEvaluation = {
        items: r.items,
        tokens: r.tokens,
        ceClean: r.ce.clean,
        ceSpliced: r.ce.spliced,
        ceZeroAblated: r.ce.zero,
        ceIncrease: r.ce.spliced - r.ce.clean,
        ceLossRecovered: lossRecovered(r.ce.clean, r.ce.spliced, r.ce.zero),
        accuracyClean: r.accuracyClean,
        accuracySpliced: r.accuracyEdited,
        accuracyChange: r.accuracyClean === null || r.accuracyEdited === null ? null : r.accuracyEdited - r.accuracyClean,
      };
      saes.setEvaluation(p.saeId, evaluation);
      return { saeId: p.saeId, evaluation };
    } finally {
      db.close();
    }
  },
};
