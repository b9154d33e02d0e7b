/**
 * Training without storing: a decoder tap's rows produced by running the model over a dataset's
 * items when the shuffle buffer asks for them, instead of read from shards (sparsify-style; for
 * harvests that would not fit on disk). Nothing is written.
 *
 * The rows are numbered exactly as a harvest of the same items, taps, token kinds and batch size
 * numbers them: items in order, cut into batches of `batchSize` items (the batch a forward pass
 * runs, so padding and hence the floats are the harvest's), each item's kept tokens in order
 * (capture.ts's captureDecoder does both). So the shuffle buffer draws the same rows in the same
 * order as training on that harvest (fp32), and a checkpoint's shuffle position is enough to resume:
 * the model is deterministic, and a resumed run re-runs the batches its next window needs.
 *
 * Before the first step an index pass lays out every batch's prompts (tokenizer and image
 * processor only, no model run) to count its rows and their modalities. Reading a row range runs
 * the batches that hold it; the last batches run are kept in a small cache bounded in bytes, so the
 * two taps of a transcoder and neighbouring chunks do not run a batch twice. An epoch is one pass
 * over the items; each epoch runs the model about (1 + rows per batch / rows per buffer chunk)
 * times over them, since the buffer reads chunks in a shuffled order.
 */
import path from 'node:path';
import type { ModelReport } from '../../contract/contract.js';
import { VISION_PREFIX } from '../../contract/tap-names.js';
import { OcularError } from '../errors.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import type { VlmItem, VlmPipeline } from '../vlm/pipeline.js';
import { batchTokens, captureDecoder } from './capture.js';
import type { RowMeta, Stream, TokenKind } from './harvest-store.js';
import type { RowSource } from './shuffle-buffer.js';

export interface ModelRowsOptions {
  vlm: VlmPipeline;
  pool: PoolClient;
  /** The decoder graph exposing `taps` (harvest.ts's tappedGraph). */
  decoder: SessionHandle;
  taps: string[];
  items: Array<{ id: number; image: string; question: string }>;
  datasetPath: string;
  /** Items per forward pass (a harvest's batchSize). */
  batchSize: number;
  kinds: Set<TokenKind>;
  /** Bytes of produced batches kept for reuse (at least the last batch is kept). */
  cacheBytes: number;
  /** Each kept token's modality as the code the trainer's metrics use. */
  codeOf(modality: TokenKind): number;
}

type Batch = Record<string, Float32Array>;

export class ModelRows {
  /** batchFirst[b] is batch b's first row; batchFirst[batches] the total. */
  private readonly batchFirst: Float64Array;
  private readonly cache = new Map<number, Batch>();
  private cachedBytes = 0;
  /** Forward passes run so far (for tests and progress). */
  batchesRun = 0;

  private constructor(
    private readonly o: ModelRowsOptions,
    batchRows: number[],
    /** Each row's token modality code (options.codeOf), in row order: one byte a row. */
    readonly codes: Uint8Array,
    readonly widths: Record<string, number>,
  ) {
    this.batchFirst = new Float64Array(batchRows.length + 1);
    batchRows.forEach((n, b) => (this.batchFirst[b + 1] = this.batchFirst[b]! + n));
  }

  /** Lay out every batch (no model run) to number the rows, then run the first batch for the taps' widths. */
  static async index(o: ModelRowsOptions, onProgress?: (done: number, of: number) => void): Promise<ModelRows> {
    if (o.items.length === 0) throw new OcularError('invalid_request', 'The dataset has no items to train on.');
    const batchRows: number[] = [];
    let codes: Uint8Array = new Uint8Array(1024);
    let total = 0;
    for (let start = 0; start < o.items.length; start += o.batchSize) {
      const layout = await o.vlm.layout(vlmItems(o, start));
      let n = 0;
      for (const row of layout.tokens)
        for (const t of row)
          if (t.modality !== 'pad' && o.kinds.has(t.modality as TokenKind)) {
            if (total === codes.length) codes = grow(codes);
            codes[total++] = o.codeOf(t.modality as TokenKind);
            n++;
          }
      batchRows.push(n);
      onProgress?.(Math.min(o.items.length, start + o.batchSize), o.items.length);
    }
    const rows = new ModelRows(o, batchRows, codes.slice(0, total), {});
    if (total === 0)
      throw new OcularError('invalid_request', `The items hold no tokens of the kinds asked for (${[...o.kinds].join(', ')}).`);
    const first = rows.batchFirst.findIndex((f, b) => rows.batchFirst[b + 1]! > f);
    const out = await rows.batch(first);
    for (const tap of o.taps) rows.widths[tap] = out[tap]!.length / (rows.batchFirst[first + 1]! - rows.batchFirst[first]!);
    return rows;
  }

  get rows(): number {
    return this.batchFirst[this.batchFirst.length - 1]!;
  }

  /** A tap's rows as a RowSource for the shuffle buffer and the streamed passes. */
  source(tap: string): RowSource {
    if (!this.o.taps.includes(tap)) throw new Error(`tap ${tap} is not produced by this run`);
    return {
      rows: this.rows,
      width: this.widths[tap]!,
      readRange: (from, count, out, at, scale) => this.read(tap, from, count, out, at, scale),
    };
  }

