/**
 * Statistics building blocks against values computed independently (tools/stats_reference.py, Python's
 * standard library, each method written from its definition) and, where a paper prints them, the
 * published values.
 */
import { describe, expect, it } from 'vitest';
import { normalQuantile, zForLevel } from '../../src-main/core/stats/normal';
import { mcnemarMidP, pairedDifferenceInterval, pairedTable } from '../../src-main/core/stats/paired';
import { adjustPValues, benjaminiHochbergAdjust, holmAdjust } from '../../src-main/core/stats/p-adjust';
import { wilsonInterval, wilsonOfOutcomes } from '../../src-main/core/stats/proportion';
import { mulberry32 } from '../../src-main/core/util/random';

const close = (got: number, want: number, digits = 12) => expect(got).toBeCloseTo(want, digits);

describe('normal quantile (AS241)', () => {
  it('matches Python NormalDist.inv_cdf and the familiar critical values', () => {
    close(normalQuantile(0.975), 1.9599639845400536, 14);
    close(normalQuantile(0.995), 2.5758293035489, 13);
    close(normalQuantile(0.9), 1.2815515655446008, 14);
    close(normalQuantile(0.8), 0.8416212335729144, 14);
    expect(normalQuantile(0.5)).toBe(0);
    close(normalQuantile(1e-10), -6.361340902404056, 12);
    close(normalQuantile(0.025), -normalQuantile(0.975), 15);
    close(zForLevel(0.95), 1.959963984540054, 14);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(() => normalQuantile(1.5)).toThrow(/probability/);
    expect(() => zForLevel(1)).toThrow(/confidence level/);
  });
});

describe('Wilson interval for a proportion', () => {
  it('reproduces Newcombe (1998) Table I and the independent reference', () => {
    // Published to 4 places (Stat Med 17:857, method 3): 81/263 0.2553-0.3662, 15/148 0.0624-0.1605,
    // 0/20 0.0000-0.1611, 1/29 0.0061-0.1718.
    const cases: Array<[number, number, number, number, number]> = [
      [81, 263, 0.95, 0.2552885198782743, 0.3662095769828001],
      [15, 148, 0.95, 0.06238639953073629, 0.160487241723308],
      [0, 20, 0.95, 0, 0.1611251580528193],
      [1, 29, 0.95, 0.006113214292762653, 0.17175521879320282],
      [20, 20, 0.95, 0.8388748419471808, 1],
      [7, 12, 0.9, 0.3559810149005347, 0.7800221193082193],
    ];
    for (const [k, n, level, lower, upper] of cases) {
      const ci = wilsonInterval(k, n, level);
      close(ci.lower, lower);
      close(ci.upper, upper);
      expect(ci.estimate).toBe(k / n);
      expect(ci.method).toBe('wilson');
    }
  });

  it('never collapses to a point at 0% or 100%, and stays inside [0, 1]', () => {
    for (let n = 1; n <= 500; n++) {
      const none = wilsonInterval(0, n);
      const all = wilsonInterval(n, n);
      expect([none.lower, all.upper]).toEqual([0, 1]);
      expect(none.upper).toBeGreaterThan(0);
      expect(all.lower).toBeLessThan(1);
      close(none.upper, 1 - all.lower, 12); // symmetric in k <-> n - k
      for (const k of [1, Math.floor(n / 2), n - 1].filter((k) => k > 0 && k < n)) {
        const ci = wilsonInterval(k, n);
        expect(ci.lower).toBeGreaterThan(0);
        expect(ci.upper).toBeLessThan(1);
        expect(ci.lower).toBeLessThan(k / n);
        expect(ci.upper).toBeGreaterThan(k / n);
      }
    }
    // 60 of 60, the experiment table's "100.0% [100.0%, 100.0%]": now [94.0%, 100%].
    close(wilsonOfOutcomes(new Array<boolean>(60).fill(true)).lower, 0.93982814785791);
  });

  it('refuses what has no interval', () => {
    expect(() => wilsonInterval(0, 0)).toThrow(/no items/);
    expect(() => wilsonInterval(5, 4)).toThrow(/exceed/);
    expect(() => wilsonInterval(1.5, 4)).toThrow(/whole number/);
  });
});

