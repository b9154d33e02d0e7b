/**
 * A steering / ablation experiment: every condition (baseline, interventions, union, controls) runs
 * the same items through the model with one edited decoder graph (SAE edit + steering input + the
 * tap exposed), so conditions differ only in the inputs fed. Per item: the generated answer,
 * extracted and graded as the evaluation harness does, the activation shift at the edited positions,
 * and the KL divergence of the first answer token's distribution from the baseline's. Outputs are
 * saved condition by condition, so an interrupted run resumes after the last finished condition.
 */
import path from 'node:path';
import { z } from 'zod';
import type { ConditionResult, ExperimentSpec } from '../../../contract/contract.js';
import { type StoredItem } from '../../datasets/dataset-store.js';
import { extractAnswer, isCorrect } from '../../eval/extract.js';
import { OcularError } from '../../errors.js';
import { buildConditions, type Condition } from '../../experiments/conditions.js';
import { type StoredOutput } from '../../experiments/experiment-store.js';
import { resolveFeatureSet } from '../../experiments/feature-sets.js';
import { selectItems } from '../../experiments/item-selection.js';
import { bootstrapMeanCi, klFromLogits, mean, pairedPermutationP } from '../../experiments/stats.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { saeIdentityInputs } from '../../onnx/surgery.js';
import type { WireTensor } from '../../runtime/pool-protocol.js';
import { withWorkerStores } from '../../store/stores.js';
import { mulberry32 } from '../../util/random.js';
import { VERSION } from '../../version.js';
import type { PromptLayout } from '../../vlm/pipeline.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { choicesFor } from './evaluate.js';
import { layoutOf } from '../../store/layout.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { streamOf } from '../../../contract/tap-names.js';

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
      const tap = sae.hookName;
      if (!tap || streamOf(tap) === 'vision')
        throw new OcularError('invalid_request', `Experiments edit a decoder tap; SAE ${spec.saeId} reads ${tap ?? 'no tap'}.`);
      const analyses = stores.analyses;
      const analysis = analyses.get(spec.analysisId);
      if (analysis.saeId !== spec.saeId)
        throw new OcularError('invalid_request', `Analysis ${analysis.id} is of SAE ${analysis.saeId}, not ${spec.saeId}.`);
      const sets = new Map(
        spec.featureSets.map((s) => [
          s.name,
          resolveFeatureSet(s, { saeId: spec.saeId, dSae: sae.dSae, analysisId: spec.analysisId, analyses, labels: stores.labels }),
        ]),
      );
      const overall = analyses.overallMeans(spec.analysisId);
      const alive = [...overall].filter(([, m]) => m > 0).map(([f]) => f);
      const conditions = buildConditions(spec, sets, alive);

      const datasets = stores.datasets;
      const dataset = datasets.get(spec.datasetId);
      const textChoices = datasets.textChoices(dataset.id);
      const items: StoredItem[] = selectItems(datasets.items(dataset.id), spec.tasks, spec.limit);
      if (items.length === 0)
        throw new OcularError('invalid_request', `Dataset ${dataset.id} has no items of ${spec.tasks?.join(', ') ?? 'any task'}.`);

      const model = stores.models.get(spec.modelId);
      ctx.progress(0, 'loading the model and editing its decoder');
      const vlm = await VlmPipeline.load(model.path, ctx.pool, spec.device);
      const edited = writeEditedGraph(
        vlm.files.decoder,
        { saeEdits: [{ id: 'x', tap, sae }], steer: [tap], expose: [tap] },
        { cacheDir: layoutOf(ctx.workspaceDir).graphCache },
      );
      const [session] = await ctx.pool.loadTogether([edited.path, vlm.files.embed], spec.device);
      const d = sae.dIn;
      const unit = (() => {
        const r = mulberry32(spec.seed * 13 + 5);
        const v = Float32Array.from({ length: d }, () => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r()));
        const n = Math.hypot(...v);
        return v.map((x) => x / n);
      })();
      const decoderSum = (features: number[]) => {
        const v = new Float32Array(d);
        for (const f of features) for (let i = 0; i < d; i++) v[i]! += sae.W_dec[f * d + i]!;
        return v;
      };

      /** The edit inputs for a condition over `batch` x `length` positions; `norms` sizes random directions per row. */
      const feedsFor = (
        c: Condition,
        batch: number,
        length: number,
        mask: Float32Array,
        norms: number[] | null,
      ): Record<string, WireTensor> => {
        const f: Record<string, WireTensor> = saeIdentityInputs('x', sae.dSae, batch, length);
        (f['sae.x.position_mask']!.data as Float32Array).set(mask);
        const steer = new Float32Array(batch * length * d);
        const op = spec.operation;
        if (c.kind !== 'baseline' && c.kind !== 'random-direction') {
          const scale = f['sae.x.scale']!.data as Float32Array;
          const clampMask = f['sae.x.clamp_mask']!.data as Float32Array;
          const clampValue = f['sae.x.clamp_value']!.data as Float32Array;
          for (const feat of c.features) {
            if (op.op === 'scale') scale[feat] = c.value!;
            else if (op.op === 'zero') scale[feat] = 0;
            else if (op.op === 'clamp' || op.op === 'mean') {
              clampMask[feat] = 1;
              clampValue[feat] = op.op === 'clamp' ? c.value! : (overall.get(feat) ?? 0);
            }
          }
          if (op.op === 'add') {
            const dir = decoderSum(c.features);
            for (let p = 0; p < batch * length; p++) if (mask[p]) for (let i = 0; i < d; i++) steer[p * d + i] = c.value! * dir[i]!;
          }
        }
        if (c.kind === 'random-direction' && norms) {
          for (let p = 0; p < batch * length; p++) {
            if (!mask[p]) continue;
            const n = norms[Math.floor(p / length)]!;
            for (let i = 0; i < d; i++) steer[p * d + i] = unit[i]! * n;
          }
        }
        f[`steer.${tap}`] = { type: 'float32', dims: [batch, length, d], data: steer };
        return f;
      };

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
          const prefix = await vlm.prepare(vlmItems);
          const mask = promptMask(prefix, spec.where);
          const norms = c.kind === 'random-direction' ? batch.map((it) => control!.get(it.id)?.shiftNorm ?? 0) : null;
          // The activation shift this condition causes at the edited prompt positions.
          const base = await ctx.pool.run(
            session!,
            { ...vlm.prefillFeeds(prefix), ...feedsFor(conditions[0]!, prefix.batch, prefix.length, mask, null) },
            [tap],
          );
          const moved = await ctx.pool.run(
            session!,
            { ...vlm.prefillFeeds(prefix), ...feedsFor(c, prefix.batch, prefix.length, mask, norms) },
            [tap],
          );
          const x0 = base[tap]!.data as Float32Array;
          const x1 = moved[tap]!.data as Float32Array;
          const shift = batch.map((_, r) => {
            let total = 0;
            let count = 0;
            for (let i = 0; i < prefix.length; i++) {
              const p = r * prefix.length + i;
              if (!mask[p]) continue;
              let s = 0;
              for (let j = 0; j < d; j++) s += (x1[p * d + j]! - x0[p * d + j]!) ** 2;
              total += Math.sqrt(s);
              count++;
            }
            return count ? total / count : 0;
          });
          const generatedMask = new Float32Array(prefix.batch).fill(spec.where === 'generated' || spec.where === 'all' ? 1 : 0);
          const gen = await vlm.generate(vlmItems, {
            maxNewTokens: spec.maxNewTokens,
            returnFirstLogits: true,
            edit: {
              decoderPath: edited.path,
              feeds: (pre) => ({
                prefill: feedsFor(c, pre.batch, pre.length, promptMask(pre, spec.where), norms),
                step: feedsFor(c, pre.batch, 1, generatedMask, norms),
              }),
            },
          });
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
    });
  },
};
