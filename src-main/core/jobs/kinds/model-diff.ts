/**
 * Model diffing: run a base model and its fine-tune (one architecture, checked) over the same items,
 * read one SAE at its tap on the same tokens of both, grade both models' answers, and report what
 * moved (core/diff/). Nothing is written to the workspace but the job's result.
 */
import path from 'node:path';
import type { z } from 'zod';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { modelDiffRequestSchema } from '../../../contract/model-diff.js';
import { streamOf } from '../../../contract/tap-names.js';
import { checkSameArchitecture } from '../../diff/architecture.js';
import { DiffAccumulator, featureChanges, itemResamples, mostMoved } from '../../diff/feature-change.js';
import { taskChanges } from '../../diff/task-change.js';
import { OcularError } from '../../errors.js';
import { choicesFor } from '../../eval/choices.js';
import { extractAnswer, isCorrect } from '../../eval/extract.js';
import { selectItems } from '../../experiments/item-selection.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { decode, encode } from '../../sae/sae-encode.js';
import { withWorkerStores } from '../../store/stores.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';

const params = modelDiffRequestSchema;

export const modelDiffJob: JobKind<z.output<typeof params>, JobResultOf<'model-diff'>> = {
  kind: 'model-diff',
  title: 'Model diff (base vs fine-tuned)',
  resumable: false,
  startFromUi: false,
  params,
  result: jobResults['model-diff'],
  async run(ctx) {
    const p = ctx.params;
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const record = stores.saes.get(p.saeId);
      const sae = stores.saes.load(p.saeId);
      const tap = record.hookName;
      if (!tap || streamOf(tap) !== 'decoder' || record.hookNameOut)
        throw new OcularError('invalid_request', `SAE ${p.saeId} reads ${tap ?? 'no tap'}: model diffing takes an SAE on a decoder tap.`);
      const paths = [stores.models.get(p.baseModelId).path, stores.models.get(p.tunedModelId).path] as const;
      checkSameArchitecture(paths[0], paths[1]);
      const dataset = stores.datasets.get(p.datasetId);
      // Stratified by task as experiments are (tasks take turns), so a limit keeps every task.
      const items = selectItems(stores.datasets.items(dataset.id), null, p.limit);
      const textChoices = stores.datasets.textChoices(dataset.id);
      const kinds = new Set<string>(p.tokenKinds);
      const acc = new DiffAccumulator(items.length, sae.dSae, sae.dIn, p.bound);
      const correct: [boolean[], boolean[]] = [[], []];
      for (const m of [0, 1] as const) {
        ctx.progress(m / 2, `loading ${paths[m]}`);
        const vlm = await VlmPipeline.load(paths[m], ctx.pool, p.device);
        const tapped = await ctx.pool.load(
          writeEditedGraph(vlm.files.decoder, { expose: [tap] }, { cacheDir: stores.layout.graphCache }).path,
          p.device,
        );
        for (let start = 0; start < items.length; start += p.batchSize) {
          throwIfCancelled(ctx.signal);
          const batch = items.slice(start, start + p.batchSize);
          const vlmItems = batch.map((it) => ({ image: path.join(dataset.path, it.image), prompt: it.question }));
          const prefix = await vlm.prepare(vlmItems);
          const out = (await ctx.pool.run(tapped, vlm.prefillFeeds(prefix), [tap]))[tap]!;
          const data = out.data as Float32Array;
          const length = prefix.tokens[0]!.length;
          batch.forEach((_, r) => {
            const rows = prefix.tokens[r]!.flatMap((t, i) => (kinds.has(t.modality) ? [r * length + i] : []));
            const x = new Float32Array(rows.length * sae.dIn);
            rows.forEach((row, k) => x.set(data.subarray(row * sae.dIn, (row + 1) * sae.dIn), k * sae.dIn));
            const z = encode(sae, x);
            acc.add(m, start + r, x, decode(sae, z, x), z);
          });
          const { outputs } = await vlm.generate(vlmItems, { maxNewTokens: p.maxNewTokens });
          outputs.forEach((o, r) => {
            const item = batch[r]!;
            // graded as evaluation grades (extraction told whether the chat template opened a think block)
            const extraction = extractAnswer(
              o.text,
              item.answer.type,
              choicesFor(item, textChoices),
              vlm.extractOptions(vlmItems[r]!.prompt),
            );
            correct[m].push(isCorrect(item.answer, extraction));
          });
          const done = Math.min(start + p.batchSize, items.length);
          ctx.progress((m + done / items.length) / 2, `${m ? 'fine-tuned' : 'base'} model: ${done} of ${items.length} items`);
        }
      }
      ctx.progress(1, 'statistics');
      const all = items.map((_, i) => i);
      const changes = featureChanges(acc, p, itemResamples(all, p.resamples, p.seed));
      const tasks = taskChanges(
        acc,
        items.map((it) => it.task ?? '(no task)'),
        correct,
        { alpha: p.alpha, linked: p.linked, resamples: p.resamples, seed: p.seed },
      );
      const share = (c: boolean[]) => c.filter(Boolean).length / c.length;
      return {
        saeId: p.saeId,
        tap,
        datasetId: dataset.id,
        baseModel: paths[0],
        tunedModel: paths[1],
        items: items.length,
        tokens: acc.tokens.reduce((a, b) => a + b, 0),
        fvu: { base: acc.fvu(0), tuned: acc.fvu(1) },
        accuracy: { base: share(correct[0]), tuned: share(correct[1]) },
        thresholds: { bound: p.bound, quietRate: p.quietRate, activeRate: p.activeRate, alpha: p.alpha },
        methods: {
          rates: 'firing rate per token with a Wilson 95% interval (tokens as trials)',
          changes: `change in firing rate and mean activation per token, 95% paired percentile bootstrap over items (${p.resamples} resamples, seed ${p.seed})`,
          tasks: "accuracy with Wilson 95% intervals; change with Newcombe's paired interval; mid-p McNemar; Holm and BH across tasks",
          linked:
            'features ranked by |mean-activation change on the task| − |change on the other items|; bootstrap 95% over the task items',
        },
        moved: mostMoved(changes, p.moved),
        appeared: changes.filter((c) => c.status === 'appears').slice(0, 200),
        vanished: changes.filter((c) => c.status === 'vanishes').slice(0, 200),
        tasks,
      };
    });
  },
};
