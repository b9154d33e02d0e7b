/**
 * Spliced-in evaluation of a trained or imported SAE: replace its decoder tap by the SAE's
 * reconstruction (graph surgery, error term dropped) and measure, over dataset items with their
 * reference answers appended (teacher forcing), the next-token cross-entropy on text tokens against
 * the clean model and against zero-ablating the tap; then, optionally, benchmark accuracy of
 * generated answers with and without the splice. Results are stored on the SAE.
 */
import path from 'node:path';
import type { SaeFile } from '../../sae/sae-io.js';
import type { z } from 'zod';
import { saeEvalRequestSchema } from '../../../contract/contract.js';
import { OcularError } from '../../errors.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { MODES, accuracyPair, crossEntropyByMode, scoredTokens, spliceEvaluation, type Mode } from '../../sae/splice-eval.js';
import { withWorkerStores } from '../../store/stores.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
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
      const ce: Record<Mode, number> = { clean: 0, spliced: 0, zero: 0 };
      const correct = { clean: 0, spliced: 0 };
      let targets = 0;
      const steps = Math.ceil(items.length / p.batchSize) * (p.accuracy ? 2 : 1);
      let done = 0;
      for (let start = 0; start < items.length; start += p.batchSize) {
        throwIfCancelled(ctx.signal);
        const batch = items.slice(start, start + p.batchSize);
        const vlmItems = batch.map((it) => ({ image: path.join(dataset.path, it.image), prompt: it.question }));
        const prompt = await vlm.prepare(vlmItems);
        const answers = batch.map((it) => vlm.tokenize(String(it.answer.value)));
        const { prefix } = await vlm.appendTokens(prompt, answers);
        const batchTargets = scoredTokens(prompt, answers, p.scoreTokens);
        targets += batchTargets.length;
        const batchCe = await crossEntropyByMode(ctx.pool, session!, vlm, prefix, sae.dSae, batchTargets);
        for (const mode of MODES) ce[mode] += batchCe[mode];
        const shown = Math.min(start + p.batchSize, items.length);
        ctx.progress(++done / steps, `cross-entropy: ${shown} of ${items.length} items`);
        if (p.accuracy) {
          const pair = await accuracyPair(vlm, vlmItems, batch, { path: edited.path, dSae: sae.dSae }, textChoices, p.maxNewTokens);
          correct.clean += pair.clean;
          correct.spliced += pair.spliced;
          ctx.progress(++done / steps, `accuracy: ${shown} of ${items.length} items`);
        }
      }
      if (targets === 0) throw new OcularError('invalid_request', `Dataset ${dataset.id} gave no text tokens to score.`);
      const evaluation = spliceEvaluation(items.length, targets, ce, p.accuracy ? correct : null);
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
