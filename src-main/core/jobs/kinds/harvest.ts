/**
 * Harvest activations: run a VLM over a dataset and capture chosen taps (decoder and vision tower,
 * several at once) for chosen token kinds (image, text, generated), into shards with a row index.
 * Taps come from edited graphs that expose them as outputs (one forward pass captures them all);
 * generated tokens are captured by a teacher-forced pass over prompt + answer, which for a causal
 * model gives the same activations as during generation. Resuming skips completed items.
 */
import path from 'node:path';
import { z } from 'zod';
import { type StoredItem } from '../../datasets/dataset-store.js';
import { streamOf, type RowMeta, type Stream, type TapStats } from '../../harvest/harvest-store.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import { withWorkerStores } from '../../store/stores.js';
import { VlmPipeline, type PreparedPrefix } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { layoutOf } from '../../store/layout.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { VISION_PREFIX } from '../../../contract/tap-names.js';

const params = z.object({ harvestId: z.number().int().positive() }).strict();

/** Running per-dimension sums for the mean and the mean norm. */
class Stats {
  rows = 0;
  normSum = 0;
  sum: Float64Array;
  constructor(
    readonly width: number,
    prior?: TapStats,
  ) {
    this.sum = new Float64Array(width);
    if (prior) {
      this.rows = prior.rows;
      this.normSum = prior.meanNorm * prior.rows;
      prior.mean.forEach((m, i) => (this.sum[i] = m * prior.rows));
    }
  }
  add(row: Float32Array): void {
    let n = 0;
    for (let i = 0; i < this.width; i++) {
      this.sum[i]! += row[i]!;
      n += row[i]! * row[i]!;
    }
    this.normSum += Math.sqrt(n);
    this.rows++;
  }
  snapshot(): TapStats {
    return {
      rows: this.rows,
      width: this.width,
      mean: Array.from(this.sum, (s) => (this.rows ? s / this.rows : 0)),
      meanNorm: this.rows ? this.normSum / this.rows : 0,
    };
  }
}