  private async read(tap: string, from: number, count: number, out: Float32Array, at: number, scale = 1): Promise<void> {
    if (from < 0 || from + count > this.rows) throw new Error(`rows ${from}..${from + count} are outside the ${this.rows} rows`);
    const w = this.widths[tap]!;
    let row = from;
    let to = at;
    while (row < from + count) {
      const b = this.batchOf(row);
      const first = this.batchFirst[b]!;
      const n = Math.min(this.batchFirst[b + 1]!, from + count) - row;
      const data = (await this.batch(b))[tap]!.subarray((row - first) * w, (row - first + n) * w);
      // As ShardReader's fp32 read: a float32 product per value.
      if (scale === 1) out.set(data, to);
      else for (let i = 0; i < data.length; i++) out[to + i] = data[i]! * scale;
      row += n;
      to += n * w;
    }
  }

  /** The batch holding `row` (binary search over first rows; empty batches are skipped). */
  private batchOf(row: number): number {
    let lo = 0;
    let hi = this.batchFirst.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.batchFirst[mid]! <= row) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Batch b's kept rows per tap: from the cache, or by running the model as the harvest job does. */
  private async batch(b: number): Promise<Batch> {
    const hit = this.cache.get(b);
    if (hit) {
      this.cache.delete(b);
      this.cache.set(b, hit); // most recently used last
      return hit;
    }
    const o = this.o;
    const start = b * o.batchSize;
    const ids = o.items.slice(start, start + o.batchSize).map((it) => it.id);
    const { prefix, tokens } = await batchTokens(o.vlm, vlmItems(o, start), null);
    const out = await o.pool.run(o.decoder, o.vlm.prefillFeeds(prefix), o.taps);
    const collected: Record<string, Float32Array[]> = Object.fromEntries(o.taps.map((t) => [t, []]));
    let indexed = 0;
    const collector = {
      push: (tap: string, row: Float32Array) => collected[tap]!.push(row),
      index: (_stream: Stream, _meta: RowMeta) => void indexed++,
    };
    captureDecoder(collector, out, o.taps, tokens, prefix.length, ids, o.kinds);
    const expected = this.batchFirst[b + 1]! - this.batchFirst[b]!;
    if (indexed !== expected)
      throw new OcularError(
        'internal',
        `Batch ${b} produced ${indexed} rows but its layout counted ${expected}; the items changed while training.`,
      );
    const batch: Batch = {};
    for (const tap of o.taps) {
      const list = collected[tap]!;
      const w = list[0]?.length ?? 0;
      const data = new Float32Array(list.length * w);
      list.forEach((r, i) => data.set(r, i * w));
      batch[tap] = data;
      this.cachedBytes += data.byteLength;
    }
    this.batchesRun++;
    this.cache.set(b, batch);
    for (const [key, old] of this.cache) {
      if (this.cachedBytes <= o.cacheBytes || this.cache.size <= 1) break;
      this.cache.delete(key);
      for (const d of Object.values(old)) this.cachedBytes -= d.byteLength;
    }
    return batch;
  }
}

function grow(codes: Uint8Array): Uint8Array {
  const next = new Uint8Array(codes.length * 2);
  next.set(codes);
  return next;
}

function vlmItems(o: ModelRowsOptions, start: number): VlmItem[] {
  return o.items.slice(start, start + o.batchSize).map((it) => ({ image: path.join(o.datasetPath, it.image), prompt: it.question }));
}

/**
 * The input and target taps of a run from the model, checked against the model's report before
 * anything runs or is written: decoder taps it exposes, in one tower. Returns their widths.
 */
export function checkModelTaps(report: ModelReport, tap: string, outputTap: string | undefined): { dIn: number; dOut: number } {
  const decoder = report.components.find((c) => c.role === 'decoder')?.tower;
  const known = new Map((decoder?.taps ?? []).map((t) => [t.name, t.width ?? decoder?.width ?? null] as const));
  const width = (name: string) => {
    if (name.startsWith(VISION_PREFIX))
      throw new OcularError(
        'invalid_request',
        `Training from the model reads decoder taps only; ${name} is a vision-tower tap: harvest it (ocular harvest) and train on the harvest.`,
      );
    const w = known.get(name);
    if (w === undefined)
      throw new OcularError(
        'invalid_request',
        `Unknown tap '${name}'. This model's decoder taps look like ${
          [...known.keys()]
            .filter((n) => n.endsWith('hook_resid_post'))
            .slice(0, 2)
            .join(', ') || '(none found)'
        }.`,
      );
    if (w === null) throw new OcularError('invalid_request', `Tap ${name} has no known width.`);
    return w;
  };
  const dIn = width(tap);
  return { dIn, dOut: outputTap ? width(outputTap) : dIn };
}

/** Refuses a training request naming both a harvest and the model, or neither (before anything runs). */
export function checkTrainSource(p: { harvestId?: number; fromModel?: unknown }): void {
  if (p.harvestId !== undefined && p.fromModel) throw new OcularError('invalid_request', 'Train on a harvest or from the model, not both.');
  if (p.harvestId === undefined && !p.fromModel)
    throw new OcularError('invalid_request', 'Name a harvest to train on, or train from the model.');
}
