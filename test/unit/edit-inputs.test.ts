/**
 * The per-condition inputs of an edited graph (experiments/edit-inputs.ts, vision-edit.ts): shapes for
 * decoder and vision taps, where steering vectors go, and which rows "fire" a feature set.
 */
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../src-main/core/experiments/conditions';
import { editFeeds, meanShift, positionFeeds } from '../../src-main/core/experiments/edit-inputs';
import { firingMask, identityFeeds } from '../../src-main/core/experiments/vision-edit';

const d = 3;
const sae = { dIn: d, dSae: 4, W_dec: Float32Array.from({ length: 4 * d }, (_, i) => i) };
const tap = 'vision.blocks.0.hook_resid_post';
const means = new Map([[1, 0.5]]);
const feedsFor = (op: Parameters<typeof positionFeeds>[2]) => positionFeeds(sae, tap, op, means, 0);
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
    const f = feedsFor({ op: 'add', values: [2] })(cond('intervention', [0, 2]), [3], Float32Array.of(1, 0, 1), null);
    expect(f['sae.x.position_mask']!.dims).toEqual([3]);
    const steer = f[`steer.${tap}`]!;
    expect(steer.dims).toEqual([3, d]);
    // W_dec rows 0 and 2: [0,1,2] + [6,7,8] = [6,8,10], times 2.
    expect(Array.from(steer.data as Float32Array)).toEqual([12, 16, 20, 0, 0, 0, 12, 16, 20]);
    expect(Array.from(f['sae.x.scale']!.data as Float32Array)).toEqual([1, 1, 1, 1]);
  });

  it('zero, clamp and mean set the per-feature controls; the random direction has the given length per position', () => {
    const zero = feedsFor({ op: 'zero' })(cond('intervention', [1], null), [1, 2], Float32Array.of(1, 1), null);
    expect(Array.from(zero['sae.x.scale']!.data as Float32Array)).toEqual([1, 0, 1, 1]);
    const mean = feedsFor({ op: 'mean' })(cond('intervention', [1], null), [1, 2], Float32Array.of(1, 1), null);
    expect(Array.from(mean['sae.x.clamp_mask']!.data as Float32Array)).toEqual([0, 1, 0, 0]);
    expect(Array.from(mean['sae.x.clamp_value']!.data as Float32Array)).toEqual([0, 0.5, 0, 0]);
    // The random direction: a seeded unit vector, scaled per position.
    const dir = feedsFor({ op: 'zero' })(cond('random-direction'), [2, 1], Float32Array.of(1, 0), (p) => [7, 9][p]!);
    const steer = dir[`steer.${tap}`]!.data as Float32Array;
    expect(Math.hypot(...steer.slice(0, 3))).toBeCloseTo(7, 5);
    expect(Array.from(steer.slice(3))).toEqual([0, 0, 0]);
    expect(() => feedsFor({ op: 'zero' })(cond('baseline'), [2, 2], Float32Array.of(1), null)).toThrow(
      /mask of 1 positions for a tap of 4/,
    );
    // The decoder's [batch, length] form sizes the direction per row.
    const rows = editFeeds(sae, tap, { op: 'zero' }, means, 0)(cond('random-direction'), 2, 1, Float32Array.of(1, 1), [7, 9]);
    const both = rows[`steer.${tap}`]!.data as Float32Array;
    expect(rows[`steer.${tap}`]!.dims).toEqual([2, 1, d]);
    expect(Math.hypot(...both.slice(3))).toBeCloseTo(9, 5);
  });

  it('identity feeds broadcast over a tap of any rank and change nothing', () => {
    const f = identityFeeds({ tap, d, dSae: 4, rank: 3 });
    expect(f['sae.x.position_mask']!.dims).toEqual([1, 1]);
    expect(f[`steer.${tap}`]!.dims).toEqual([1, 1, d]);
    expect(Array.from(f[`steer.${tap}`]!.data as Float32Array)).toEqual([0, 0, 0]);
    expect(identityFeeds({ tap, d, dSae: 4, rank: 2 })['sae.x.position_mask']!.dims).toEqual([1]);
  });

  it('firing rows: any of the features among the active ones with a positive value; the mean shift over masked rows', () => {
    // Two rows, k = 2: row 0 has features 3 (0.5) and 1 (0); row 1 has 1 (2.0) and 0 (1.0).
    const mask = firingMask(Float32Array.of(0.5, 0, 2, 1), Int32Array.of(3, 1, 1, 0), 2, [1]);
    expect(Array.from(mask)).toEqual([0, 1]);
    expect(meanShift(Float32Array.of(0, 0, 0, 0, 0, 0), Float32Array.of(3, 4, 0, 0, 0, 1), Float32Array.of(1, 1), 1, 2, d)).toEqual([3]);
    expect(meanShift(Float32Array.of(0, 0, 0), Float32Array.of(3, 4, 0), Float32Array.of(0), 1, 1, d)).toEqual([0]);
  });
});