export const harvestJob: JobKind<z.infer<typeof params>, JobResultOf<'harvest'>> = {
  kind: 'harvest',
  title: 'Harvest activations',
  resumable: true,
  startFromUi: false,
  params,
  result: jobResults['harvest'],
  async run(ctx) {
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const harvests = stores.harvests;
      const datasets = stores.datasets;
      const h = harvests.get(ctx.params.harvestId);
      const p = h.params;
      const dataset = datasets.get(h.datasetId);
      const done = harvests.doneItems(h.id);
      const all = datasets.items(dataset.id, { limit: p.limit ?? undefined });
      const pending = all.filter((it) => !done.has(it.id));
      ctx.progress(done.size / all.length, 'preparing tapped graphs');
      const vlm = await VlmPipeline.load(h.modelPath, ctx.pool, p.device);
      const cacheDir = layoutOf(ctx.workspaceDir).graphCache;
      const decoderTaps = p.taps.filter((t) => streamOf(t) === 'decoder');
      const visionTaps = p.taps.filter((t) => streamOf(t) === 'vision');
      const decoderGraph = decoderTaps.length
        ? await ctx.pool.load(writeEditedGraph(vlm.files.decoder, { expose: decoderTaps }, { cacheDir }).path, p.device)
        : null;
      const visionGraph = visionTaps.length
        ? await ctx.pool.load(
            writeEditedGraph(vlm.files.vision, { expose: visionTaps }, { tapPrefix: VISION_PREFIX, cacheDir }).path,
            p.device,
          )
        : null;

      const stats = new Map<string, Stats>();
      let buffers = new Map<string, Float32Array[]>();
      let rows: Record<Stream, RowMeta[]> = { decoder: [], vision: [] };
      let items: number[] = [];
      let buffered = 0;
      const push = (tap: string, row: Float32Array) => {
        const width = row.length;
        if (!stats.has(tap)) stats.set(tap, new Stats(width, h.stats[tap]));
        stats.get(tap)!.add(row);
        if (!buffers.has(tap)) buffers.set(tap, []);
        buffers.get(tap)!.push(row);
      };
      const flush = () => {
        if (items.length === 0) return;
        const shards: Record<string, { data: Float32Array; width: number }> = {};
        for (const [tap, list] of buffers) {
          const width = list[0]?.length ?? 0;
          const data = new Float32Array(list.length * width);
          list.forEach((r, i) => data.set(r, i * width));
          shards[tap] = { data, width };
        }
        harvests.commit(h.id, { shards, rows, items, stats: Object.fromEntries([...stats].map(([t, s]) => [t, s.snapshot()])) });
        buffers = new Map();
        rows = { decoder: [], vision: [] };
        items = [];
        buffered = 0;
      };

      let completed = done.size;
      for (let start = 0; start < pending.length; start += p.batchSize) {
        throwIfCancelled(ctx.signal);
        const batch: StoredItem[] = pending.slice(start, start + p.batchSize);
        const vlmItems = batch.map((it) => ({ image: path.join(dataset.path, it.image), prompt: it.question }));
        let prefix: PreparedPrefix = await vlm.prepare(vlmItems);
        const kinds = new Set(p.tokenKinds);
        let tokenMeta = prefix.tokens.map((row) =>
          row.map((t) => ({
            modality: t.modality as RowMeta['modality'] | 'pad',
            image: t.image,
            patchRow: t.patchRow,
            patchCol: t.patchCol,
            tokenId: t.tokenId,
            tile: t.tile,
            box: t.box,
          })),
        );
        if (kinds.has('generated')) {
          // Teacher-forced pass over prompt + answer: append the answers' embeddings on the right.
          const { outputs } = await vlm.generate(vlmItems, { maxNewTokens: p.maxNewTokens });
          const appended = await vlm.appendTokens(
            prefix,
            outputs.map((o) => o.tokenIds),
          );
          const ids = outputs.map((o) => [
            ...o.tokenIds,
            ...new Array<number>(appended.extraLength - o.tokenIds.length).fill(vlm.eosTokenIds[0] ?? 0),
          ]);
          tokenMeta = tokenMeta.map((row, r) => [
            ...row,
            ...ids[r]!.map((tokenId, i) => ({
              modality: (i < outputs[r]!.tokenIds.length ? 'generated' : 'pad') as RowMeta['modality'] | 'pad',
              image: null,
              patchRow: null,
              patchCol: null,
              tokenId,
              tile: null,
              box: null,
            })),
          ]);
          prefix = appended.prefix;
        }

        if (decoderGraph) {
          const out = await ctx.pool.run(decoderGraph, vlm.prefillFeeds(prefix), decoderTaps);
          for (let r = 0; r < prefix.batch; r++) {
            // Positions in the index count from the item's first real token, not from the padded row.
            const leadingPads = tokenMeta[r]!.findIndex((t) => t.modality !== 'pad');
            for (let i = 0; i < prefix.length; i++) {
              const meta = tokenMeta[r]![i]!;
              if (meta.modality === 'pad' || !kinds.has(meta.modality)) continue;
              for (const tap of decoderTaps) {
                const t = out[tap]!;
                const width = t.dims[t.dims.length - 1]!;
                push(tap, (t.data as Float32Array).slice((r * prefix.length + i) * width, (r * prefix.length + i + 1) * width));
              }
              rows.decoder.push({
                itemId: batch[r]!.id,
                position: i - leadingPads,
                modality: meta.modality,
                image: meta.image,
                patchRow: meta.patchRow,
                patchCol: meta.patchCol,
                tokenId: meta.tokenId,
                tile: meta.tile,
                box: meta.box,
              });
              buffered++;
            }
          }
        }
        if (visionGraph && kinds.has('image')) {
          // One run per item: items differ in image count, tiles and (Qwen) patches.
          for (let r = 0; r < batch.length; r++) {
            if (Object.keys(prefix.visionFeeds[r]!).length === 0) continue;
            const out = await ctx.pool.run(visionGraph, prefix.visionFeeds[r]!, visionTaps);
            const meta = vlm.visionTokenMeta(prefix, r, out[visionTaps[0]!]!.dims);
            meta.forEach((m, k) => {
              for (const tap of visionTaps) {
                const t = out[tap]!;
                const width = t.dims[t.dims.length - 1]!;
                push(tap, (t.data as Float32Array).slice(k * width, (k + 1) * width));
              }
              rows.vision.push({
                itemId: batch[r]!.id,
                position: k,
                modality: 'image',
                image: m.image,
                patchRow: m.patchRow,
                patchCol: m.patchCol,
                tokenId: null,
                tile: m.tile,
                box: m.box,
              });
              buffered++;
            });
          }
        }
        items.push(...batch.map((it) => it.id));
        completed += batch.length;
        if (buffered >= p.shardRows) flush();
        ctx.progress(completed / all.length, `${completed} of ${all.length} items`);
      }
      flush();
      const record = harvests.get(h.id);
      return { harvestId: h.id, items: record.items, rows: record.rows };
    });
  },
};
