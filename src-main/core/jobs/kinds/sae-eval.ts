/**
 * Spliced-in evaluation of a trained or imported SAE: replace its decoder tap by the SAE's
 * reconstruction (graph surgery, error term dropped) and measure, over dataset items with their
 * reference answers appended (teacher forcing), the next-token cross-entropy on text tokens against
 * the clean model and against zero-ablating the tap; then, optionally, benchmark accuracy of
 * generated answers with and without the splice. Results are stored on the SAE.
 */
import path from 'node:path';
import type { z } from 'zod';
import { saeEvalRequestSchema } from '../../../contract/contract.js';
import { OcularError } from '../../errors.js';
import { extractAnswer, isCorrect } from '../../eval/extract.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { saeIdentityInputs } from '../../onnx/surgery.js';
import type { WireTensor } from '../../runtime/pool-protocol.js';
import { type SaeEvaluation } from '../../sae/sae-store.js';
import { crossEntropySum, lossRecovered } from '../../sae/splice-metrics.js';
import { withWorkerStores } from '../../store/stores.js';
import { VlmPipeline, type PromptLayout } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { choicesFor } from './evaluate.js';
import { layoutOf } from '../../store/layout.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { streamOf } from '../../../contract/tap-names.js';

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
      if (sae.dOut !== undefined || record.hookNameOut)
        throw new OcularError(
          'invalid_request',
          'Spliced-in evaluation replaces one tap by its reconstruction; a transcoder reads one tap and writes another.',
        );
      if (!sae.hookName || streamOf(sae.hookName) === 'vision')
        throw new OcularError(
          'invalid_request',
          `SAE ${p.saeId} is on ${sae.hookName ?? 'no tap'}; spliced-in evaluation needs a decoder tap (blocks.N.hook_...).`,
        );
      const model = stores.models.get(p.modelId);
      const datasets = stores.datasets;
      const dataset = datasets.get(p.datasetId);
      const items = datasets.items(dataset.id, { limit: p.limit });
      const textChoices = datasets.textChoices(dataset.id);
      ctx.progress(0, 'loading the model and splicing the SAE in');
      const vlm = await VlmPipeline.load(model.path, ctx.pool, p.device);
      const edited = writeEditedGraph(
        vlm.files.decoder,
        { saeEdits: [{ id: 's', tap: sae.hookName, sae }] },
        { cacheDir: layoutOf(ctx.workspaceDir).graphCache },
      );
      // Beside the token embedding, so generating with the splice needs no reload.
      const [session] = await ctx.pool.loadTogether([edited.path, vlm.files.embed], p.device);

      const ce: Record<Mode, number> = { clean: 0, spliced: 0, zero: 0 };
      let targets = 0;
      let correctClean = 0;
      let correctSpliced = 0;
      const steps = Math.ceil(items.length / p.batchSize) * (p.accuracy ? 2 : 1);
      let done = 0;
      for (let start = 0; start < items.length; start += p.batchSize) {
        throwIfCancelled(ctx.signal);
        const batch = items.slice(start, start + p.batchSize);
        const vlmItems = batch.map((it) => ({ image: path.join(dataset.path, it.image), prompt: it.question }));
        const prompt = await vlm.prepare(vlmItems);
        const answers = batch.map((it) => vlm.tokenize(String(it.answer.value)));
        const { prefix } = await vlm.appendTokens(prompt, answers);
        // Targets: the answer's tokens, or every next token that is text (prompt text after the image, then the answer).
        const batchTargets: Array<{ row: number; position: number; token: number }> = [];
        for (let r = 0; r < prefix.batch; r++) {
          if (p.scoreTokens === 'answer') {
            answers[r]!.forEach((token, i) => batchTargets.push({ row: r, position: prompt.length - 1 + i, token }));
            continue;
          }
          const row = [
            ...prompt.tokens[r]!.map((t) => ({ modality: t.modality, tokenId: t.tokenId })),
            ...answers[r]!.map((tokenId) => ({ modality: 'text', tokenId })),
          ];
          for (let i = 0; i + 1 < row.length; i++) {
            if (row[i]!.modality === 'pad' || row[i + 1]!.modality !== 'text' || row[i + 1]!.tokenId === null) continue;
            batchTargets.push({ row: r, position: i, token: row[i + 1]!.tokenId! });
          }
        }
        targets += batchTargets.length;
        for (const mode of ['clean', 'spliced', 'zero'] as const) {
          const out = await ctx.pool.run(
            session!,
            { ...vlm.prefillFeeds(prefix), ...editFeeds(sae.dSae, prefix.batch, prefix.length, mode, prefix.attentionMask) },
            ['logits'],
          );
          const logits = out.logits!;
          ce[mode] += crossEntropySum(logits.data as Float32Array, prefix.length, logits.dims[2]!, batchTargets);
        }
        ctx.progress(++done / steps, `cross-entropy: ${Math.min(start + p.batchSize, items.length)} of ${items.length} items`);

        if (p.accuracy) {
          const grade = (texts: string[]) =>
            texts.filter((text, i) =>
              isCorrect(batch[i]!.answer, extractAnswer(text, batch[i]!.answer.type, choicesFor(batch[i]!, textChoices))),
            ).length;
          const clean = await vlm.generate(vlmItems, { maxNewTokens: p.maxNewTokens });
          const spliced = await vlm.generate(vlmItems, {
            maxNewTokens: p.maxNewTokens,
            edit: {
              decoderPath: edited.path,
              feeds: (pre: PromptLayout) => ({
                prefill: editFeeds(sae.dSae, pre.batch, pre.length, 'spliced', pre.attentionMask),
                step: editFeeds(sae.dSae, pre.batch, 1, 'spliced'),
              }),
            },
          });
          correctClean += grade(clean.outputs.map((o) => o.text));
          correctSpliced += grade(spliced.outputs.map((o) => o.text));
          ctx.progress(++done / steps, `accuracy: ${Math.min(start + p.batchSize, items.length)} of ${items.length} items`);
        }
      }
      if (targets === 0) throw new OcularError('invalid_request', `Dataset ${dataset.id} gave no text tokens to score.`);
      const mean = (m: Mode) => ce[m] / targets;
      const evaluation: SaeEvaluation = {
        items: items.length,
        tokens: targets,
        ceClean: mean('clean'),
        ceSpliced: mean('spliced'),
        ceZeroAblated: mean('zero'),
        ceIncrease: mean('spliced') - mean('clean'),
        ceLossRecovered: lossRecovered(mean('clean'), mean('spliced'), mean('zero')),
        accuracyClean: p.accuracy ? correctClean / items.length : null,
        accuracySpliced: p.accuracy ? correctSpliced / items.length : null,
        accuracyChange: p.accuracy ? (correctSpliced - correctClean) / items.length : null,
      };
      saes.setEvaluation(p.saeId, evaluation);
      return { saeId: p.saeId, evaluation };
    });
  },
};
