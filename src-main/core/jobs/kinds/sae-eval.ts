/**
 * Spliced-in evaluation of a trained or imported SAE: replace its decoder tap by the SAE's
 * reconstruction (graph surgery, error term dropped) and measure, over dataset items with their
 * reference answers appended (teacher forcing), the next-token cross-entropy on text tokens against
 * the clean model and against zero-ablating the tap; then, optionally, benchmark accuracy of
 * generated answers with and without the splice. Results are stored on the SAE.
 */
import type { SaeFile } from '../../sae/sae-io.js';
import type { z } from 'zod';
import { saeEvalRequestSchema } from '../../../contract/contract.js';
import { OcularError } from '../../errors.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { spliceEvaluate, spliceEvaluation, spliceFeeds, type Mode } from '../../sae/splice-eval.js';
import { withWorkerStores } from '../../store/stores.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import type { JobKind } from '../job-kind.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { streamOf } from '../../../contract/tap-names.js';

export const saeEvalParams = saeEvalRequestSchema.strict();

export const saeEvalJob: JobKind<z.infer<typeof saeEvalParams>, JobResultOf<'sae-eval'>> = {
  kind: 'sae-eval',
  title: 'Evaluate SAE (spliced in)',
  resumable: false,
  startFromUi: false,
  params: saeEvalParams,
  result: jobResults['sae-eval'],
  async run(ctx) {
    const p = ctx.params;
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const saes = stores.saes;
      const record = saes.get(p.saeId);
      const sae = saes.load(p.saeId);
      const tap = decoderTap(p.saeId, sae, record.hookNameOut);
      const model = stores.models.get(p.modelId);
      const datasets = stores.datasets;
      const dataset = datasets.get(p.datasetId);
      const items = datasets.items(dataset.id, { limit: p.limit });
      const textChoices = datasets.textChoices(dataset.id);
      ctx.progress(0, 'loading the model and splicing the SAE in');
      const vlm = await VlmPipeline.load(model.path, ctx.pool, p.device);
      const edited = writeEditedGraph(vlm.files.decoder, { saeEdits: [{ id: 's', tap, sae }] }, { cacheDir: stores.layout.graphCache });
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
          clean: (b, l, mask) => spliceFeeds(sae.dSae, b, l, 'clean', mask),
          spliced: (b, l, mask) => spliceFeeds(sae.dSae, b, l, 'spliced', mask),
          zero: (b, l, mask) => spliceFeeds(sae.dSae, b, l, 'zero', mask),
        },
        accuracyMode: p.accuracy ? 'spliced' : null,
        maxNewTokens: p.maxNewTokens,
        signal: ctx.signal,
        progress: (f, m) => ctx.progress(f, m),
      });
      if (r.tokens === 0) throw new OcularError('invalid_request', `Dataset ${dataset.id} gave no text tokens to score.`);
      const evaluation = spliceEvaluation(r);
      saes.setEvaluation(p.saeId, evaluation);
      return { saeId: p.saeId, evaluation };
    });
  },
};

/** The decoder tap a (non-transcoder) SAE replaces. */
function decoderTap(saeId: number, sae: SaeFile, hookNameOut: string | null): string {
  if (sae.dOut !== undefined || hookNameOut)
    throw new OcularError(
      'invalid_request',
      'Spliced-in evaluation replaces one tap by its reconstruction; a transcoder reads one tap and writes another.',
    );
  if (!sae.hookName || streamOf(sae.hookName) === 'vision')
    throw new OcularError(
      'invalid_request',
      `SAE ${saeId} is on ${sae.hookName ?? 'no tap'}; spliced-in evaluation needs a decoder tap (blocks.N.hook_...).`,
    );
  return sae.hookName;
}
