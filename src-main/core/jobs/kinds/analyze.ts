/**
 * The feature analysis pass: stream a harvest's shards for the SAE's tap through an ONNX encoder
 * graph in the session pool, a chunk of rows at a time, accumulating per-feature statistics
 * (core/analysis/accumulator.ts) without ever holding the whole harvest. Then: the cross-modal
 * weight from the top image and text rows' hidden states, logit effects through the model's own
 * final norm and unembedding, the token strings and item images feature pages show, and the results
 * written in one transaction.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { FeatureAccumulator, binEdges } from '../../analysis/accumulator.js';
import { type FeatureResult } from '../../analysis/analysis-store.js';
import { activePerRow, encodeGraphFile } from '../../analysis/encode-graph.js';
import { logitEffects } from '../../analysis/logit-effects.js';
import { OcularError } from '../../errors.js';
import { streamOf } from '../../harvest/harvest-store.js';
import { ShardReader } from '../../harvest/shard-reader.js';
import { withWorkerStores } from '../../store/stores.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { loadProcessor, tokenTexts } from '../../vlm/processor.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { layoutOf } from '../../store/layout.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';

const params = z.object({ analysisId: z.number().int().positive() }).strict();

/** Pre-activations (and dense codes) per call stay near 16M floats, whatever the SAE's width. */
const rowsPerCall = (dSae: number) => Math.max(32, Math.floor(16_000_000 / dSae));

