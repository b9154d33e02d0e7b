/**
 * A bounded shuffle buffer over a harvest's rows, for training: memory is the buffer's, whatever the
 * harvest's size, and the order is a pure function of (seed, epoch, position), so a checkpoint holds
 * the buffer's whole state in two numbers and a resumed run draws exactly the rows the uninterrupted
 * one drew.
 *
 * Each epoch visits every row exactly once, in two seeded levels of shuffling (as a streaming
 * loader with a shuffle buffer does, but reproducible without storing the buffer):
 *   1. the rows are cut into chunks of `chunkRows` consecutive rows, and the chunks are permuted
 *      (Fisher-Yates, seeded by (seed, epoch));
 *   2. consecutive runs of `chunksPerWindow` permuted chunks form a window, read into the buffer
 *      with sequential positioned reads (fp16 / bf16 converted on the fly), and the window's rows
 *      are emitted in a seeded permutation (seeded by (seed, epoch, window)).
 * A harvest that fits the buffer is one chunk and one window: a full permutation per epoch. Row
 * numbers are Numbers (exact to 2^53) with per-shard offsets, so harvests past 2^32 values work.
 * A source may read asynchronously (rows produced by running the model: harvest/model-rows.ts), so
 * drawing is async; the order does not depend on the source, only on the layout.
 */
import { mulberry32 } from '../util/random.js';

/**
 * Rows of one tap (a ShardReader, rows captured in memory, or the model run on the fly): read
 * [from, from + count) as float32 times `scale`, synchronously or (the model) asynchronously.
 */
export interface RowSource {
  readonly rows: number;
  readonly width: number;
  readRange(from: number, count: number, out: Float32Array, at: number, scale?: number): void | Promise<void>;
}

/** How the rows are cut: fixed for a run (a checkpoint records it, so a resume cuts them the same way). */
export interface ShuffleLayout {
  seed: number;
  rows: number;
  chunkRows: number;
  chunksPerWindow: number;
}

/** Where the stream stands: rows already drawn in the current epoch. */
export interface ShufflePosition {
  epoch: number;
  cursor: number;
}

/** Chunks per window when the harvest is larger than the buffer: enough to mix rows from distant parts of the harvest. */
const CHUNKS_PER_WINDOW = 16;

/** Buffer bytes per row: each source's float32 row, its row number and its slot in the permutation. */
export const bytesPerRow = (widths: number[]) => widths.reduce((n, w) => n + 4 * w, 0) + 8 + 4;

/** The layout for `rows` rows of `widths` in a buffer of `bufferBytes`. */
export function shuffleLayout(rows: number, widths: number[], bufferBytes: number, seed: number): ShuffleLayout {
  const windowRows = Math.max(1, Math.floor(bufferBytes / bytesPerRow(widths)));
  if (rows <= windowRows) return { seed, rows, chunkRows: Math.max(1, rows), chunksPerWindow: 1 };
  const chunkRows = Math.ceil(windowRows / CHUNKS_PER_WINDOW);
  return { seed, rows, chunkRows, chunksPerWindow: Math.max(1, Math.floor(windowRows / chunkRows)) };
}

/** A 32-bit seed for one (seed, epoch, window) stream. */
function streamSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ Math.floor(p / 4294967296), 0x01000193) >>> 0;
    h ^= h >>> 15;
  }
  return h;
}

