/**
 * The feature analysis pass over a harvest's tap: stream its shards through the SAE's encoder graph
 * in the session pool a chunk of rows at a time, accumulating per-feature statistics
 * (accumulator.ts) without ever holding the whole harvest; then each feature's record — density,
 * quantiles, histogram, the cross-modal weight of SAE-V (cosine of the mean hidden state of its top
 * image rows and of its top text rows), logit effects and per-task means.
 */
import { throwIfCancelled } from '../jobs/job-kind.js';
import type { ShardReader } from '../harvest/shard-reader.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import type { SaeWeights } from '../sae/sae-model.js';
import { FeatureAccumulator, binEdges } from './accumulator.js';
import type { FeatureResult } from './analysis-store.js';
import { activePerRow } from './encode-graph.js';
import type { LogitEffect } from './logit-effects.js';

/** Encoder calls kept at the pool while the oldest finished one is accumulated (one being encoded, the next waiting). */
export const IN_FLIGHT = 2;

/** Pre-activations (and dense codes) per call stay near 16M floats, whatever the SAE's width. */
export const rowsPerCall = (dSae: number) => Math.max(32, Math.floor(16_000_000 / dSae));

export function cosine(a: Float64Array, b: Float64Array): number {
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

/** Per-row labels of a range of rows: image token, task index (255: none), the item's answer position. */
export type RowLabels = (firstRow: number, n: number) => { image: Uint8Array; task: Uint8Array; answer: Uint8Array };

export interface PassContext {
  pool: PoolClient;
  session: SessionHandle;
  signal: AbortSignal;
  progress(fraction: number, message?: string): void;
}

/** Every row of the tap through the encoder; returns the accumulated statistics and each row's k-th pre-activation. */
export async function encodePass(
  ctx: PassContext,
  reader: ShardReader,
  sae: SaeWeights,
  labels: RowLabels,
  options: { topN: number; crossK: number; tasks: number },
): Promise<{ acc: FeatureAccumulator; kth: Float32Array }> {
  const acc = new FeatureAccumulator(sae.dSae, options);
  const kth = new Float32Array(reader.rows);
  const perCall = rowsPerCall(sae.dSae);
  const perRow = activePerRow(sae);
  const dense = sae.architecture !== 'topk';
  let done = 0;
  // IN_FLIGHT calls stay queued at the pool while this thread accumulates the oldest one's codes,
  // so the pool process always has the next rows at hand when it finishes a call (on a GPU, the
  // next batch is already there). Codes are accumulated in row order, oldest call first.
  const inFlight: Array<{
    firstRow: number;
    n: number;
    rowLabels: ReturnType<RowLabels>;
    result: Promise<Record<string, { data: unknown }>>;
  }> = [];
  const settle = async () => {
    const { firstRow, n, rowLabels, result } = inFlight.shift()!;
    const out = await result;
    acc.add({
      firstRow,
      rows: n,
      vals: out.vals!.data as Float32Array,
      idx: out.idx32!.data as Int32Array,
      perRow,
      complete: !dense,
      ...rowLabels,
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
      const rowLabels = labels(firstRow, n);
      const result = ctx.pool.run(ctx.session, {
        x: { type: 'float32', dims: [n, sae.dIn], data: chunk.data.subarray(start * sae.dIn, (start + n) * sae.dIn) },
        ...(dense ? { img: { type: 'float32' as const, dims: [1, n], data: Float32Array.from(rowLabels.image) } } : {}),
      });
      result.catch(() => undefined); // awaited in settle(); a failure surfaces there
      inFlight.push({ firstRow, n, rowLabels, result });
      while (inFlight.length > IN_FLIGHT) await settle();
    }
  }
  while (inFlight.length > 0) await settle();
  acc.flush();
  return { acc, kth };
}

/** The mean hidden state of a set of rows, reading once every row any feature's top image or text rows name. */
export function topRowMeans(reader: ShardReader, acc: FeatureAccumulator, dSae: number, dIn: number) {
  const needed = new Set<number>();
  for (let f = 0; f < dSae; f++) for (const e of [...acc.topImage.of(f), ...acc.topText.of(f)]) needed.add(e.row);
  const rowList = [...needed].sort((x, y) => x - y);
  const hidden = reader.readRows(rowList);
  const at = new Map(rowList.map((r, i) => [r, i]));
  return (rows: Array<{ row: number }>) => {
    const m = new Float64Array(dIn);
    for (const { row } of rows) {
      const i = at.get(row)!;
      for (let d = 0; d < dIn; d++) m[d]! += hidden[i * dIn + d]! / rows.length;
    }
    return m;
  };
}

/** Each feature's record from the accumulated statistics. */
export function featureResults(
  acc: FeatureAccumulator,
  dSae: number,
  meanOf: (rows: Array<{ row: number }>) => Float64Array,
  logits: LogitEffect[] | null,
  vocab: Record<number, string>,
  tasks: string[],
): FeatureResult[] {
  const edges = binEdges(acc.scale);
  const token = (t: { id: number; value: number }) => ({ token: vocab[t.id] ?? `#${t.id}`, activation: t.value });
  const features: FeatureResult[] = [];
  for (let f = 0; f < dSae; f++) {
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
      logits: logits ? { promoted: logits[f]!.promoted.map(token), suppressed: logits[f]!.suppressed.map(token) } : null,
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
  return features;
}
