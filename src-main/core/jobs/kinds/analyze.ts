/**
 * The feature analysis pass: stream a harvest's shards for the SAE's tap through an ONNX encoder
 * graph in the session pool, a chunk of rows at a time, accumulating per-feature statistics
 * (core/analysis/accumulator.ts) without ever holding the whole harvest. Then: the cross-modal
 * weight from the top image and text rows' hidden states, logit effects through the model's own
 * final norm and unembedding, the token strings and item images feature pages show, and the results
 * written in one transaction.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { binEdges } from '../../analysis/accumulator.js';
import { copyExampleImages, writeVocab } from '../../analysis/analysis-files.js';
import { encodePass, featureResults, topRowMeans, type RowLabels } from '../../analysis/analysis-pass.js';
import { encodeGraphFile } from '../../analysis/encode-graph.js';
import { logitEffects } from '../../analysis/logit-effects.js';
import { OcularError } from '../../errors.js';
import { streamOf, type HarvestRecord, type Stream } from '../../harvest/harvest-store.js';
import type { SaeFile } from '../../sae/sae-io.js';
import type { AnalysisRecord } from '../../../contract/contract.js';
import { ShardReader } from '../../harvest/shard-reader.js';
import type { Stores } from '../../store/stores.js';
import { withWorkerStores } from '../../store/stores.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';

const params = z.object({ analysisId: z.number().int().positive() }).strict();

export const analyzeJob: JobKind<z.infer<typeof params>, JobResultOf<'analyze'>> = {
  kind: 'analyze',
  title: 'Analyse features',
  resumable: true,
  startFromUi: false,
  params,
  result: jobResults['analyze'],
  async run(ctx) {
    const started = Date.now();
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const a = stores.analyses.get(ctx.params.analysisId);
      const p = a.params;
      const sae = stores.saes.load(a.saeId);
      const h = stores.harvests.get(a.harvestId);
      const tap = tapOf(a, sae, h);
      const stream = streamOf(tap);
      const folder = stores.layout.analysis(a.id);
      fs.mkdirSync(folder, { recursive: true });
      const session = await ctx.pool.load(encodeGraphFile(ctx.workspaceDir, sae), p.device);
      const reader = new ShardReader(stores.db, ctx.workspaceDir, h, tap);
      const { tasks, labels } = rowLabels(stores, h, stream);
      const { timings, lap } = stopwatch(started, 'setup');
      const pass = { pool: ctx.pool, session, signal: ctx.signal, progress: ctx.progress };
      const { acc, kth } = await encodePass(pass, reader, sae, labels, { topN: p.topN, crossK: p.crossK, tasks: tasks.length });
      writeFileAtomic(stores.layout.analysisKth(a.id), new Uint8Array(kth.buffer));
      lap('stream');
      ctx.progress(0.86, 'cross-modal weights');
      const meanOf = topRowMeans(reader, acc, sae.dSae, sae.dIn);
      lap('crossModalRead');
      throwIfCancelled(ctx.signal);
      ctx.progress(0.9, 'logit effects');
      const logits = stream === 'decoder' && p.logitTokens > 0 ? await logitEffects(ctx, h.modelPath, sae, p.logitTokens, p.device) : null;
      lap('logitEffects');
      // Token strings and item images that feature pages show.
      ctx.progress(0.95, 'token strings and images');
      const extra = logits ? logits.flatMap((l) => [...l.promoted, ...l.suppressed].map((t) => t.id)) : [];
      const vocab = await writeVocab(folder, h.modelPath, new Set([...stores.harvests.tokenIds(h.id, stream), ...extra]));
      const exampleRows = new Set<number>();
      for (let f = 0; f < sae.dSae; f++) for (const e of acc.top.of(f)) exampleRows.add(e.row);
      const items = stores.harvests.itemsOfRows(h.id, stream, exampleRows);
      copyExampleImages(folder, stores.datasets.get(h.datasetId).path, stores.datasets.itemsById([...items]));
      lap('tokensAndImages');
      const features = featureResults(acc, sae.dSae, meanOf, logits, vocab, tasks);
      const neverFired = features.filter((x) => x.density === 0).length;
      const { rows, truncatedRows } = acc;
      const histogramEdges = binEdges(acc.scale);
      const summary = {
        rows,
        features: sae.dSae,
        neverFired,
        truncatedRows,
        histogramEdges,
        logitEffects: logits !== null,
        seconds: 0,
        timings,
      };
      lap('features');
      stores.analyses.saveResults(a.id, summary, features);
      lap('save');
      summary.seconds = (Date.now() - started) / 1000;
      stores.analyses.setSummary(a.id, summary);
      return { analysisId: a.id, ...summary, histogramEdges: undefined };
    });
  },
};

/** The SAE's tap, which the harvest must hold at the SAE's width. */
function tapOf(a: AnalysisRecord, sae: SaeFile, h: HarvestRecord): string {
  const tap = sae.hookName;
  if (!tap || !h.stats[tap])
    throw new OcularError(
      'invalid_request',
      `SAE ${a.saeId} reads ${tap ?? 'no tap'}, which harvest ${h.id} does not hold (it has ${Object.keys(h.stats).join(', ')}).`,
    );
  if (h.stats[tap]!.width !== sae.dIn)
    throw new OcularError('invalid_request', `SAE ${a.saeId} expects width ${sae.dIn} but ${tap} has width ${h.stats[tap]!.width}.`);
  return tap;
}

/** Seconds per stage: the first stage since `started`, each later one since the previous lap. */
function stopwatch(started: number, first: string) {
  const timings: Record<string, number> = { [first]: (Date.now() - started) / 1000 };
  let mark = Date.now();
  const lap = (name: string) => {
    timings[name] = (Date.now() - mark) / 1000;
    mark = Date.now();
  };
  return { timings, lap };
}

/** Per-row labels for the pass: image token, the item's benchmark task (for per-task means), the item's answer position. */
function rowLabels(stores: Stores, h: HarvestRecord, stream: Stream): { tasks: string[]; labels: RowLabels } {
  const itemTask = new Map([...stores.datasets.itemLabels(h.datasetId).values()].map((r) => [r.id, r.task]));
  const tasks = [...new Set([...itemTask.values()].filter((t): t is string => t !== null))].sort().slice(0, 254);
  const taskIndex = new Map(tasks.map((t, i) => [t, i]));
  // Each item's last prompt token: where a causal model decides its answer.
  const answerRows = stores.harvests.answerRows(h.id, stream);
  const labels: RowLabels = (firstRow, n) => {
    const image = new Uint8Array(n);
    const task = new Uint8Array(n).fill(255);
    const answer = Uint8Array.from({ length: n }, (_, i) => (answerRows.has(firstRow + i) ? 1 : 0));
    for (const r of stores.harvests.rowItems(h.id, stream, firstRow, firstRow + n)) {
      image[r.row - firstRow] = r.image;
      task[r.row - firstRow] = taskIndex.get(itemTask.get(r.item_id) ?? '') ?? 255;
    }
    return { image, task, answer };
  };
  return { tasks, labels };
}