describe('adjusted p-values (R p.adjust)', () => {
  it('matches p.adjust on worked vectors', () => {
    // By hand: sorted (0.01 .. 0.05) x (5, 4, 3, 2, 1) = 0.05, 0.08, 0.09, 0.08, 0.05, then a running max.
    expect(holmAdjust([0.01, 0.02, 0.03, 0.04, 0.05]).map((v) => +v.toFixed(12))).toEqual([0.05, 0.08, 0.09, 0.09, 0.09]);
    // By hand: (5/i) p(i) = 0.05 for every i.
    expect(benjaminiHochbergAdjust([0.01, 0.02, 0.03, 0.04, 0.05]).map((v) => +v.toFixed(12))).toEqual([0.05, 0.05, 0.05, 0.05, 0.05]);
    // Unsorted, with a tie (0.03 twice).
    const p = [0.04, 0.001, 0.03, 0.2, 0.03, 0.6, 0.012];
    const holm = [0.15, 0.007, 0.15, 0.4, 0.15, 0.6, 0.07200000000000001];
    const bh = [0.055999999999999994, 0.007, 0.0525, 0.23333333333333336, 0.0525, 0.6, 0.042];
    holmAdjust(p).forEach((v, i) => close(v, holm[i]!, 14));
    benjaminiHochbergAdjust(p).forEach((v, i) => close(v, bh[i]!, 14));
    expect(adjustPValues(p, 'holm')).toEqual(holmAdjust(p));
    expect(adjustPValues(p, 'bh')).toEqual(benjaminiHochbergAdjust(p));
  });

  it('reproduces Benjamini & Hochberg (1995): 4 of their 15 p-values are discoveries at q = 0.05', () => {
    const p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.324, 0.4262, 0.5719, 0.6528, 0.759, 1.0];
    const adjusted = benjaminiHochbergAdjust(p);
    expect(adjusted.filter((v) => v <= 0.05)).toHaveLength(4);
    close(adjusted[3]!, 0.035625, 14);
    close(adjusted[4]!, 0.0603, 14);
    expect(holmAdjust(p).filter((v) => v <= 0.05)).toHaveLength(3);
  });

  it('is monotone in the raw p, never below it, capped at 1, and keeps ties equal', () => {
    const rand = mulberry32(19);
    for (let trial = 0; trial < 200; trial++) {
      const m = 1 + Math.floor(rand() * 30);
      const p = Array.from({ length: m }, () => (rand() < 0.2 ? Math.round(rand() * 10) / 10 : rand() ** 3));
      for (const adjusted of [holmAdjust(p), benjaminiHochbergAdjust(p)]) {
        for (let i = 0; i < m; i++) {
          expect(adjusted[i]!).toBeGreaterThanOrEqual(p[i]!);
          expect(adjusted[i]!).toBeLessThanOrEqual(1);
          for (let j = 0; j < m; j++) if (p[i]! <= p[j]!) expect(adjusted[i]!).toBeLessThanOrEqual(adjusted[j]!);
        }
      }
    }
    expect(holmAdjust([])).toEqual([]);
    expect(holmAdjust([0.3])).toEqual([0.3]);
    expect(() => holmAdjust([0.1, Number.NaN])).toThrow(/\[0, 1\]/);
    expect(() => benjaminiHochbergAdjust([1.2])).toThrow(/\[0, 1\]/);
  });
});

