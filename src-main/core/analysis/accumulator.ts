/**
 * Per-feature statistics gathered in one streaming pass over a harvest's rows, chunk by chunk, so
 * no more than a chunk of activations is ever in memory: firing counts, sums, maxima and image-token
 * mass (exact, from the encoder's dense codes), a log-scale activation histogram, the top-N
 * activating rows, and the top-K image rows and top-K text rows (for the cross-modal weight).
 */

/** Histogram bins: half-octaves from 2^-12 to 2^4 times the first chunk's largest activation. */
export const HIST_BINS = 32;
const BIN_OFFSET = 24;

/** The lower edge of each histogram bin for a scale. */
export function binEdges(scale: number): number[] {
  return Array.from({ length: HIST_BINS }, (_, j) => scale * 2 ** ((j - BIN_OFFSET) / 2));
}

/** A fixed-size "keep the N largest" per feature: a flat array of slots and each feature's minimum slot. */
class TopRows {
  readonly vals: Float32Array;
  readonly rows: Int32Array;
  private readonly minAt: Int32Array;
  private readonly minVal: Float32Array;
  constructor(
    readonly features: number,
    readonly size: number,
  ) {
    this.vals = new Float32Array(features * size).fill(-Infinity);
    this.rows = new Int32Array(features * size).fill(-1);
    this.minAt = new Int32Array(features);
    this.minVal = new Float32Array(features).fill(-Infinity);
  }
  offer(feature: number, value: number, row: number): void {
    if (value <= this.minVal[feature]!) return;
    const base = feature * this.size;
    const slot = this.minAt[feature]!;
    this.vals[base + slot] = value;
    this.rows[base + slot] = row;
    // Until the slots are full, the empty ones (-Infinity) fill in
    // order (offered values are positive), so the scan below would find the next slot: skip it.
    if (this.minVal[feature] === -Infinity && slot + 1 < this.size) {
      this.minAt[feature] = slot + 1;
      return;
    }
    let at = 0;
    let min = Infinity;
    for (let j = 0; j < this.size; j++) {
      const v = this.vals[base + j]!;
      if (v < min) {
        min = v;
        at = j;
      }
    }
    this.minAt[feature] = at;
    this.minVal[feature] = min;
  }
  /** A feature's rows, largest activation first. */
  of(feature: number): Array<{ row: number; activation: number }> {
    const out: Array<{ row: number; activation: number }> = [];
    for (let j = 0; j < this.size; j++) {
      const row = this.rows[feature * this.size + j]!;
      if (row >= 0) out.push({ row, activation: this.vals[feature * this.size + j]! });
    }
    return out.sort((a, b) => b.activation - a.activation || a.row - b.row);
  }
}

export interface ChunkCodes {
  firstRow: number;
  rows: number;
  /** Active features per row: values and feature indices, [rows, perRow]; zeros are padding. */
  vals: Float32Array;
  idx: Int32Array;
  perRow: number;
  /** True when every active feature fits in perRow (TopK); else a full row counts as truncated. */
  complete: boolean;
  /** 1 for image-token rows, 0 otherwise. */
  image: Uint8Array;
  /** Each row's item's task (index into the analysis's task list), 255 for none. */
  task?: Uint8Array;
  /** 1 for each item's last prompt token, where the model decides its answer. */
  answer?: Uint8Array;
  /** Exact per-feature reductions over the chunk's dense codes; absent when the sparse codes are complete (TopK). */
  dense: { count: Float32Array; sum: Float32Array; max: Float32Array; imageSum: Float32Array } | null;
}

