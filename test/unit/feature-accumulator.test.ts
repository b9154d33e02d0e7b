/**
 * The analysis accumulator applies each chunk's sparse entries feature by feature (buffered, for
 * cache locality). Checked here against the row-major loop it replaced, kept below as the
 * reference: every count, sum, maximum, histogram bin, per-task sum and top-row list must be
 * identical, bit for bit, for several buffer sizes (1 entry, a few, larger than the pass), for
 * TopK codes and for ReLU codes with dense reductions, with tied values among the rows.
 */
import { describe, expect, it } from 'vitest';
import { FeatureAccumulator, HIST_BINS, binEdges, type ChunkCodes } from '../../src-main/core/analysis/accumulator';
import { mulberry32 } from '../../src-main/core/util/random';

/** The accumulator as it was before buffering: one row at a time, every entry applied in row order. */
function reference(features: number, topN: number, crossK: number, tasks: number, chunks: ChunkCodes[]) {
  const top = (size: number) => {
    const vals = new Float32Array(features * size).fill(-Infinity);
    const rows = new Int32Array(features * size).fill(-1);
    const minAt = new Int32Array(features);
    const minVal = new Float32Array(features).fill(-Infinity);
    return {
      offer(f: number, value: number, row: number) {
        if (value <= minVal[f]!) return;
        vals[f * size + minAt[f]!] = value;
        rows[f * size + minAt[f]!] = row;
        let at = 0;
        let min = Infinity;
        for (let j = 0; j < size; j++)
          if (vals[f * size + j]! < min) {
            min = vals[f * size + j]!;
            at = j;
          }
        minAt[f] = at;
        minVal[f] = min;
      },
      of(f: number) {
        const out: Array<{ row: number; activation: number }> = [];
        for (let j = 0; j < size; j++)
          if (rows[f * size + j]! >= 0) out.push({ row: rows[f * size + j]!, activation: vals[f * size + j]! });
        return out.sort((a, b) => b.activation - a.activation || a.row - b.row);
      },
    };
  };
  const r = {
    count: new Float64Array(features),
    sum: new Float64Array(features),
    max: new Float64Array(features),
    imageSum: new Float64Array(features),
    hist: new Uint32Array(features * HIST_BINS),
    top: top(topN),
    topImage: top(crossK),
    topText: top(crossK),
    taskSum: [0, 1, 2].map(() => new Float64Array(features * Math.max(1, tasks))),
    taskRows: [0, 1, 2].map(() => new Float64Array(Math.max(1, tasks))),
    rows: 0,
    truncatedRows: 0,
    scale: 0,
  };
  for (const c of chunks) {
    const d = c.dense;
    if (d)
      for (let f = 0; f < features; f++) {
        r.count[f]! += d.count[f]!;
        r.sum[f]! += d.sum[f]!;
        r.max[f] = Math.max(r.max[f]!, d.max[f]!);
        r.imageSum[f]! += d.imageSum[f]!;
      }
    if (r.scale === 0) r.scale = c.vals.reduce((m, v) => Math.max(m, v), 0) || 1;
    const logScale = Math.log(r.scale);
    for (let i = 0; i < c.rows; i++) {
      const row = c.firstRow + i;
      const image = c.image[i] === 1;
      const task = c.task && c.task[i]! < tasks ? c.task[i]! : -1;
      const kind = image ? 0 : 1;
      const answer = c.answer?.[i] === 1;
      if (task >= 0) {
        r.taskRows[kind]![task]!++;
        if (answer) r.taskRows[2]![task]!++;
      }
      const base = i * c.perRow;
      if (!c.complete && c.vals[base + c.perRow - 1]! > 0 && c.perRow < features) r.truncatedRows++;
      for (let j = 0; j < c.perRow; j++) {
        const v = c.vals[base + j]!;
        if (!(v > 0)) continue;
        const f = c.idx[base + j]!;
        if (!d) {
          r.count[f]!++;
          r.sum[f]! += v;
          if (v > r.max[f]!) r.max[f] = v;
          if (image) r.imageSum[f]! += v;
        }
        const bin = Math.min(HIST_BINS - 1, Math.max(0, Math.floor((Math.log(v) - logScale) * (2 / Math.LN2)) + 24));
        r.hist[f * HIST_BINS + bin]!++;
        if (task >= 0) {
          r.taskSum[kind]![f * tasks + task]! += v;
          if (answer) r.taskSum[2]![f * tasks + task]! += v;
        }
        r.top.offer(f, v, row);
        (image ? r.topImage : r.topText).offer(f, v, row);
      }
    }
    r.rows += c.rows;
  }
  return r;
}

