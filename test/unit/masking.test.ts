/**
 * Patch masking's parts (SAE-V Appendix C) on hand-made inputs: the five patch scores, the kept share
 * (best first, ties by index; random seeded and of the same size), the painted image, and the
 * comparison table's statistics against the stats building blocks.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { maskComparison } from '../../src-main/core/masking/compare';
import { keptPatches, maskImage, patchScores } from '../../src-main/core/masking/patch-scores';
import { mcnemarMidP, pairedDifferenceInterval, pairedTable } from '../../src-main/core/stats/paired';
import { holmAdjust } from '../../src-main/core/stats/p-adjust';
import { tmpDir } from '../helpers/tmp';

describe('patch scores', () => {
  const x = {
    patches: [
      [0.5, 0, 0.2, 0],
      [0, 0.9, 0, 0.05],
      [0, 0, 0, 0],
    ],
    textActive: new Set([1, 2]),
    weights: [0.4, 0.1, null, 0.8],
    bound: 0.1,
    features: [1, 3],
  };
  it('counts, sums and weighs the features active on each patch as Appendix C defines them', () => {
    expect(patchScores('l0', x)).toEqual([2, 1, 0]);
    expect(patchScores('l1', x).map((v) => +v.toFixed(12))).toEqual([0.7, 0.95, 0]);
    expect(patchScores('cooccurrence', x)).toEqual([1, 1, 0]);
    expect(patchScores('cross-modal', x).map((v) => +v.toFixed(12))).toEqual([0.4, 0.1, 0]);
    expect(patchScores('features', x).map((v) => +v.toFixed(12))).toEqual([0, 0.95, 0]);
  });
  it('keeps ceil(keep x P) patches, best first with ties by index, or a seeded random choice of the same size', () => {
    expect(keptPatches([0.1, 0.9, 0.5, 0.9], 4, 0.5, 0)).toEqual([1, 3]);
    expect(keptPatches([0.1, 0.9, 0.5, 0.9], 4, 0.75, 0)).toEqual([1, 2, 3]);
    const r = keptPatches(null, 16, 0.25, 9);
    expect(r).toHaveLength(4);
    expect(keptPatches(null, 16, 0.25, 9)).toEqual(r);
    expect(keptPatches(null, 16, 0.25, 10)).not.toEqual(r);
  });
});

describe('masked images', () => {
  it('paints every patch not kept and leaves kept ones untouched', async () => {
    const file = `${tmpDir('mask-')}/a.png`;
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 0 } } })
      .png()
      .toFile(file);
    const boxes: Array<[number, number, number, number]> = [
      [0, 0, 4, 4],
      [4, 0, 8, 4],
      [0, 4, 4, 8],
      [4, 4, 8, 8],
    ];
    const png = await maskImage(file, boxes, [1], [128, 128, 128]);
    const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number) => [...data.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3)];
    expect(px(5, 1)).toEqual([255, 0, 0]);
    for (const [x0, y0] of [
      [1, 1],
      [1, 6],
      [6, 6],
    ])
      expect(px(x0!, y0!)).toEqual([128, 128, 128]);
  });
});

describe('the masking comparison', () => {
  it('gives Wilson intervals that do not collapse at 100%, paired differences against random at the same share, and Holm / BH across rows', () => {
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const of = (f: (i: number) => boolean) => new Map(keys.map((k, i) => [k, f(i)]));
    const rows = maskComparison([
      { method: 'full', keep: 1, outcomes: of(() => true) },
      { method: 'l0', keep: 0.5, outcomes: of((i) => i < 18) },
      { method: 'cross-modal', keep: 0.5, outcomes: of((i) => i < 12) },
      { method: 'random', keep: 0.5, outcomes: of((i) => i < 10) },
    ]);
    expect(rows[0]!.accuracy).toBe(1);
    expect(rows[0]!.ci95[0]).toBeLessThan(0.9);
    expect(rows[0]!.vsRandom).toBeNull();
    expect(rows[3]!.vsRandom).toBeNull();
    const l0 = pairedTable(
      keys.map((_, i) => i < 18),
      keys.map((_, i) => i < 10),
    );
    const cm = pairedTable(
      keys.map((_, i) => i < 12),
      keys.map((_, i) => i < 10),
    );
    const d = pairedDifferenceInterval(l0);
    expect(rows[1]!.vsRandom!.difference).toBeCloseTo(0.4, 12);
    expect(rows[1]!.vsRandom!.ci95).toEqual([d.lower, d.upper]);
    const ps = [mcnemarMidP(l0), mcnemarMidP(cm)];
    expect([rows[1]!.vsRandom!.p, rows[2]!.vsRandom!.p]).toEqual(ps);
    expect([rows[1]!.vsRandom!.pHolm, rows[2]!.vsRandom!.pHolm]).toEqual(holmAdjust(ps));
  });
});
