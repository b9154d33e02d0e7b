/**
 * The feature workbench's domain logic, on small hand-made inputs: quantile intervals and seeded
 * samples, decoder-cosine neighbours against a direct computation, content queries and their scores,
 * stratified experiment items, label reviews (in a real workspace database), the input checks of
 * "your own input", and the serve transport's compression and caching choices.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { logitMatches, parseContentQuery, shareMatching } from '../../src-main/core/analysis/content-search';
import { ofModality, quantileIntervals, rankFiring, scanRows, seededOrder } from '../../src-main/core/analysis/feature-samples';
import { reviewLabel } from '../../src-main/core/analysis/label-review';
import { LabelStore } from '../../src-main/core/analysis/label-store';
import { extremes, withoutSpecialTokens } from '../../src-main/core/analysis/logit-effects';
import { decoderNorms, nearestByDecoderCosine } from '../../src-main/core/analysis/nearest';
import { candidatesFromCodes, imageKind, summarise } from '../../src-main/core/analysis/probe-input';
import { planItems, selectItems } from '../../src-main/core/experiments/item-selection';
import { Workspace } from '../../src-main/core/store/workspace';
import { mulberry32 } from '../../src-main/core/util/random';
import { cacheControl, chooseEncoding } from '../../src-main/transport/static-files';
import { tmpDir } from '../helpers/tmp';

describe('feature samples', () => {
  it('ranks firing rows strongest first and splits them into quantile intervals that hold every one exactly once', () => {
    const rand = mulberry32(3);
    const n = 1000;
    const acts = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : rand() * 5));
    const rows = Array.from({ length: n }, (_, i) => i * 2);
    const modality = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 0 : 1));
    const scan = rankFiring(rows, acts, modality);
    const firing = [...acts].filter((a) => a > 0).length;
    expect(scan.acts.length).toBe(firing);
    for (let i = 1; i < scan.acts.length; i++) expect(scan.acts[i]!).toBeLessThanOrEqual(scan.acts[i - 1]!);
    const intervals = quantileIntervals(scan.acts);
    expect(intervals.map((iv) => iv.quantiles)).toEqual([
      [0.99, 1],
      [0.9, 0.99],
      [0.75, 0.9],
      [0.5, 0.75],
      [0, 0.5],
    ]);
    expect(intervals.reduce((s, iv) => s + iv.count, 0)).toBe(firing);
    expect(intervals[0]!.from).toBe(0);
    expect(intervals[4]!.to).toBe(firing);
    // Each interval's bounds are its members' extremes, and they tile the ranking in order.
    for (const [j, iv] of intervals.entries()) {
      expect(iv.hi).toBe(scan.acts[iv.from]);
      expect(iv.lo).toBe(scan.acts[iv.to - 1]);
      if (j > 0) expect(iv.from).toBe(intervals[j - 1]!.to);
    }
    // The top 1% really is the top 1%.
    expect(intervals[0]!.count).toBe(firing - Math.floor(0.99 * firing));
    // Modality filter: image rows (code 0) and the rest.
    const image = ofModality(scan, 'image');
    const text = ofModality(scan, 'text');
    expect(image.length + text.length).toBe(firing);
    expect(image.every((i) => scan.modality[i] === 0)).toBe(true);
  });

  it('gives a seeded permutation (pages of "more" never repeat) and scans small harvests whole, large ones on an even sample', () => {
    const order = seededOrder(50, 7);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(seededOrder(50, 7)).toEqual(order);
    expect(seededOrder(50, 8)).not.toEqual(order);
    expect(scanRows(32_275, 128, 2)).toEqual({ all: true, rows: [] });
    const big = scanRows(5_000_000, 2560, 2);
    expect(big.all).toBe(false);
    expect(big.rows.length).toBeLessThan(200_000);
    expect(big.rows[0]).toBe(0);
    expect(big.rows.at(-1)!).toBeGreaterThan(4_900_000);
  });
});

describe('nearest features by decoder cosine', () => {
  it('agrees with a direct computation and finds a duplicated direction at cosine 1', () => {
    const dSae = 40;
    const d = 12;
    const rand = mulberry32(11);
    const W = Float32Array.from({ length: dSae * d }, () => rand() - 0.5);
    W.set(
      W.subarray(5 * d, 6 * d).map((x) => x * 3),
      17 * d,
    ); // feature 17 = 3 x feature 5
    W.fill(0, 30 * d, 31 * d); // a dead feature is never a neighbour
    const near = nearestByDecoderCosine(W, dSae, 5, 6, decoderNorms(W, dSae));
    expect(near[0]!.feature).toBe(17);
    expect(near[0]!.cosine).toBeCloseTo(1, 6);
    const cos = (a: number, b: number) => {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < d; i++) {
        dot += W[a * d + i]! * W[b * d + i]!;
        na += W[a * d + i]! ** 2;
        nb += W[b * d + i]! ** 2;
      }
      return dot / Math.sqrt(na * nb);
    };
    const direct = Array.from({ length: dSae }, (_, g) => g)
      .filter((g) => g !== 5 && g !== 30)
      .map((g) => ({ feature: g, cosine: cos(5, g) }))
      .sort((a, b) => b.cosine - a.cosine)
      .slice(0, 6);
    expect(near.map((x) => x.feature)).toEqual(direct.map((x) => x.feature));
    near.forEach((x, i) => expect(x.cosine).toBeCloseTo(direct[i]!.cosine, 5));
    expect(nearestByDecoderCosine(W, dSae, 30, 3)).toEqual([]);
  });
});

describe('search by content', () => {
  it('parses kind:value queries (colour as color) and leaves other text to the label search', () => {
    expect(parseContentQuery('color:Red')).toEqual({ kind: 'color', value: 'red' });
    expect(parseContentQuery(' colour : red ')).toEqual({ kind: 'color', value: 'red' });
    expect(parseContentQuery('token:?')).toEqual({ kind: 'token', value: '?' });
    expect(parseContentQuery('promotes: blue')).toEqual({ kind: 'promotes', value: 'blue' });
    expect(parseContentQuery('red squares')).toBeNull();
    expect(parseContentQuery('note: a label with a colon')).toBeNull();
  });
  it('scores features by the share of matching top examples, and logit queries by the logit', () => {
    const byFeature = new Map([
      [1, ['red', 'red', 'blue', 'red']],
      [2, ['red', 'blue']],
      [3, ['blue']],
      [4, ['red', 'red']],
    ]);
    expect(shareMatching(byFeature, (x) => x === 'red')).toEqual([
      { feature: 4, hits: 2, of: 2 },
      { feature: 1, hits: 3, of: 4 },
      { feature: 2, hits: 1, of: 2 },
    ]);
    const logits = new Map([
      [7, { promoted: [{ token: ' Red', activation: 3 }], suppressed: [{ token: ' blue', activation: -2 }] }],
      [
        8,
        {
          promoted: [
            { token: ' green', activation: 9 },
            { token: 'red', activation: 5 },
          ],
          suppressed: [{ token: ' blue', activation: -6 }],
        },
      ],
    ]);
    expect(logitMatches(logits, 'promoted', 'red').map((m) => [m.feature, m.rank])).toEqual([
      [8, 1],
      [7, 0],
    ]);
    expect(logitMatches(logits, 'suppressed', 'blue').map((m) => m.feature)).toEqual([8, 7]);
  });
  it('leaves special tokens out of logit effects, at the source and in stored ones', () => {
    const row = Float32Array.from([5, 1, 9, -3, 7, -8]);
    expect(extremes(row, 2).promoted.map((t) => t.id)).toEqual([2, 4]);
    expect(extremes(row, 2, new Set([2, 5])).promoted.map((t) => t.id)).toEqual([4, 0]);
    expect(extremes(row, 2, new Set([2, 5])).suppressed.map((t) => t.id)).toEqual([3, 1]);
    const stored = {
      promoted: [
        { token: ' </s>', activation: 4 },
        { token: ' red', activation: 3 },
      ],
      suppressed: [{ token: '<image>', activation: -1 }],
    };
    expect(withoutSpecialTokens(stored, new Set(['</s>', '<image>']))).toEqual({
      promoted: [{ token: ' red', activation: 3 }],
      suppressed: [],
    });
  });
});

describe('experiment items', () => {
  const items = [
    ...Array.from({ length: 30 }, (_, i) => ({ id: i, task: 'color' })),
    ...Array.from({ length: 30 }, (_, i) => ({ id: 100 + i, task: 'shape' })),
    ...Array.from({ length: 5 }, (_, i) => ({ id: 200 + i, task: 'count' })),
    { id: 300, task: null },
  ];
  it('share a limit evenly across the chosen tasks, in dataset order within each', () => {
    const chosen = selectItems(items, ['color', 'shape'], 24);
    expect(chosen.filter((i) => i.task === 'color').map((i) => i.id)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(chosen.filter((i) => i.task === 'shape')).toHaveLength(12);
    expect(chosen.map((i) => i.id)).toEqual([...chosen.map((i) => i.id)].sort((a, b) => a - b));
    // A small task gives its share to the others.
    const three = selectItems(items, ['color', 'shape', 'count'], 30);
    expect(three.filter((i) => i.task === 'count')).toHaveLength(5);
    expect(three).toHaveLength(30);
    expect(selectItems(items, ['color'], null)).toHaveLength(30);
    expect(selectItems(items, null, null)).toHaveLength(66);
  });
  it('plan the selection, flagging a task that would get nothing', () => {
    const plan = planItems(items, ['color', 'shape'], 1);
    expect(plan.total).toBe(1);
    expect(plan.tasks.find((t) => t.task === 'shape')).toEqual({ task: 'shape', available: 30, selected: 0, requested: true });
    expect(plan.tasks.find((t) => t.task === 'count')!.requested).toBe(false);
    expect(plan.untagged).toBe(1);
    const missing = planItems(items, ['colour'], null);
    expect(missing.tasks.find((t) => t.task === 'colour')).toEqual({ task: 'colour', available: 0, selected: 0, requested: true });
    expect(missing.total).toBe(0);
  });
});

describe('label reviews', () => {
  it("record who agreed or disagreed in the label's history, keep its author, and refuse reviewing one's own label", () => {
    const w = Workspace.create(path.join(tmpDir(), 'ws'));
    try {
      w.db
        .prepare(
          "INSERT INTO saes (id, name, folder, architecture, d_in, d_sae, k, hook_name, model_name, source, created_at) VALUES (1, 's', 'x', 'topk', 4, 8, 2, 'blocks.0.hook_resid_post', null, 'trained', 'now')",
        )
        .run();
      const labels = new LabelStore(w.db);
      expect(() => reviewLabel(w.db, 1, 3, 'agree', 'grace')).toThrow(/no label to review/);
      labels.set(1, { feature: 3, label: 'red patches', tags: ['colour'], confidence: 0.8, status: 'labelled', annotator: 'ada' });
      expect(() => reviewLabel(w.db, 1, 3, 'agree', 'ada')).toThrow(/review must come from another annotator/);
      const agreed = reviewLabel(w.db, 1, 3, 'agree', 'grace');
      expect(agreed).toMatchObject({ label: 'red patches', status: 'labelled', annotator: 'ada' });
      const disagreed = reviewLabel(w.db, 1, 3, 'disagree', 'alan');
      expect(disagreed).toMatchObject({ label: 'red patches', status: 'needs-review', annotator: 'ada' });
      expect(labels.history(1, 3).map((h) => [h.source, h.annotator, h.status])).toEqual([
        ['review:disagree', 'alan', 'needs-review'],
        ['review:agree', 'grace', 'labelled'],
        ['edit', 'ada', 'labelled'],
      ]);
    } finally {
      w.close();
    }
  });
});

describe('your own input', () => {
  it('accepts PNG and JPEG bytes only, and summarises a feature over image and text tokens', () => {
    expect(imageKind(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe('png');
    expect(imageKind(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpg');
    expect(imageKind(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
    expect(summarise(Float32Array.of(0, 2, 0.5, 3, 0), [true, true, false, false, false])).toEqual({
      max: 3,
      imageMax: 2,
      textMax: 3,
      firing: 3,
    });
    // Candidates by their largest code over all tokens.
    const vals = Float32Array.of(5, 1, 0, 2, 4, 3);
    const idx = Int32Array.of(10, 11, 12, 11, 13, 10);
    expect(candidatesFromCodes(vals, idx, 3)).toEqual([10, 13, 11]);
  });
});

describe('serving the renderer', () => {
  it('prefers brotli, then gzip, honours q=0, and caches only hashed assets for long', () => {
    expect(chooseEncoding('gzip, deflate, br, zstd')).toBe('br');
    expect(chooseEncoding('gzip')).toBe('gzip');
    expect(chooseEncoding('br;q=0, gzip;q=0.5')).toBe('gzip');
    expect(chooseEncoding('*')).toBe('br');
    expect(chooseEncoding(undefined)).toBe('identity');
    expect(chooseEncoding('identity')).toBe('identity');
    expect(cacheControl('/assets/FeaturesPage-DkO6EeOu.js')).toBe('public, max-age=31536000, immutable');
    expect(cacheControl('/')).toBe('no-cache');
    expect(cacheControl('/favicon.svg')).toBe('no-cache');
  });
});