/** Random chunks of sparse codes; values on a coarse grid so that many rows tie. */
function chunks(features: number, perRow: number, tasks: number, dense: boolean, seed: number): ChunkCodes[] {
  const rand = mulberry32(seed);
  const out: ChunkCodes[] = [];
  let firstRow = 0;
  for (const rows of [37, 64, 1, 50, 23]) {
    const vals = new Float32Array(rows * perRow);
    const idx = new Int32Array(rows * perRow);
    for (let r = 0; r < rows; r++) {
      // Distinct features per row, skewed so that a few features fire often.
      const picked = new Set<number>();
      while (picked.size < perRow) picked.add(Math.floor(rand() ** 2 * features));
      const active = dense ? Math.floor(rand() * (perRow + 1)) : perRow - (rand() < 0.2 ? 2 : 0);
      [...picked].forEach((f, j) => {
        idx[r * perRow + j] = f;
        vals[r * perRow + j] = j < active ? Math.fround(Math.ceil(rand() * 8) / 4) : 0;
      });
    }
    const image = Uint8Array.from({ length: rows }, () => (rand() < 0.5 ? 1 : 0));
    const task = Uint8Array.from({ length: rows }, () => (rand() < 0.2 ? 255 : Math.floor(rand() * tasks)));
    const answer = Uint8Array.from({ length: rows }, () => (rand() < 0.1 ? 1 : 0));
    const reduced = () => Float32Array.from({ length: features }, () => Math.fround(rand() * 3));
    out.push({
      firstRow,
      rows,
      vals,
      idx,
      perRow,
      complete: !dense,
      image,
      task,
      answer,
      dense: dense ? { count: reduced(), sum: reduced(), max: reduced(), imageSum: reduced() } : null,
    });
    firstRow += rows;
  }
  return out;
}

describe('FeatureAccumulator', () => {
  for (const dense of [false, true])
    for (const buffer of [1, 7, 100, undefined])
      it(`equals the row-major reference (${dense ? 'dense reductions' : 'TopK codes'}, buffer ${buffer ?? 'default'})`, () => {
        const [features, perRow, tasks, topN, crossK] = [40, 6, 3, 5, 3];
        const cs = chunks(features, perRow, tasks, dense, dense ? 5 : 3);
        const want = reference(features, topN, crossK, tasks, cs);
        const acc = new FeatureAccumulator(features, { topN, crossK, tasks, buffer });
        for (const c of cs) acc.add(c);
        acc.flush();
        for (const key of ['count', 'sum', 'max', 'imageSum', 'hist'] as const)
          expect(Array.from(acc[key]), key).toEqual(Array.from(want[key]));
        for (let k = 0; k < 3; k++) {
          expect(Array.from(acc.taskSum[k]!)).toEqual(Array.from(want.taskSum[k]!));
          expect(Array.from(acc.taskRows[k]!)).toEqual(Array.from(want.taskRows[k]!));
        }
        for (let f = 0; f < features; f++) {
          expect(acc.top.of(f), `top of ${f}`).toEqual(want.top.of(f));
          expect(acc.topImage.of(f)).toEqual(want.topImage.of(f));
          expect(acc.topText.of(f)).toEqual(want.topText.of(f));
        }
        expect([acc.rows, acc.truncatedRows, acc.scale]).toEqual([want.rows, want.truncatedRows, want.scale]);
        // The test data must exercise what it claims: ties at the top-row boundary, truncation for ReLU codes.
        expect(acc.count.some((n) => n > topN)).toBe(true);
        if (dense) expect(acc.truncatedRows).toBeGreaterThan(0);
        expect(binEdges(acc.scale)).toHaveLength(HIST_BINS);
      });
});
