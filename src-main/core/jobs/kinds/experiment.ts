/**
 * A steering / ablation experiment: every condition (baseline, interventions, union, controls) runs
 * the same items through the model with one edited graph (SAE edit + steering input + the tap
 * exposed) — the decoder's, or for a vision-tower tap the vision encoder's, whose edited image
 * features the prompts then carry (experiments/vision-edit.ts) — so conditions differ only in the
 * inputs fed. Per item: the generated answer,
 * extracted and graded as the evaluation harness does, the activation shift at the edited positions,
 * and the KL divergence of the first answer token's distribution from the baseline's. Outputs are
 * saved condition by condition, so an interrupted run resumes after the last finished condition.
 */
import path from 'node:path';
import { z } from 'zod';
import type { ConditionResult, ExperimentSpec } from '../../../contract/contract.js';
import { AnalysisStore } from '../../analysis/analysis-store.js';
import { LabelStore } from '../../analysis/label-store.js';
import { DatasetStore, type StoredItem } from '../../datasets/dataset-store.js';
import { extractAnswer, isCorrect } from '../../eval/extract.js';
import { OcularError } from '../../errors.js';
import { activePerRow, encodeGraphFile } from '../../analysis/encode-graph.js';
import { buildConditions, type Condition } from '../../experiments/conditions.js';
import { conditionFeeds, meanShift, type EditContext } from '../../experiments/edit-feeds.js';
import { editVisionTower } from '../../experiments/vision-edit.js';
import { ExperimentStore, type StoredOutput } from '../../experiments/experiment-store.js';
import { resolveFeatureSet } from '../../experiments/feature-sets.js';
import { selectItems } from '../../experiments/item-selection.js';
import { bootstrapMeanCi, klFromLogits, mean, pairedPermutationP } from '../../experiments/stats.js';
import { ModelRegistry } from '../../model/registry.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { readModel } from '../../onnx/model-io.js';
import { discoverTowerTaps } from '../../onnx/taps.js';
import { SaeStore } from '../../sae/sae-store.js';
import { openWorkerDb } from '../../store/sqlite.js';
import { DB_FILE } from '../../store/workspace.js';
import { mulberry32 } from '../../util/random.js';
import { VERSION } from '../../version.js';
import type { PromptLayout } from '../../vlm/pipeline.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { choicesFor } from './evaluate.js';

const params = z.object({ experimentId: z.number().int().positive() }).strict();

/** Which prompt positions an edit applies to. */
function promptMask(prefix: PromptLayout, where: ExperimentSpec['where']): Float32Array {
  const mask = new Float32Array(prefix.batch * prefix.length);
  prefix.tokens.forEach((row, r) =>
    row.forEach((t, i) => {
      if (t.modality === 'pad') return;
      if (where === 'all' || where === t.modality) mask[r * prefix.length + i] = 1;
    }),
  );
  return mask;
}

