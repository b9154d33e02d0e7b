/**
 * Rows captured by a harvest, buffered until a shard's worth: per tap the rows and running
 * statistics (mean, mean norm, continued from an earlier attempt's), per tower the row index, and
 * the items whose rows are all in. A flush commits them together (HarvestStore.commit), so an item
 * is marked done only with all its rows.
 */
import type { HarvestStore, RowMeta, Stream, TapStats } from './harvest-store.js';

/** Running per-dimension sums for the mean and the mean norm. */
export class TapStatsAccumulator {
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

export class HarvestBuffer {
  private readonly stats = new Map<string, TapStatsAccumulator>();
  private buffers = new Map<string, Float32Array[]>();
  private rows: Record<Stream, RowMeta[]> = { decoder: [], vision: [] };
  private items: number[] = [];
  /** Index rows buffered since the last flush. */
  buffered = 0;

  constructor(
    private readonly store: HarvestStore,
    private readonly harvestId: number,
    private readonly prior: Record<string, TapStats>,
  ) {}

  /** One row of a tap's activations. */
  push(tap: string, row: Float32Array): void {
    if (!this.stats.has(tap)) this.stats.set(tap, new TapStatsAccumulator(row.length, this.prior[tap]));
    this.stats.get(tap)!.add(row);
    if (!this.buffers.has(tap)) this.buffers.set(tap, []);
    this.buffers.get(tap)!.push(row);
  }

  /** One token's index row (after its taps' rows are pushed). */
  index(stream: Stream, meta: RowMeta): void {
    this.rows[stream].push(meta);
    this.buffered++;
  }

  itemsDone(ids: number[]): void {
    this.items.push(...ids);
  }

  flush(): void {
    if (this.items.length === 0) return;
    const shards: Record<string, { data: Float32Array; width: number }> = {};
    for (const [tap, list] of this.buffers) {
      const width = list[0]?.length ?? 0;
      const data = new Float32Array(list.length * width);
      list.forEach((r, i) => data.set(r, i * width));
      shards[tap] = { data, width };
    }
    const stats = Object.fromEntries([...this.stats].map(([t, s]) => [t, s.snapshot()]));
    this.store.commit(this.harvestId, { shards, rows: this.rows, items: this.items, stats });
    this.buffers = new Map();
    this.rows = { decoder: [], vision: [] };
    this.items = [];
    this.buffered = 0;
  }
}
