/**
 * Circuit patching over pairs of prompts (core/circuits/patch*.ts): resolves the set, the model it
 * was trained on, the pairs (a dataset's, or one pair of image files) and the features (given, or a
 * saved graph's feature nodes), then runs and summarises. Thin: the domain lives in core/circuits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { circuitPatchParamsSchema, type CircuitPatchResult } from '../../../contract/contract.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { Patcher, type PatchSelection } from '../../circuits/patch.js';
import { datasetPairs, pairGraphTracer, runPatch, type PatchPrompt } from '../../circuits/patch-run.js';
import { summarizePatch } from '../../circuits/patch-stats.js';
import { graphFeatureNodes, setModelDir } from '../../circuits/patch-inputs.js';
import { loadSet } from '../../circuits/transcoder-set.js';
import { OcularError } from '../../errors.js';
import { withWorkerStores } from '../../store/stores.js';
import { loadProcessor, tokenTexts } from '../../vlm/processor.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import type { JobKind } from '../job-kind.js';

export const circuitPatchJob: JobKind<ReturnType<typeof circuitPatchParamsSchema.parse>, JobResultOf<'circuit-patch'>> = {
  kind: 'circuit-patch',
  title: 'Patch circuit',
  resumable: false,
  startFromUi: false,
  params: circuitPatchParamsSchema,
  result: jobResults['circuit-patch'],
  async run(ctx): Promise<CircuitPatchResult> {
    const p = ctx.params;
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const set = loadSet(stores.saes, p.setId);
      const modelDir = setModelDir(stores, p.setId);
      const selection: PatchSelection = p.pairGraph
        ? { kind: 'pair-graph', ...p.pairGraph }
        : p.graphId !== undefined
          ? { kind: 'graph', nodes: graphFeatureNodes(stores.layout.circuit(p.graphId), p.graphId, p.setId) }
          : { kind: 'features', features: p.features!, positions: p.positions };
      let candidates: Array<[PatchPrompt, PatchPrompt]>;
      if ('datasetId' in p) {
        const dataset = stores.datasets.get(p.datasetId);
        const prompt = (it: { key: string; image: string; question: string; answer: { value: unknown } }): PatchPrompt => ({
          key: it.key,
          image: path.join(dataset.path, it.image),
          prompt: it.question,
          answer: String(it.answer.value),
        });
        candidates = datasetPairs(stores.datasets.items(dataset.id), p, p.seed).map(([a, b]) => [prompt(a), prompt(b)]);
        if (candidates.length === 0)
          throw new OcularError(
            'invalid_request',
            `Dataset ${dataset.id} has no pair of items with different answers under these filters.`,
          );
      } else {
        for (const x of [p.a, p.b]) if (!fs.existsSync(x.image)) throw new OcularError('invalid_request', `No image at ${x.image}.`);
        candidates = [
          [
            { key: 'A', ...p.a, answer: p.a.answer ?? null },
            { key: 'B', ...p.b, answer: p.b.answer ?? null },
          ],
        ];
      }
      ctx.progress(0, `patching ${describe(selection, p.graphId, p.positions)}`);
      const vlm = await VlmPipeline.load(modelDir, ctx.pool, p.device);
      const patcher = await Patcher.open(vlm, ctx.pool, p.device, set, stores.layout.graphCache);
      const run = await runPatch(patcher, vlm, candidates, {
        selection,
        traceNodes: pairGraphTracer(vlm, ctx.pool, p.device, modelDir, set, stores.layout.graphCache, {
          maxFeatureNodes: p.pairGraph?.maxFeatureNodes ?? 0,
          nodeThreshold: p.pairGraph?.nodeThreshold ?? 1,
        }),
        controls: p.controls,
        seed: p.seed,
        limit: 'limit' in p ? p.limit : 1,
        signal: ctx.signal,
        progress: (f, m) => ctx.progress(f, m),
      });
      const summary = summarizePatch(run.pairs, { resamples: p.resamples, seed: p.seed });
      const processor = await loadProcessor(modelDir);
      const texts = tokenTexts(processor.tokenizer, new Set(run.pairs.flatMap((x) => [x.answerA, x.answerB])));
      return {
        setId: p.setId,
        selection: describe(selection, p.graphId, p.positions),
        ...summary,
        skipped: run.skipped,
        perPair: run.pairs.map((x) => ({ ...x, answerA: texts.get(x.answerA) ?? '', answerB: texts.get(x.answerB) ?? '' })),
      };
    });
  },
};

function describe(s: PatchSelection, graphId: number | undefined, positions: string): string {
  if (s.kind === 'graph') return `graph ${graphId}: ${s.nodes.length} feature nodes at their positions`;
  if (s.kind === 'pair-graph')
    return `per pair, A's graph (A's answer vs B's; ${s.maxFeatureNodes} feature rows, node threshold ${s.nodeThreshold}): its feature nodes`;
  return `${s.features.length} features at ${positions} positions`;
}