function permutation(n: number, rand: () => number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

export class ShuffleBuffer {
  private readonly numChunks: number;
  private readonly data: Float32Array[];
  private readonly rowIds: Float64Array;
  private order: Uint32Array = new Uint32Array(0);
  private chunkOrder: Uint32Array = new Uint32Array(0);
  private chunkOrderEpoch = -1;
  /** The loaded window: its first epoch position and size, and how many of its rows were drawn. */
  private windowStart = 0;
  private windowRows = 0;
  private drawn = 0;
  private epoch: number;
  /** The epoch position to load before the next draw (null: the loaded window is current). Loading is lazy, so it can await the source. */
  private pending: number | null;

  constructor(
    private readonly sources: Array<{ source: RowSource; scale: number }>,
    readonly layout: ShuffleLayout,
    start: ShufflePosition = { epoch: 0, cursor: 0 },
  ) {
    for (const { source } of sources)
      if (source.rows !== layout.rows) throw new Error(`a source has ${source.rows} rows, the layout ${layout.rows}`);
    if (layout.rows < 1) throw new Error('a shuffle buffer needs at least one row');
    this.numChunks = Math.ceil(layout.rows / layout.chunkRows);
    const capacity = Math.min(layout.rows, layout.chunkRows * layout.chunksPerWindow);
    this.data = sources.map(({ source }) => new Float32Array(capacity * source.width));
    this.rowIds = new Float64Array(capacity);
    this.epoch = start.epoch + Math.floor(start.cursor / layout.rows);
    this.pending = start.cursor % layout.rows;
  }

  /** The stream's position: the whole state a checkpoint needs (with the layout). */
  get position(): ShufflePosition {
    return { epoch: this.epoch, cursor: this.pending ?? this.windowStart + this.drawn };
  }

  /** Bytes the buffer holds (the bound bench:memory checks). */
  get bytes(): number {
    return this.data.reduce((n, d) => n + d.byteLength, 0) + this.rowIds.byteLength + this.order.byteLength;
  }

  /**
   * Draw the next `n` rows: source s's rows go to outs[s] from row `at` on, their row numbers to
   * rows[at..]. Crosses windows and epochs as it goes.
   */
  async take(n: number, outs: Float32Array[], rows: Float64Array, at = 0): Promise<void> {
    for (let i = 0; i < n; i++) {
      if (this.pending === null && this.drawn === this.windowRows) this.advance();
      if (this.pending !== null) await this.seek(this.pending);
      const slot = this.order[this.drawn++]!;
      this.sources.forEach(({ source }, s) => {
        const w = source.width;
        outs[s]!.set(this.data[s]!.subarray(slot * w, (slot + 1) * w), (at + i) * w);
      });
      rows[at + i] = this.rowIds[slot]!;
    }
  }

  private chunkSize(c: number): number {
    return Math.min(this.layout.chunkRows, this.layout.rows - c * this.layout.chunkRows);
  }

  private ensureChunkOrder(): void {
    if (this.chunkOrderEpoch === this.epoch) return;
    this.chunkOrder = permutation(this.numChunks, mulberry32(streamSeed(this.layout.seed, this.epoch)));
    this.chunkOrderEpoch = this.epoch;
  }

  /** Load the window holding epoch position `cursor` and stand at it. */
  private async seek(cursor: number): Promise<void> {
    this.ensureChunkOrder();
    const per = this.layout.chunksPerWindow;
    let start = 0;
    for (let w = 0; w * per < this.numChunks; w++) {
      let size = 0;
      for (let c = w * per; c < Math.min((w + 1) * per, this.numChunks); c++) size += this.chunkSize(this.chunkOrder[c]!);
      if (cursor < start + size) {
        await this.load(w, start, size);
        this.drawn = cursor - start;
        this.pending = null;
        return;
      }
      start += size;
    }
    throw new Error(`position ${cursor} is past the ${this.layout.rows} rows`);
  }

  /** The next window, or the first of the next epoch (loaded at the next draw). */
  private advance(): void {
    const next = this.windowStart + this.windowRows;
    if (next >= this.layout.rows) this.epoch++;
    this.pending = next % this.layout.rows;
  }

  /** Read window `w`'s chunks into the buffer and draw its row permutation. */
  private async load(w: number, start: number, size: number): Promise<void> {
    const per = this.layout.chunksPerWindow;
    let slot = 0;
    for (let c = w * per; c < Math.min((w + 1) * per, this.numChunks); c++) {
      const chunk = this.chunkOrder[c]!;
      const first = chunk * this.layout.chunkRows;
      const n = this.chunkSize(chunk);
      for (let s = 0; s < this.sources.length; s++) {
        const { source, scale } = this.sources[s]!;
        await source.readRange(first, n, this.data[s]!, slot * source.width, scale);
      }
      for (let r = 0; r < n; r++) this.rowIds[slot + r] = first + r;
      slot += n;
    }
    this.order = permutation(size, mulberry32(streamSeed(this.layout.seed, this.epoch, w + 1)));
    this.windowStart = start;
    this.windowRows = size;
    this.drawn = 0;
  }
}
