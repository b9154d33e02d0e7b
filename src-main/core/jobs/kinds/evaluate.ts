/**
 * Evaluate a VLM on a dataset in the workspace: prompts from a template, answers generated in
 * batches through the shared pool, extracted and graded item by item, predictions written in one
 * transaction per batch. Resuming skips items already graded.
 */
import path from 'node:path';
import { z } from 'zod';
import { choicesFor } from '../../eval/choices.js';
import { extractAnswer, isCorrect } from '../../eval/extract.js';
import { withWorkerStores } from '../../store/stores.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';

const params = z.object({ evalId: z.number().int().positive() }).strict();

export const evaluateJob: JobKind<z.infer<typeof params>, JobResultOf<'evaluate'>> = {
  kind: 'evaluate',
  title: 'Evaluate',
  resumable: true,
  startFromUi: false,
  params,
  result: jobResults['evaluate'],
  async run(ctx) {
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const evals = stores.evals;
      const datasets = stores.datasets;
      const e = evals.get(ctx.params.evalId);
      const dataset = datasets.get(e.datasetId);
      const textChoices = datasets.textChoices(dataset.id);
      const pending = evals.pendingItems(e.id, e.params.limit);
      const total = e.predictions + pending.length;
      let done = e.predictions;
      ctx.progress(total ? done / total : 0, 'loading the model');
      const vlm = await VlmPipeline.load(e.modelPath, ctx.pool, e.params.device);
      for (let start = 0; start < pending.length; start += e.params.batchSize) {
        throwIfCancelled(ctx.signal);
        const batch = pending.slice(start, start + e.params.batchSize);
        const vlmItems = batch.map((item) => ({
          image: path.join(dataset.path, item.image),
          prompt: e.params.promptTemplate.replace('{question}', item.question),
        }));
        const { outputs } = await vlm.generate(vlmItems, { maxNewTokens: e.params.maxNewTokens });
        evals.record(
          e.id,
          outputs.map((o, i) => {
            const item = batch[i]!;
            const extraction = extractAnswer(
              o.text,
              item.answer.type,
              choicesFor(item, textChoices),
              vlm.extractOptions(vlmItems[i]!.prompt),
            );
            return {
              itemId: item.id,
              raw: o.text,
              extracted: extraction.value,
              method: extraction.method,
              correct: isCorrect(item.answer, extraction),
              hitLimit: o.finishReason === 'length',
              tokens: o.tokenIds.length,
            };
          }),
        );
        done += batch.length;
        ctx.saveCheckpoint({ done });
        ctx.progress(done / total, `${done} of ${total} items graded`);
      }
      const finished = evals.get(e.id);
      return { evalId: e.id, items: finished.predictions, accuracy: finished.accuracy };
    });
  },
};