function cosine(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

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
      const db = stores.db;
      const analyses = stores.analyses;
      const a = analyses.get(ctx.params.analysisId);
      const p = a.params;
      const sae = stores.saes.load(a.saeId);
      const harvests = stores.harvests;
      const h = harvests.get(a.harvestId);
      const tap = sae.hookName;
      if (!tap || !h.stats[tap])
        throw new OcularError(
          'invalid_request',
          `SAE ${a.saeId} reads ${tap ?? 'no tap'}, which harvest ${h.id} does not hold (it has ${Object.keys(h.stats).join(', ')}).`,
        );
      if (h.stats[tap]!.width !== sae.dIn)
        throw new OcularError('invalid_request', `SAE ${a.saeId} expects width ${sae.dIn} but ${tap} has width ${h.stats[tap]!.width}.`);
      const stream = streamOf(tap);
      const folder = layoutOf(ctx.workspaceDir).analysis(a.id);
      fs.mkdirSync(folder, { recursive: true });

      const graphFile = encodeGraphFile(ctx.workspaceDir, sae);
      const session = await ctx.pool.load(graphFile, p.device);

      const reader = new ShardReader(db, ctx.workspaceDir, h, tap);
      // Tasks of the harvest's items (benchmark task types), for per-task mean activations.
      const itemTask = new Map([...stores.datasets.itemLabels(h.datasetId).values()].map((r) => [r.id, r.task]));
      const tasks = [...new Set([...itemTask.values()].filter((t): t is string => t !== null))].sort().slice(0, 254);
      const taskIndex = new Map(tasks.map((t, i) => [t, i]));
      // Each item's last prompt token: where a causal model decides its answer.
      const answerRows = stores.harvests.answerRows(h.id, stream);
      const acc = new FeatureAccumulator(sae.dSae, { topN: p.topN, crossK: p.crossK, tasks: tasks.length });
      const kth = new Float32Array(reader.rows);
      const perCall = rowsPerCall(sae.dSae);
      const perRow = activePerRow(sae);
      let done = 0;
      const dense = sae.architecture !== 'topk';
      // One call in flight while the previous call's codes are accumulated: the pool process
      // encodes the next rows while this thread does the bookkeeping.
      let inFlight: {
        firstRow: number;
        n: number;
        image: Uint8Array;
        task: Uint8Array;
        answer: Uint8Array;
        result: Promise<Record<string, { data: unknown }>>;
      } | null = null;
      const settle = async () => {
        if (!inFlight) return;
        const { firstRow, n, image, task, answer, result } = inFlight;
        inFlight = null;
        const out = await result;
        acc.add({
          firstRow,
          rows: n,
          vals: out.vals!.data as Float32Array,
          idx: out.idx32!.data as Int32Array,
          perRow,
          complete: !dense,
          image,
          task,
          answer,
          dense: dense
            ? {
                count: out.count!.data as Float32Array,
                sum: out.sum!.data as Float32Array,
                max: out.max!.data as Float32Array,
                imageSum: out.image_sum!.data as Float32Array,
              }
            : null,
        });
        kth.set(out.kth!.data as Float32Array, firstRow);
        done += n;
        ctx.progress((0.85 * done) / reader.rows, `${done} of ${reader.rows} rows`);
      };
      for (const chunk of reader.chunks()) {
        for (let start = 0; start < chunk.rows; start += perCall) {
          throwIfCancelled(ctx.signal);
          const n = Math.min(perCall, chunk.rows - start);
          const firstRow = chunk.firstRow + start;
          const image = new Uint8Array(n);
          const task = new Uint8Array(n).fill(255);
          const answer = Uint8Array.from({ length: n }, (_, i) => (answerRows.has(firstRow + i) ? 1 : 0));
          for (const r of stores.harvests.rowItems(h.id, stream, firstRow, firstRow + n)) {
            image[r.row - firstRow] = r.image;
            task[r.row - firstRow] = taskIndex.get(itemTask.get(r.item_id) ?? '') ?? 255;
          }
          const result = ctx.pool.run(session, {
            x: { type: 'float32', dims: [n, sae.dIn], data: chunk.data.subarray(start * sae.dIn, (start + n) * sae.dIn) },
            ...(dense ? { img: { type: 'float32' as const, dims: [1, n], data: Float32Array.from(image) } } : {}),
          });
          result.catch(() => undefined); // awaited in settle(); a failure surfaces there
          await settle();
          inFlight = { firstRow, n, image, task, answer, result };
        }
      }
      await settle();
      writeFileAtomic(layoutOf(ctx.workspaceDir).analysisKth(a.id), new Uint8Array(kth.buffer));
      const timings: Record<string, number> = { stream: (Date.now() - started) / 1000 };
      let mark = Date.now();
      const lap = (name: string) => {
        timings[name] = (Date.now() - mark) / 1000;
        mark = Date.now();
      };

      // Cross-modal weight (SAE-V): cosine of the mean hidden state of the top image rows and of the top text rows.
      ctx.progress(0.86, 'cross-modal weights');
      const needed = new Set<number>();
      for (let f = 0; f < sae.dSae; f++) for (const e of [...acc.topImage.of(f), ...acc.topText.of(f)]) needed.add(e.row);
      const rowList = [...needed].sort((x, y) => x - y);
      const hidden = reader.readRows(rowList);
      const at = new Map(rowList.map((r, i) => [r, i]));
      const meanOf = (rows: Array<{ row: number }>) => {
        const m = new Float64Array(sae.dIn);
        for (const { row } of rows) {
          const i = at.get(row)!;
          for (let d = 0; d < sae.dIn; d++) m[d]! += hidden[i * sae.dIn + d]! / rows.length;
        }
        return m;
      };

      lap('crossModalRead');
      throwIfCancelled(ctx.signal);
      ctx.progress(0.9, 'logit effects');
      const logits = stream === 'decoder' && p.logitTokens > 0 ? await logitEffects(ctx, h.modelPath, sae, p.logitTokens, p.device) : null;

      lap('logitEffects');
      // Token strings and item images that feature pages show.
      ctx.progress(0.95, 'token strings and images');
      const tokenIds = stores.harvests.tokenIds(h.id, stream);
      const extra = logits ? logits.flatMap((l) => [...l.promoted, ...l.suppressed].map((t) => t.id)) : [];
      const vocab: Record<number, string> = {};
      // A model folder that is gone (or never was: synthetic harvests) leaves token ids as #id.
      const tokenizer = await loadProcessor(h.modelPath).then(
        (l) => l.tokenizer,
        () => null,
      );
      if (tokenizer) for (const [id, text] of tokenTexts(tokenizer, new Set([...tokenIds, ...extra]))) vocab[id] = text;
      writeFileAtomic(path.join(folder, 'vocab.json'), JSON.stringify(vocab));
      const exampleRows = new Set<number>();
      for (let f = 0; f < sae.dSae; f++) for (const e of acc.top.of(f)) exampleRows.add(e.row);
      const items = new Set([...exampleRows].map((row) => stores.harvests.row(h.id, stream, row)!.item_id));
      const dataset = stores.datasets.get(h.datasetId);
      const imageDir = path.join(folder, 'images');
      fs.mkdirSync(imageDir, { recursive: true });
      for (const [id, item] of stores.datasets.itemsById([...items])) {
        const target = path.join(imageDir, `${id}${path.extname(item.image)}`);
        if (!fs.existsSync(target)) fs.copyFileSync(path.join(dataset.path, item.image), target);
      }

      lap('tokensAndImages');
      const edges = binEdges(acc.scale);
      const features: FeatureResult[] = [];
      for (let f = 0; f < sae.dSae; f++) {
        const count = acc.count[f]!;
        const topImage = acc.topImage.of(f);
        const topText = acc.topText.of(f);
        const [q50, q90, q99] = acc.quantiles(f, [0.5, 0.9, 0.99]);
        features.push({
          feature: f,
          density: count / Math.max(1, acc.rows),
          maxAct: acc.max[f]!,
          meanAct: count > 0 ? acc.sum[f]! / count : 0,
          imageShare: acc.sum[f]! > 0 ? acc.imageSum[f]! / acc.sum[f]! : null,
          crossModal: topImage.length > 0 && topText.length > 0 ? cosine(meanOf(topImage), meanOf(topText)) : null,
          quantiles: { q50: q50!, q90: q90!, q99: q99! },
          histogram: Array.from(acc.hist.subarray(f * edges.length, (f + 1) * edges.length)),
          logits: logits
            ? {
                promoted: logits[f]!.promoted.map((t) => ({ token: vocab[t.id] ?? `#${t.id}`, activation: t.value })),
                suppressed: logits[f]!.suppressed.map((t) => ({ token: vocab[t.id] ?? `#${t.id}`, activation: t.value })),
              }
            : null,
          examples: { top: acc.top.of(f), image: topImage, text: topText },
          taskMeans: tasks.length
            ? (() => {
                const m = acc.taskMeans(f);
                const byTask = (v: number[]) => Object.fromEntries(tasks.map((t, i) => [t, v[i]!]));
                return { all: byTask(m.all), image: byTask(m.image), text: byTask(m.text), answer: byTask(m.answer) };
              })()
            : null,
        });
      }
      const summary = {
        rows: acc.rows,
        features: sae.dSae,
        neverFired: features.filter((x) => x.density === 0).length,
        truncatedRows: acc.truncatedRows,
        histogramEdges: edges,
        logitEffects: logits !== null,
        seconds: 0,
        timings,
      };
      lap('features');
      analyses.saveResults(a.id, summary, features);
      lap('save');
      summary.seconds = (Date.now() - started) / 1000;
      db.prepare('UPDATE analyses SET summary_json = ? WHERE id = ?').run(JSON.stringify(summary), a.id);
      return { analysisId: a.id, ...summary, histogramEdges: undefined };
    });
  },
};
