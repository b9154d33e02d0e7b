/**
 * The replacement-model check of a transcoder set: every MLP replaced by its transcoder at once
 * (one edited decoder), compared with the clean model over dataset items — answer cross-entropy with
 * the error terms kept (equal to clean: the edit is exact) and dropped (the replacement model), and
 * accuracy of generated answers clean vs replaced. Spliced evaluation is core/sae/splice-eval.ts (one loop over named modes, shared with sae-eval).
 */
import { replacementCheckRequestSchema, type ReplacementCheck } from '../../../contract/contract.js';
import { spliceEvaluate } from '../../sae/splice-eval.js';
import { loadSet, replacementEdits, replacementFeeds } from '../../circuits/transcoder-set.js';
import { OcularError } from '../../errors.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { withWorkerStores } from '../../store/stores.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import type { JobKind } from '../job-kind.js';

export const replacementCheckParams = replacementCheckRequestSchema.strict();

export const replacementCheckJob: JobKind<ReturnType<typeof replacementCheckParams.parse>, JobResultOf<'replacement-check'>> = {
  kind: 'replacement-check',
  title: 'Check replacement model',
  resumable: false,
  startFromUi: false,
  params: replacementCheckParams,
  result: jobResults['replacement-check'],
  async run(ctx): Promise<ReplacementCheck> {
    const p = ctx.params;
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const set = loadSet(stores.saes, p.setId);
      const model = stores.models.get(p.modelId);
      const datasets = stores.datasets;
      const dataset = datasets.get(p.datasetId);
      ctx.progress(0, `replacing ${set.layers.length} MLPs by transcoders`);
      const vlm = await VlmPipeline.load(model.path, ctx.pool, p.device);
      const edited = writeEditedGraph(
        vlm.files.decoder,
        { transcoderEdits: replacementEdits(set) },
        { cacheDir: stores.layout.graphCache },
      );
      const [session] = await ctx.pool.loadTogether([edited.path, vlm.files.embed], p.device);
      const r = await spliceEvaluate<'clean' | 'kept' | 'replaced'>({
        vlm,
        pool: ctx.pool,
        session: session!,
        editedPath: edited.path,
        datasetDir: dataset.path,
        items: datasets.items(dataset.id, { limit: p.limit }),
        textChoices: datasets.textChoices(dataset.id),
        batchSize: p.batchSize,
        scoreTokens: p.scoreTokens,
        modes: {
          clean: (b, l) => replacementFeeds(set, b, l, 1),
          kept: (b, l, mask) => replacementFeeds(set, b, l, 1, mask),
          replaced: (b, l, mask) => replacementFeeds(set, b, l, 0, mask),
        },
        accuracyMode: p.accuracy ? 'replaced' : null,
        maxNewTokens: p.maxNewTokens,
        signal: ctx.signal,
        progress: (f, m) => ctx.progress(f, m),
      });
      if (r.tokens === 0) throw new OcularError('invalid_request', `Dataset ${dataset.id} gave no tokens to score.`);
      return {
        setId: p.setId,
        layers: set.layers.map((l) => l.layer),
        items: r.items,
        tokens: r.tokens,
        ceClean: r.ce.clean,
        ceErrorsKept: r.ce.kept,
        ceReplaced: r.ce.replaced,
        ceIncrease: r.ce.replaced - r.ce.clean,
        accuracyClean: r.accuracyClean,
        accuracyReplaced: r.accuracyEdited,
        accuracyChange: r.accuracyClean === null || r.accuracyEdited === null ? null : r.accuracyEdited - r.accuracyClean,
      };
    });
  },
};
