/**
 * A chosen subset of a tap's rows seen as a tap of its own (row i is the source's row subset[i]), so
 * training on a share of a harvest (a dataset comparison's filtered or random share) streams through
 * the same shuffle buffer and passes as training on the whole of it. Runs of consecutive source rows
 * are read with one range read each.
 */
import type { RowSource } from './shuffle-buffer.js';

export class RowSubset implements RowSource {
  readonly rows: number;
  readonly width: number;

  constructor(
    private readonly source: RowSource,
    private readonly subset: Int32Array,
  ) {
    this.rows = subset.length;
    this.width = source.width;
    for (let i = 0; i < subset.length; i++)
      if (subset[i]! < 0 || subset[i]! >= source.rows) throw new Error(`row ${subset[i]} is outside the tap's ${source.rows} rows`);
  }

  async readRange(from: number, count: number, out: Float32Array, at: number, scale = 1): Promise<void> {
    if (from < 0 || from + count > this.rows) throw new Error(`rows ${from}..${from + count} are outside the subset's ${this.rows}`);
    let i = from;
    while (i < from + count) {
      let run = 1;
      while (i + run < from + count && this.subset[i + run] === this.subset[i]! + run) run++;
      await this.source.readRange(this.subset[i]!, run, out, at + (i - from) * this.width, scale);
      i += run;
    }
  }
}