export class FeatureAccumulator {
  readonly tasks: number;
  readonly count: Float64Array;
  readonly sum: Float64Array;
  readonly max: Float64Array;
  readonly imageSum: Float64Array;
  readonly hist: Uint32Array;
  readonly top: TopRows;
  readonly topImage: TopRows;
  readonly topText: TopRows;
  /** Per token kind (0 image, 1 text/generated, 2 last prompt token), feature and task: the sum of activations, and tokens per task. */
  readonly taskSum: [Float64Array, Float64Array, Float64Array];
  readonly taskRows: [Float64Array, Float64Array, Float64Array];
  rows = 0;
  /** Sparse entries waiting for flush(): feature, value, row, row flags. */
  private pending = 0;
  private readonly pendingFeature: Int32Array;
  private readonly pendingValue: Float32Array;
  private readonly pendingRow: Float64Array;
  private readonly pendingFlags: Uint16Array;
  private readonly order: Int32Array;
  private readonly featureStart: Int32Array;
  private readonly featureNext: Int32Array;
  /** Counts, sums, maxima and image mass come from the encoder's dense reductions, not the entries. */
  private denseSums = false;
  /** Rows whose active features did not all fit in the sparse output (ReLU SAEs only). */
  truncatedRows = 0;
  scale = 0;

  constructor(
    readonly features: number,
    options: { topN: number; crossK: number; tasks?: number; buffer?: number },
  ) {
    this.tasks = options.tasks ?? 0;
    // 256k entries (5.5 MB) by default: at 16k features, runs of ~16 entries per feature.
    const buffer = Math.max(1, options.buffer ?? 1 << 18);
    this.pendingFeature = new Int32Array(buffer);
    this.pendingValue = new Float32Array(buffer);
    this.pendingRow = new Float64Array(buffer);
    this.pendingFlags = new Uint16Array(buffer);
    this.order = new Int32Array(buffer);
    this.featureStart = new Int32Array(features + 1);
    this.featureNext = new Int32Array(features);
    const sums = () => new Float64Array(features * Math.max(1, this.tasks));
    const rows = () => new Float64Array(Math.max(1, this.tasks));
    this.taskSum = [sums(), sums(), sums()];
    this.taskRows = [rows(), rows(), rows()];
    this.count = new Float64Array(features);
    this.sum = new Float64Array(features);
    this.max = new Float64Array(features);
    this.imageSum = new Float64Array(features);
    this.hist = new Uint32Array(features * HIST_BINS);
    this.top = new TopRows(features, options.topN);
    this.topImage = new TopRows(features, options.crossK);
    this.topText = new TopRows(features, options.crossK);
  }

  /**
   * Take a chunk's codes. Per-row counters are updated at once; the sparse entries are buffered and
   * applied feature by feature (flush): every per-feature update touches that feature's slots of
   * several large arrays, and in row order those touches miss the cache at nearly every entry.
   * A stable sort by feature keeps each feature's entries in row order, so every sum, count and
   * top-row list sees exactly the sequence the row-major loop gave it: the results are identical.
   */
  add(c: ChunkCodes): void {
    const d = c.dense;
    if (d) {
      for (let f = 0; f < this.features; f++) {
        this.count[f]! += d.count[f]!;
        this.sum[f]! += d.sum[f]!;
        this.max[f] = Math.max(this.max[f]!, d.max[f]!);
        this.imageSum[f]! += d.imageSum[f]!;
      }
    }
    if (this.pending > 0 && this.denseSums !== (d !== null)) this.flush();
    this.denseSums = d !== null;
    if (this.scale === 0) this.scale = c.vals.reduce((m, v) => Math.max(m, v), 0) || 1;
    for (let r = 0; r < c.rows; r++) {
      const image = c.image[r] === 1;
      const task = c.task && c.task[r]! < this.tasks ? c.task[r]! : -1;
      const answer = c.answer?.[r] === 1;
      if (task >= 0) {
        this.taskRows[image ? 0 : 1][task]!++;
        if (answer) this.taskRows[2][task]!++;
      }
      const base = r * c.perRow;
      if (!c.complete && c.vals[base + c.perRow - 1]! > 0 && c.perRow < this.features) this.truncatedRows++;
      // Row flags for the buffered entries: task + 1 (0: none) in the low byte, image and answer above.
      const flags = (task + 1) | (image ? 0x100 : 0) | (answer ? 0x200 : 0);
      for (let j = 0; j < c.perRow; j++) {
        const v = c.vals[base + j]!;
        if (!(v > 0)) continue;
        if (this.pending === this.pendingFeature.length) this.flush();
        const e = this.pending++;
        this.pendingFeature[e] = c.idx[base + j]!;
        this.pendingValue[e] = v;
        this.pendingRow[e] = c.firstRow + r;
        this.pendingFlags[e] = flags;
      }
    }
    this.rows += c.rows;
  }

