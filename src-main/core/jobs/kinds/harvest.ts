/**
 * Harvest activations: run a VLM over a dataset and capture chosen taps (decoder and vision tower,
 * several at once) for chosen token kinds (image, text, generated), into shards with a row index.
 * Taps come from edited graphs that expose them as outputs (one forward pass captures them all);
 * generated tokens are captured by a teacher-forced pass over prompt + answer, which for a causal
 * model gives the same activations as during generation. Resuming skips completed items.
 */
import path from 'node:path';
import { z } from 'zod';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { VISION_PREFIX } from '../../../contract/tap-names.js';
import { batchTokens, captureDecoder, captureVision } from '../../harvest/capture.js';
import { HarvestBuffer } from '../../harvest/harvest-buffer.js';
import { streamOf } from '../../harvest/harvest-store.js';
import { writeEditedGraph } from '../../onnx/edited-graph.js';
import type { PoolClient } from '../../runtime/pool-client.js';
import type { Device } from '../../runtime/pool-protocol.js';
import { withWorkerStores } from '../../store/stores.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';

const params = z.object({ harvestId: z.number().int().positive() }).strict();

export const harvestJob: JobKind<z.infer<typeof params>, JobResultOf<'harvest'>> = {
  kind: 'harvest',
  title: 'Harvest activations',
  resumable: true,
  startFromUi: false,
  params,
  result: jobResults['harvest'],
  async run(ctx) {
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const h = stores.harvests.get(ctx.params.harvestId);
      const p = h.params;
      const dataset = stores.datasets.get(h.datasetId);
      const done = stores.harvests.doneItems(h.id);
      const all = stores.datasets.items(dataset.id, { limit: p.limit ?? undefined });
      const pending = all.filter((it) => !done.has(it.id));
      ctx.progress(done.size / all.length, 'preparing tapped graphs');
      const vlm = await VlmPipeline.load(h.modelPath, ctx.pool, p.device);
      const decoderTaps = p.taps.filter((t) => streamOf(t) === 'decoder');
      const visionTaps = p.taps.filter((t) => streamOf(t) === 'vision');
      const tapped = (file: string, taps: string[], prefix: string) =>
        tappedGraph(ctx.pool, file, taps, prefix, stores.layout.graphCache, p.device);
      const decoderGraph = await tapped(vlm.files.decoder, decoderTaps, '');
      const visionGraph = await tapped(vlm.files.vision, visionTaps, VISION_PREFIX);
      const buffer = new HarvestBuffer(stores.harvests, h.id, h.stats);
      const kinds = new Set(p.tokenKinds);
      let completed = done.size;
      for (let start = 0; start < pending.length; start += p.batchSize) {
        throwIfCancelled(ctx.signal);
        const batch = pending.slice(start, start + p.batchSize);
        const vlmItems = batch.map((it) => ({ image: path.join(dataset.path, it.image), prompt: it.question }));
        const generated = kinds.has('generated') ? { maxNewTokens: p.maxNewTokens } : null;
        const { prefix, tokens } = await batchTokens(vlm, vlmItems, generated);
        const ids = batch.map((it) => it.id);
        if (decoderGraph) {
          const out = await ctx.pool.run(decoderGraph, vlm.prefillFeeds(prefix), decoderTaps);
          captureDecoder(buffer, out, decoderTaps, tokens, prefix.length, ids, kinds);
        }
        if (visionGraph && kinds.has('image')) {
          // One run per item: items differ in image count, tiles and (Qwen) patches.
          for (let r = 0; r < batch.length; r++) {
            if (Object.keys(prefix.visionFeeds[r]!).length === 0) continue;
            const out = await ctx.pool.run(visionGraph, prefix.visionFeeds[r]!, visionTaps);
            captureVision(buffer, out, visionTaps, vlm.visionTokenMeta(prefix, r, out[visionTaps[0]!]!.dims), ids[r]!);
          }
        }
        buffer.itemsDone(ids);
        completed += batch.length;
        if (buffer.buffered >= p.shardRows) buffer.flush();
        ctx.progress(completed / all.length, `${completed} of ${all.length} items`);
      }
      buffer.flush();
      const record = stores.harvests.get(h.id);
      return { harvestId: h.id, items: record.items, rows: record.rows };
    });
  },
};

/** A graph exposing `taps` as outputs, loaded in the pool; null when no taps of that tower are asked for. */
export async function tappedGraph(pool: PoolClient, file: string, taps: string[], tapPrefix: string, cacheDir: string, device: Device) {
  if (taps.length === 0) return null;
  return pool.load(writeEditedGraph(file, { expose: taps }, { tapPrefix, cacheDir }).path, device);
}
