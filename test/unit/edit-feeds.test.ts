/**
 * The per-condition inputs of an edited graph (experiments/edit-feeds.ts): shapes for decoder and
 * vision taps, where steering vectors go, and which rows "fire" a feature set.
 */
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../src-main/core/experiments/conditions';
import { conditionFeeds, firingMask, identityFeeds, meanShift, type EditContext } from '../../src-main/core/experiments/edit-feeds';

const d = 3;
const ctx: EditContext = {
  op: { op: 'add', values: [2] },
  dSae: 4,
  d,
  W_dec: Float32Array.from({ length: 4 * d }, (_, i) => i),
  means: new Map([[1, 0.5]]),
  unit: Float32Array.of(1, 0, 0),
  tap: 'vision.blocks.0.hook_resid_post',
};
const cond = (kind: Condition['kind'], features: number[] = [], value: number | null = 2): Condition => ({
  id: kind,
  kind,
  set: 's',
  value,
  features,
  controlFor: null,
});

describe('condition feeds', () => {
  it("adds the set's decoder direction x value at masked positions only, for a packed [patches] vision tap", () => {
    const f = conditionFeeds(ctx, cond('intervention', [0, 2]), [3], Float32Array.of(1, 0, 1), null);
    expect(f['sae.x.position_mask']!.dims).toEqual([3]);
    const steer = f[`steer.${ctx.tap}`]!;
    expect(steer.dims).toEqual([3, d]);
    // W_dec rows 0 and 2: [0,1,2] + [6,7,8] = [6,8,10], times 2.
    expect(Array.from(steer.data as Float32Array)).toEqual([12, 16, 20, 0, 0, 0, 12, 16, 20]);
    expect(Array.from(f['sae.x.scale']!.data as Float32Array)).toEqual([1, 1, 1, 1]);
  });

  it('zero, clamp and mean set the per-feature controls; the random direction has the given length per position', () => {
    const zero = conditionFeeds({ ...ctx, op: { op: 'zero' } }, cond('intervention', [1], null), [1, 2], Float32Array.of(1, 1), null);
    expect(Array.from(zero['sae.x.scale']!.data as Float32Array)).toEqual([1, 0, 1, 1]);
    const mean = conditionFeeds({ ...ctx, op: { op: 'mean' } }, cond('intervention', [1], null), [1, 2], Float32Array.of(1, 1), null);
    expect(Array.from(mean['sae.x.clamp_mask']!.data as Float32Array)).toEqual([0, 1, 0, 0]);
    expect(Array.from(mean['sae.x.clamp_value']!.data as Float32Array)).toEqual([0, 0.5, 0, 0]);
    const dir = conditionFeeds(ctx, cond('random-direction'), [2, 1], Float32Array.of(1, 0), (p) => [7, 9][p]!);
    expect(Array.from(dir[`steer.${ctx.tap}`]!.data as Float32Array)).toEqual([7, 0, 0, 0, 0, 0]);
    expect(() => conditionFeeds(ctx, cond('baseline'), [2, 2], Float32Array.of(1), null)).toThrow(/mask of 1 positions for a tap of 4/);
  });

  it('identity feeds broadcast over a tap of any rank and change nothing', () => {
    const f = identityFeeds(ctx, 3);
    expect(f['sae.x.position_mask']!.dims).toEqual([1, 1]);
    expect(f[`steer.${ctx.tap}`]!.dims).toEqual([1, 1, d]);
    expect(Array.from(f[`steer.${ctx.tap}`]!.data as Float32Array)).toEqual([0, 0, 0]);
    expect(identityFeeds(ctx, 2)['sae.x.position_mask']!.dims).toEqual([1]);
  });

  it('firing rows: any of the features among the active ones with a positive value; the mean shift over masked rows', () => {
    // Two rows, k = 2: row 0 has features 3 (0.5) and 1 (0); row 1 has 1 (2.0) and 0 (1.0).
    const mask = firingMask(Float32Array.of(0.5, 0, 2, 1), Int32Array.of(3, 1, 1, 0), 2, [1]);
    expect(Array.from(mask)).toEqual([0, 1]);
    expect(meanShift(Float32Array.of(0, 0, 0, 0, 0, 0), Float32Array.of(3, 4, 0, 0, 0, 1), Float32Array.of(1, 1), d, 0, 2)).toBe(3);
    expect(meanShift(Float32Array.of(0, 0, 0), Float32Array.of(3, 4, 0), Float32Array.of(0), d, 0, 1)).toBe(0);
  });
});