  /** Apply the buffered entries, feature by feature; call before reading any per-feature statistic. */
  flush(): void {
    const n = this.pending;
    if (n === 0) return;
    this.pending = 0;
    // Counting sort by feature, stable.
    const start = this.featureStart.fill(0);
    for (let e = 0; e < n; e++) start[this.pendingFeature[e]! + 1]!++;
    for (let f = 0; f < this.features; f++) start[f + 1]! += start[f]!;
    const order = this.order;
    const next = this.featureNext;
    next.set(start.subarray(0, this.features));
    for (let e = 0; e < n; e++) order[next[this.pendingFeature[e]!]!++] = e;
    const invLog = 2 / Math.LN2;
    const logScale = Math.log(this.scale);
    const counted = !this.denseSums;
    for (let f = 0; f < this.features; f++) {
      for (let o = start[f]!; o < start[f + 1]!; o++) {
        const e = order[o]!;
        const v = this.pendingValue[e]!;
        const row = this.pendingRow[e]!;
        const flags = this.pendingFlags[e]!;
        const image = (flags & 0x100) !== 0;
        const task = (flags & 0xff) - 1;
        if (counted) {
          this.count[f]!++;
          this.sum[f]! += v;
          if (v > this.max[f]!) this.max[f] = v;
          if (image) this.imageSum[f]! += v;
        }
        const bin = Math.min(HIST_BINS - 1, Math.max(0, Math.floor((Math.log(v) - logScale) * invLog) + BIN_OFFSET));
        this.hist[f * HIST_BINS + bin]!++;
        if (task >= 0) {
          this.taskSum[image ? 0 : 1][f * this.tasks + task]! += v;
          if (flags & 0x200) this.taskSum[2][f * this.tasks + task]! += v;
        }
        this.top.offer(f, v, row);
        (image ? this.topImage : this.topText).offer(f, v, row);
      }
    }
  }

  /** A feature's mean activation over each task's items' tokens (zeros included): all, image, text, and last prompt tokens. */
  taskMeans(feature: number): Record<'all' | 'image' | 'text' | 'answer', number[]> {
    const of = (kinds: number[]) =>
      Array.from({ length: this.tasks }, (_, t) => {
        const rows = kinds.reduce((n, k) => n + this.taskRows[k]![t]!, 0);
        return rows > 0 ? kinds.reduce((n, k) => n + this.taskSum[k]![feature * this.tasks + t]!, 0) / rows : 0;
      });
    return { all: of([0, 1]), image: of([0]), text: of([1]), answer: of([2]) };
  }

  /** Quantiles of a feature's non-zero activations, read from its histogram (bin geometric midpoints). */
  quantiles(feature: number, qs: number[]): number[] {
    const h = this.hist.subarray(feature * HIST_BINS, (feature + 1) * HIST_BINS);
    const total = h.reduce((a, b) => a + b, 0);
    if (total === 0) return qs.map(() => 0);
    const edges = binEdges(this.scale);
    return qs.map((q) => {
      let seen = 0;
      for (let j = 0; j < HIST_BINS; j++) {
        seen += h[j]!;
        if (seen >= q * total) return Math.min(this.max[feature]!, edges[j]! * Math.SQRT2 ** 0.5);
      }
      return this.max[feature]!;
    });
  }
}
