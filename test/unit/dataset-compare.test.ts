/**
 * SAE-V filtering's comparison (issue 19 item 1): the domain maths (core/datasets/filter-compare.ts)
 * against direct computations, and `ocular dataset compare` end to end on the bundled demo model —
 * three SAEs (filtered share, random share of the same size, all of the pool) measured on held-out items.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DatasetComparison } from '../../src-main/contract/contract';
import { ceRecoveredOf, fvuOf, fvuSums, overItems, planComparison, rowsOfItems } from '../../src-main/core/datasets/filter-compare';
import { itemActivity } from '../../src-main/core/datasets/filter-dataset';
import { itemScore } from '../../src-main/core/datasets/sae-v-filter';
import { HarvestStore } from '../../src-main/core/harvest/harvest-store';
import { decode, encode } from '../../src-main/core/sae/sae-encode';
import { SaeStore } from '../../src-main/core/sae/sae-store';
import { lossRecovered } from '../../src-main/core/sae/splice-metrics';
import { bootstrapUnitsCi } from '../../src-main/core/stats/bootstrap';
import { Workspace } from '../../src-main/core/store/workspace';
import { mulberry32 } from '../../src-main/core/util/random';
import { runCli } from '../helpers/cli';
import { memorySource } from '../helpers/row-source';
import { demoSaeWorkspace } from '../helpers/demo-workspace';

describe('filtered / random / all comparison: the maths', () => {
  const scores = new Map(Array.from({ length: 40 }, (_, i) => [i + 1, (i * 7) % 13] as [number, number]));

  it('holds items out of every arm, keeps the pool’s best share by score and a random share of the same size', () => {
    const plan = planComparison(scores, { by: 'l0', keep: 0.5, heldOut: 0.25, seed: 3 });
    expect(plan.heldOut).toHaveLength(10);
    expect(plan.pool).toHaveLength(30);
    expect(plan.heldOut.filter((id) => plan.pool.includes(id))).toEqual([]);
    expect(plan.arms.all).toEqual(plan.pool);
    expect(plan.arms.filtered).toHaveLength(15);
    expect(plan.arms.random).toHaveLength(15);
    for (const arm of [plan.arms.filtered, plan.arms.random]) expect(arm.every((id) => plan.pool.includes(id))).toBe(true);
    // The filtered share is the pool's top 15 by score (ties by id).
    const ranked = [...plan.pool].sort((a, b) => scores.get(b)! - scores.get(a)! || a - b).slice(0, 15);
    expect(plan.arms.filtered).toEqual(ranked.sort((a, b) => a - b));
    expect(plan.arms.random).not.toEqual(plan.arms.filtered);
    expect(planComparison(scores, { by: 'l0', keep: 0.5, heldOut: 0.25, seed: 3 })).toEqual(plan);
    expect(() =>
      planComparison(
        new Map([
          [1, 0],
          [2, 1],
        ]),
        { by: 'l0', keep: 0.5, heldOut: 0.25, seed: 0 },
      ),
    ).toThrow(/cannot be split/);
    expect(Array.from(rowsOfItems([{ item_id: 5 }, { item_id: 6 }, { item_id: 5 }], [5]))).toEqual([0, 2]);
  });

  it('computes FVU and CE recovered as ratios of sums over items, with a seeded bootstrap over items', () => {
    const rand = mulberry32(1);
    const width = 3;
    const items = Array.from({ length: 12 }, () => {
      const n = 1 + Math.floor(rand() * 4);
      const x = Array.from({ length: n * width }, () => rand() * 4 - 1);
      const err = x.map(() => (rand() - 0.5) * 0.3);
      return { x, err, n };
    });
    const sums = items.map(({ x, err, n }) => {
      const sum = new Float64Array(width);
      x.forEach((v, i) => (sum[i % width]! += v));
      return { n, sum, squares: x.reduce((a, v) => a + v * v, 0), sse: err.reduce((a, e) => a + e * e, 0) };
    });
    const all = items.flatMap((i) => i.x);
    const rows = all.length / width;
    const mean = [0, 1, 2].map((j) => all.filter((_, i) => i % width === j).reduce((a, b) => a + b, 0) / rows);
    const total = all.reduce((a, v, i) => a + (v - mean[i % width]!) ** 2, 0);
    const sse = items.flatMap((i) => i.err).reduce((a, e) => a + e * e, 0);
    expect(fvuOf(sums)).toBeCloseTo(sse / total, 12);
    // A resample's FVU uses that resample's own mean: item 0 twice is FVU of its rows doubled.
    expect(fvuOf(sums, [0, 0])).toBeCloseTo(fvuOf([sums[0]!]), 12);
    const estimate = overItems(sums, fvuOf, 500, 7);
    expect(estimate.value).toBe(fvuOf(sums));
    expect(estimate.ci95[0]).toBeLessThan(estimate.value);
    expect(estimate.ci95[1]).toBeGreaterThan(estimate.value);
    expect(overItems(sums, fvuOf, 500, 7)).toEqual(estimate);

    const ce = [
      { clean: 1, spliced: 2, zero: 5 },
      { clean: 2, spliced: 2.5, zero: 4 },
    ];
    expect(ceRecoveredOf(ce)).toBeCloseTo(lossRecovered(3, 4.5, 9), 14);
    expect(ceRecoveredOf(ce, [1, 1])).toBeCloseTo(lossRecovered(4, 5, 8), 14);
    expect(bootstrapUnitsCi(0, () => 1, 100, 0)).toEqual([0, 0]);
  });
});

const TAP = 'blocks.0.hook_resid_post';
let ws: string;

beforeAll(async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-compare-'));
  ws = path.join(root, 'ws');
  await demoSaeWorkspace(root, { tap: TAP, seed: 5, perCell: 4, steps: 300, analyze: true, timeoutMs: 300_000 });
}, 600_000);

describe('ocular dataset compare', () => {
  it('trains on the filtered share, a random share of the same size and all items, and reports FVU, CE recovered and probe accuracy with CIs', async () => {
    const args = ['dataset', 'compare', '--workspace', ws, '--analysis', '1', '--by', 'cross-modal', '--keep', '0.5'];
    const res = await runCli([...args, '--steps', '150', '--ce-items', '12', '--json'], 400_000);
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as DatasetComparison;
    expect(r.intervals).toEqual({ fvu: 'bootstrap-items', ceRecovered: 'bootstrap-items', probe: 'wilson', resamples: 2000, seed: 0 });
    expect(r.arms.map((a) => a.arm)).toEqual(['filtered', 'random', 'all']);

    const db = Workspace.open(ws);
    try {
      // The same split, recomputed from the analysis's SAE-V scores.
      const { activity, weights, harvestId } = itemActivity(db.db, ws, 1, 0);
      const scores = new Map([...activity].map(([item, a]) => [item, itemScore(a, 'cross-modal', weights)]));
      const plan = planComparison(scores, { by: 'cross-modal', keep: 0.5, heldOut: 0.25, seed: 0 });
      expect(r.heldOutItems).toBe(plan.heldOut.length);
      expect(r.poolItems).toBe(plan.pool.length);
      const [filtered, random, all] = r.arms;
      expect(filtered!.items).toBe(Math.ceil(plan.pool.length / 2));
      expect(random!.items).toBe(filtered!.items);
      expect(all!.items).toBe(plan.pool.length);
      const harvests = new HarvestStore(db.db, ws);
      const index = harvests.patchIndex(harvestId, 'decoder');
      expect(all!.rows).toBe(rowsOfItems(index, plan.pool).length);
      expect(filtered!.rows).toBe(rowsOfItems(index, plan.arms.filtered).length);

      // FVU recomputed directly over the held-out rows with each stored SAE.
      const { data, width } = harvests.readTap(harvestId, TAP);
      const held = rowsOfItems(index, plan.heldOut);
      const saes = new SaeStore(db.db, ws);
      for (const arm of r.arms) {
        expect(new Set(r.arms.map((a) => a.saeId)).size).toBe(3);
        const sae = saes.load(arm.saeId);
        const x = new Float32Array(held.length * width);
        held.forEach((row, i) => x.set(data.subarray(row * width, (row + 1) * width), i * width));
        const xHat = decode(sae, encode(sae, x), x);
        const mean = new Float64Array(width);
        x.forEach((v, i) => (mean[i % width]! += v / held.length));
        let sse = 0;
        let total = 0;
        x.forEach((v, i) => {
          sse += (v - xHat[i]!) ** 2;
          total += (v - mean[i % width]!) ** 2;
        });
        expect(arm.fvu.value).toBeCloseTo(sse / total, 6);
        expect((await fvuSums(sae, memorySource(data, width), index, held)).length).toBe(plan.heldOut.length);
        for (const e of [arm.fvu, arm.ceRecovered]) {
          expect(e.ci95[0]).toBeLessThanOrEqual(e.value);
          expect(e.ci95[1]).toBeGreaterThanOrEqual(e.value);
          expect(e.ci95[1]).toBeGreaterThan(e.ci95[0]);
        }
        expect(arm.ce.items).toBe(Math.min(12, plan.heldOut.length));
        expect(arm.ce.zero).toBeGreaterThan(arm.ce.clean);
        expect(arm.ceRecovered.value).toBeCloseTo(lossRecovered(arm.ce.clean, arm.ce.spliced, arm.ce.zero), 9);
        // Wilson: never a point, even at 100%.
        expect(arm.probe.ci95[1]).toBeGreaterThan(arm.probe.ci95[0]);
        expect(arm.probe.accuracy).toBeGreaterThan(0);
        expect(arm.probe.test).toBeGreaterThan(0);
      }
      // One clean model under every arm: the same clean CE.
      expect(random!.ce.clean).toBeCloseTo(filtered!.ce.clean, 9);
    } finally {
      db.close();
    }

    const text = await runCli([...args, '--steps', '20', '--ce-items', '4'], 400_000);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^filtered +\d+ +\d+ {2}\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]/m);
    expect(text.stdout).toContain('percentile bootstrap over items');
  }, 600_000);

  it('refuses random as the filter (it is the control) and an unknown analysis, changing nothing', async () => {
    const random = await runCli(['dataset', 'compare', '--workspace', ws, '--analysis', '1', '--by', 'random']);
    expect(random.code).not.toBe(0);
    expect(random.stderr).toMatch(/--by must be one of cross-modal, cooccurrence, l0/);
    const before = fs.statSync(path.join(ws, 'workspace.sqlite')).size;
    const missing = await runCli(['dataset', 'compare', '--workspace', ws, '--analysis', '99', '--by', 'l0']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/analysis/i);
    expect(fs.statSync(path.join(ws, 'workspace.sqlite')).size).toBe(before);
  });
});