export const experimentJob: JobKind<z.infer<typeof params>> = {
  kind: 'experiment',
  title: 'Experiment',
  resumable: true,
  startFromUi: false,
  params,
  async run(ctx) {
    const started = Date.now();
    const db = openWorkerDb(path.join(ctx.workspaceDir, DB_FILE));
    try {
      const store = new ExperimentStore(db);
      const e = store.get(ctx.params.experimentId);
      const spec = e.spec;
      const sae = new SaeStore(db, ctx.workspaceDir).load(spec.saeId);
      const tap = sae.hookName;
      if (!tap) throw new OcularError('invalid_request', `SAE ${spec.saeId} names no tap (hook_name), so there is nothing to edit.`);
      const analyses = new AnalysisStore(db);
      const analysis = analyses.get(spec.analysisId);
      if (analysis.saeId !== spec.saeId)
        throw new OcularError('invalid_request', `Analysis ${analysis.id} is of SAE ${analysis.saeId}, not ${spec.saeId}.`);
      const sets = new Map(
        spec.featureSets.map((s) => [
          s.name,
          resolveFeatureSet(s, { saeId: spec.saeId, dSae: sae.dSae, analysisId: spec.analysisId, analyses, labels: new LabelStore(db) }),
        ]),
      );
      const overall = analyses.overallMeans(spec.analysisId);
      const alive = [...overall].filter(([, m]) => m > 0).map(([f]) => f);
      const conditions = buildConditions(spec, sets, alive);

      const datasets = new DatasetStore(db);
      const dataset = datasets.get(spec.datasetId);
      const textChoices = datasets.textChoices(dataset.id);
      const items: StoredItem[] = selectItems(datasets.items(dataset.id), spec.tasks, spec.limit);
      if (items.length === 0)
        throw new OcularError('invalid_request', `Dataset ${dataset.id} has no items of ${spec.tasks?.join(', ') ?? 'any task'}.`);

      const model = new ModelRegistry(db).get(spec.modelId);
      const vision = tap.startsWith('vision.');
      if (vision && spec.where !== 'image' && spec.where !== 'all')
        throw new OcularError(
          'invalid_request',
          `SAE ${spec.saeId} reads the vision tower (${tap}), whose tokens are image patches: apply at 'image' or 'all', not '${spec.where}'.`,
        );
      if (!vision && spec.patches !== 'all')
        throw new OcularError(
          'invalid_request',
          `patches '${spec.patches}' chooses vision-tower patches; SAE ${spec.saeId} reads the decoder (${tap}).`,
        );
      ctx.progress(0, `loading the model and editing its ${vision ? 'vision tower' : 'decoder'}`);
      const vlm = await VlmPipeline.load(model.path, ctx.pool, spec.device);
      const cacheDir = path.join(ctx.workspaceDir, 'blobs', 'graph-cache');
      const edited = writeEditedGraph(
        vision ? vlm.files.vision : vlm.files.decoder,
        { saeEdits: [{ id: 'x', tap, sae }], steer: [tap], expose: [tap] },
        { cacheDir, ...(vision ? { tapPrefix: 'vision.' } : {}) },
      );
      const [session] = await ctx.pool.loadTogether([edited.path, vlm.files.embed], spec.device);
      const d = sae.dIn;
      const unit = (() => {
        const r = mulberry32(spec.seed * 13 + 5);
        const v = Float32Array.from({ length: d }, () => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r()));
        const n = Math.hypot(...v);
        return v.map((x) => x / n);
      })();
      const edit: EditContext = { op: spec.operation, dSae: sae.dSae, d, W_dec: sae.W_dec, means: overall, unit, tap };
      const byId = new Map(conditions.map((c) => [c.id, c]));
      const visionRun = vision
        ? {
            rank: discoverTowerTaps(readModel(vlm.files.vision).graph, 'vision.')?.taps.find((t) => t.name === tap)?.shape?.length ?? null,
            encoder: spec.patches === 'firing' ? await ctx.pool.load(encodeGraphFile(ctx.workspaceDir, sae), spec.device) : null,
          }
        : null;

      const done = new Set(
        conditions.filter((c) => c.kind !== 'baseline' && store.conditionOutputs(e.id, c.id).length === items.length).map((c) => c.id),
      );
      const results = new Map<string, StoredOutput[]>();
      const baselineLogits = new Map<number, Float32Array>();
      let step = 0;
      for (const c of conditions) {
        throwIfCancelled(ctx.signal);
        if (done.has(c.id)) {
          results.set(c.id, store.conditionOutputs(e.id, c.id));
          step++;
          continue;
        }
        const control = c.controlFor ? new Map(results.get(c.controlFor)!.map((o) => [o.itemId, o])) : null;
        const outputs: StoredOutput[] = [];
        for (let start = 0; start < items.length; start += spec.batchSize) {
          throwIfCancelled(ctx.signal);
          const batch = items.slice(start, start + spec.batchSize);
          const vlmItems = batch.map((it) => ({ image: path.join(dataset.path, it.image), prompt: it.question }));
          const norms = c.kind === 'random-direction' ? batch.map((it) => control!.get(it.id)?.shiftNorm ?? 0) : null;
          let shift: number[];
          let gen: Awaited<ReturnType<VlmPipeline['generate']>>;
          if (visionRun) {
            // The features whose firing picks the patches: a random direction goes where its intervention's fire.
            const firing = c.kind === 'random-direction' ? byId.get(c.controlFor!)!.features : c.features;
            const v = await editVisionTower(ctx.pool, vlm, session!, vlmItems, {
              edit,
              condition: c,
              rank: visionRun.rank,
              firing:
                visionRun.encoder && c.kind !== 'baseline' ? { encoder: visionRun.encoder, k: activePerRow(sae), features: firing } : null,
              norms,
            });
            shift = v.shift;
            gen = await vlm.generate(vlmItems, {
              maxNewTokens: spec.maxNewTokens,
              returnFirstLogits: true,
              visionEdit: { visionPath: edited.path, feeds: () => v.batchFeeds },
            });
          } else {
            const prefix = await vlm.prepare(vlmItems);
            const mask = promptMask(prefix, spec.where);
            const dims = [prefix.batch, prefix.length];
            const normAt = norms && ((p: number) => norms[Math.floor(p / prefix.length)]!);
            // The activation shift this condition causes at the edited prompt positions.
            const run = async (cond: Condition) =>
              (await ctx.pool.run(session!, { ...vlm.prefillFeeds(prefix), ...conditionFeeds(edit, cond, dims, mask, normAt) }, [tap]))[
                tap
              ]!.data as Float32Array;
            const x0 = await run(conditions[0]!);
            const x1 = await run(c);
            shift = batch.map((_, r) => meanShift(x0, x1, mask, d, r * prefix.length, (r + 1) * prefix.length));
            const generatedMask = new Float32Array(prefix.batch).fill(spec.where === 'generated' || spec.where === 'all' ? 1 : 0);
            gen = await vlm.generate(vlmItems, {
              maxNewTokens: spec.maxNewTokens,
              returnFirstLogits: true,
              edit: {
                decoderPath: edited.path,
                feeds: (pre) => ({
                  prefill: conditionFeeds(
                    edit,
                    c,
                    [pre.batch, pre.length],
                    promptMask(pre, spec.where),
                    norms && ((p) => norms[Math.floor(p / pre.length)]!),
                  ),
                  step: conditionFeeds(edit, c, [pre.batch, 1], generatedMask, norms && ((p) => norms[p]!)),
                }),
              },
            });
          }
          const vocab = gen.result.firstLogits!.length / batch.length;
          batch.forEach((it, r) => {
            const logits = gen.result.firstLogits!.subarray(r * vocab, (r + 1) * vocab);
            if (c.kind === 'baseline') baselineLogits.set(it.id, Float32Array.from(logits));
            const extraction = extractAnswer(gen.outputs[r]!.text, it.answer.type, choicesFor(it, textChoices));
            outputs.push({
              itemId: it.id,
              condition: c.id,
              raw: gen.outputs[r]!.text,
              extracted: extraction.value === null ? null : String(extraction.value),
              correct: isCorrect(it.answer, extraction),
              shiftNorm: shift[r]!,
              kl: c.kind === 'baseline' ? 0 : klFromLogits(baselineLogits.get(it.id)!, logits),
            });
          });
        }
        if (c.kind !== 'baseline') store.saveCondition(e.id, c.id, outputs);
        results.set(c.id, outputs);
        ctx.saveCheckpoint({ conditions: ++step });
        ctx.progress(step / conditions.length, `${step} of ${conditions.length} conditions (${c.id})`);
      }
      store.saveCondition(e.id, 'baseline', results.get('baseline')!);

      // Statistics over items, paired against the baseline and against each intervention's controls.
      const base = results.get('baseline')!;
      const byItem = new Map(items.map((it) => [it.id, it]));
      const correct = (id: string) => results.get(id)!.map((o) => (o.correct ? 1 : 0));
      const baseAcc = mean(correct('baseline'));
      const groups = (id: string, key: (it: StoredItem) => string | null) => {
        const out = new Map<string, { c: number[]; base: number[]; drift: number[]; shift: number[]; kl: number[] }>();
        results.get(id)!.forEach((o, i) => {
          const k = key(byItem.get(o.itemId)!);
          if (k === null) return;
          const g = out.get(k) ?? { c: [], base: [], drift: [], shift: [], kl: [] };
          g.c.push(o.correct ? 1 : 0);
          g.base.push(base[i]!.correct ? 1 : 0);
          g.drift.push(o.extracted === base[i]!.extracted ? 0 : 1);
          g.shift.push(o.shiftNorm);
          g.kl.push(o.kl);
          out.set(k, g);
        });
        return [...out]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, g], j) => ({
            key: k,
            n: g.c.length,
            accuracy: mean(g.c),
            ci95: bootstrapMeanCi(g.c, spec.resamples, spec.seed + j),
            drift: mean(g.drift),
            shiftNorm: mean(g.shift),
            klFirstToken: mean(g.kl),
            pVsBaseline: id === 'baseline' ? null : pairedPermutationP(g.c, g.base, spec.resamples, spec.seed + 500 + j),
          }));
      };
      const summary: ConditionResult[] = conditions.map((c, ci) => {
        const outs = results.get(c.id)!;
        const acc = correct(c.id);
        const diff = acc.map((v, i) => v - (base[i]!.correct ? 1 : 0));
        return {
          ...c,
          n: outs.length,
          accuracy: mean(acc),
          ci95: bootstrapMeanCi(acc, spec.resamples, spec.seed + ci),
          accuracyChange: mean(acc) - baseAcc,
          accuracyChangeCi95: bootstrapMeanCi(diff, spec.resamples, spec.seed + 1000 + ci),
          drift: mean(outs.map((o, i) => (o.extracted === base[i]!.extracted ? 0 : 1))),
          shiftNorm: mean(outs.map((o) => o.shiftNorm)),
          klFirstToken: mean(outs.map((o) => o.kl)),
          pVsBaseline: c.kind === 'baseline' ? null : pairedPermutationP(acc, correct('baseline'), spec.resamples, spec.seed + 2000 + ci),
          pVsControls: {},
          flagged: false,
          byTask: groups(c.id, (it) => it.task),
          byDifficulty: groups(c.id, (it) => (it.difficulty === null ? null : String(it.difficulty))),
        };
      });
      for (const r of summary) {
        if (r.kind !== 'intervention' && r.kind !== 'union') continue;
        const controls = summary.filter((x) => x.controlFor === r.id);
        for (const [j, ctl] of controls.entries())
          r.pVsControls[ctl.id] = pairedPermutationP(correct(r.id), correct(ctl.id), spec.resamples, spec.seed + 3000 + j);
        r.flagged = controls.some((ctl) => Math.abs(ctl.accuracyChange) >= Math.abs(r.accuracyChange));
      }
      store.saveResults(e.id, {
        conditions: summary,
        items: items.length,
        resamples: spec.resamples,
        seed: spec.seed,
        version: VERSION,
        featureSets: Object.fromEntries(sets),
        seconds: (Date.now() - started) / 1000,
      });
      return { experimentId: e.id, conditions: summary.length, items: items.length };
    } finally {
      db.close();
    }
  },
};