describe('paired accuracy difference', () => {
  it('reproduces the published Newcombe square-and-add interval and the independent reference', () => {
    // Cavo et al. (2012) as in Fagerland, Lydersen & Laake's contingencytables: -0.0621 (-0.1186 to -0.0046).
    const cases: Array<[[number, number, number, number], number, number, number]> = [
      [[59, 6, 16, 80], -0.06211180124223603, -0.11862119563870993, -0.004625113933050061],
      [[1, 1, 7, 12], -0.2857142857142857, -0.5069202266861409, -0.025559124164859892],
      [[60, 0, 0, 0], 0, -0.06017185214208998, 0.06017185214208998],
      [[0, 20, 0, 0], 1, 0.7721346162421945, 1],
      [[43, 12, 3, 2], 0.1499999999999999, 0.021294424947302465, 0.27780468123154706],
    ];
    for (const [[both, firstOnly, secondOnly, neither], difference, lower, upper] of cases) {
      const d = pairedDifferenceInterval({ both, firstOnly, secondOnly, neither });
      close(d.difference, difference);
      close(d.lower, lower);
      close(d.upper, upper);
      expect(d.n).toBe(both + firstOnly + secondOnly + neither);
    }
  });

  it('never collapses when both conditions score 100% (or 0%), and always contains the difference', () => {
    for (const n of [1, 5, 20, 60, 400]) {
      for (const t of [
        { both: n, firstOnly: 0, secondOnly: 0, neither: 0 },
        { both: 0, firstOnly: 0, secondOnly: 0, neither: n },
      ]) {
        const d = pairedDifferenceInterval(t);
        expect(d.difference).toBe(0);
        expect(d.lower).toBeLessThan(0);
        expect(d.upper).toBeGreaterThan(0);
      }
    }
    const rand = mulberry32(5);
    for (let trial = 0; trial < 500; trial++) {
      const t = {
        both: Math.floor(rand() * 30),
        firstOnly: Math.floor(rand() * 10),
        secondOnly: Math.floor(rand() * 10),
        neither: Math.floor(rand() * 30),
      };
      if (t.both + t.firstOnly + t.secondOnly + t.neither === 0) continue;
      const d = pairedDifferenceInterval(t);
      expect(d.lower).toBeLessThanOrEqual(d.difference);
      expect(d.upper).toBeGreaterThanOrEqual(d.difference);
      expect(d.lower).toBeGreaterThanOrEqual(-1);
      expect(d.upper).toBeLessThanOrEqual(1);
    }
  });

  it('builds the paired table from two conditions on the same items', () => {
    const first = [true, true, false, false, true];
    const second = [true, false, true, false, true];
    expect(pairedTable(first, second)).toEqual({ both: 2, firstOnly: 1, secondOnly: 1, neither: 1 });
    expect(() => pairedTable([true], [])).toThrow(/same items/);
    expect(() => pairedDifferenceInterval({ both: 0, firstOnly: 0, secondOnly: 0, neither: 0 })).toThrow(/no items/);
  });

  it('gives the mid-p McNemar test of Fagerland et al. (2013)', () => {
    // Bentur et al. (2009), b = 1, c = 7: by hand 2 (1 + 8/2) / 256 = 0.0390625 (the paper: 0.039).
    expect(mcnemarMidP({ both: 1, firstOnly: 1, secondOnly: 7, neither: 12 })).toBe(0.0390625);
    close(mcnemarMidP({ both: 10, firstOnly: 12, secondOnly: 3, neither: 5 }), 0.021270751953125, 15);
    close(mcnemarMidP({ both: 0, firstOnly: 0, secondOnly: 25, neither: 0 }) / 2 ** -25, 1, 12); // 2 · ½ P(X = 0) = 2^-25
    expect(mcnemarMidP({ both: 9, firstOnly: 3, secondOnly: 3, neither: 1 })).toBe(1);
    expect(mcnemarMidP({ both: 60, firstOnly: 0, secondOnly: 0, neither: 0 })).toBe(1);
    // 2,900 discordant pairs: 2^2900 overflows a double, so the terms are summed in log space.
    close(mcnemarMidP({ both: 0, firstOnly: 1500, secondOnly: 1400, neither: 0 }), 0.06334475917867231, 10);
  });
});
