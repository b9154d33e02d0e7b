/**
 * A steering / ablation experiment: every condition (baseline, interventions, union, controls) runs
 * the same items through the model with one edited graph (the decoder's, or the vision encoder's for a
 * vision-tower tap, whose edited image features the prompts then carry) (SAE edit + steering input + the
 * tap exposed), so conditions differ only in the inputs fed. Per item: the generated answer,
 * extracted and graded as the evaluation harness does, the activation shift at the edited positions,
 * and the KL divergence of the first answer token's distribution from the baseline's. Outputs are
 * saved condition by condition, so an interrupted run resumes after the last finished condition.
 */
import { z } from 'zod';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { editFeeds } from '../../experiments/edit-inputs.js';
import { editedTap, planExperiment, visionRunOf } from '../../experiments/experiment-setup.js';
import { type StoredOutput } from '../../experiments/experiment-store.js';
import { runCondition } from '../../experiments/run-condition.js';
import { summarizeExperiment } from '../../experiments/summarize.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { withWorkerStores } from '../../store/stores.js';
import { VERSION } from '../../version.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';

const params = z.object({ experimentId: z.number().int().positive() }).strict();

export const experimentJob: JobKind<z.infer<typeof params>, JobResultOf<'experiment'>> = {
  kind: 'experiment',
  title: 'Experiment',
  resumable: true,
  startFromUi: false,
  params,
  result: jobResults['experiment'],
  async run(ctx) {
    const started = Date.now();
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const store = stores.experiments;
      const e = store.get(ctx.params.experimentId);
      const spec = e.spec;
      const sae = stores.saes.load(spec.saeId);
      const { tap, vision } = editedTap(spec, sae);
      const { sets, overall, conditions, dataset, items } = planExperiment(stores, spec, sae);

      ctx.progress(0, `loading the model and editing its ${vision ? 'vision tower' : 'decoder'}`);
      const vlm = await VlmPipeline.load(stores.models.get(spec.modelId).path, ctx.pool, spec.device);
      const edit = { saeEdits: [{ id: 'x', tap, sae }], steer: [tap], expose: [tap] };
      const cache = { cacheDir: stores.layout.graphCache, ...(vision ? { tapPrefix: 'vision.' } : {}) };
      const edited = writeEditedGraph(vision ? vlm.files.vision : vlm.files.decoder, edit, cache);
      const [session] = await ctx.pool.loadTogether([edited.path, vlm.files.embed], spec.device);
      const feeds = editFeeds(sae, tap, spec.operation, overall, spec.seed);
      const setup = { pool: ctx.pool, workspaceDir: ctx.workspaceDir, visionGraph: vlm.files.vision, spec, sae, tap };
      const visionRun = vision ? await visionRunOf(setup, overall, conditions) : null;
      const run = {
        pool: ctx.pool,
        signal: ctx.signal,
        vlm,
        session: session!,
        editedPath: edited.path,
        tap,
        d: sae.dIn,
        feeds,
        vision: visionRun,
      };
      const condRun = { ...run, spec, items, datasetPath: dataset.path, textChoices: stores.datasets.textChoices(dataset.id) };
      const baselineLogits = new Map<number, Float32Array>();
      const results = new Map<string, StoredOutput[]>();
      for (const [step, c] of conditions.entries()) {
        throwIfCancelled(ctx.signal);
        // A finished condition (not the baseline: later conditions need its logits) is read back on resume.
        const saved = c.kind === 'baseline' ? [] : store.conditionOutputs(e.id, c.id);
        if (saved.length === items.length) results.set(c.id, saved);
        else {
          const control = c.controlFor ? new Map(results.get(c.controlFor)!.map((o) => [o.itemId, o])) : null;
          results.set(c.id, await runCondition({ ...condRun, baselineLogits }, conditions[0]!, c, control));
          if (c.kind !== 'baseline') store.saveCondition(e.id, c.id, results.get(c.id)!);
          ctx.saveCheckpoint({ conditions: step + 1 });
          ctx.progress((step + 1) / conditions.length, `${step + 1} of ${conditions.length} conditions (${c.id})`);
        }
      }
      store.saveCondition(e.id, 'baseline', results.get('baseline')!);
      const summary = summarizeExperiment(conditions, results, items, spec);
      const seconds = (Date.now() - started) / 1000;
      const { resamples, seed } = spec;
      const featureSets = Object.fromEntries(sets);
      store.saveResults(e.id, { conditions: summary, items: items.length, resamples, seed, version: VERSION, featureSets, seconds });
      return { experimentId: e.id, conditions: summary.length, items: items.length };
    });
  },
};
