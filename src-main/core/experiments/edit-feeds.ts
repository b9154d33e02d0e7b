/**
 * The inputs an edited graph (SAE edit `x` + steering input at the tap, surgery.ts) is fed for one
 * experiment condition over a set of tap positions: a decoder's [batch, seq] prompt or step, or a
 * vision tower's tokens ([tiles, tokens] or Qwen's packed [patches]). Interventions set the SAE's
 * per-feature scale / clamp; `add` and the norm-matched random direction go through the steering
 * input, only at positions whose mask is 1. The baseline's inputs leave the graph unchanged, bit for bit.
 */
import type { ExperimentSpec } from '../../contract/contract.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import { saeIdentityInputs } from '../onnx/surgery.js';
import type { Condition } from './conditions.js';

export interface EditContext {
  op: ExperimentSpec['operation'];
  dSae: number;
  /** The tap's width (the SAE's d_in). */
  d: number;
  W_dec: Float32Array;
  /** Per-feature mean activations (mean ablation). */
  means: Map<number, number>;
  /** A unit vector of width d: the random direction. */
  unit: Float32Array;
  tap: string;
}

/**
 * Feeds for condition `c` over positions of shape `dims` (the tap's shape without its width),
 * editing where `mask` is 1; `normAt(p)` is the random direction's length at position p (the
 * measured shift of the intervention it controls for, on that position's item).
 */
export function conditionFeeds(
  ctx: EditContext,
  c: Condition,
  dims: number[],
  mask: Float32Array,
  normAt: ((p: number) => number) | null,
): Record<string, WireTensor> {
  const { d, op } = ctx;
  const positions = dims.reduce((a, b) => a * b, 1);
  if (mask.length !== positions) throw new Error(`An edit mask of ${mask.length} positions for a tap of ${positions}.`);
  const f: Record<string, WireTensor> = saeIdentityInputs('x', ctx.dSae, 1, positions);
  f['sae.x.position_mask'] = { type: 'float32', dims, data: mask };
  const steer = new Float32Array(positions * d);
  if (c.kind !== 'baseline' && c.kind !== 'random-direction') {
    const scale = f['sae.x.scale']!.data as Float32Array;
    const clampMask = f['sae.x.clamp_mask']!.data as Float32Array;
    const clampValue = f['sae.x.clamp_value']!.data as Float32Array;
    for (const feat of c.features) {
      if (op.op === 'scale') scale[feat] = c.value!;
      else if (op.op === 'zero') scale[feat] = 0;
      else if (op.op === 'clamp' || op.op === 'mean') {
        clampMask[feat] = 1;
        clampValue[feat] = op.op === 'clamp' ? c.value! : (ctx.means.get(feat) ?? 0);
      }
    }
    if (op.op === 'add') {
      const dir = new Float32Array(d);
      for (const feat of c.features) for (let i = 0; i < d; i++) dir[i]! += ctx.W_dec[feat * d + i]!;
      for (let p = 0; p < positions; p++) if (mask[p]) for (let i = 0; i < d; i++) steer[p * d + i] = c.value! * dir[i]!;
    }
  }
  if (c.kind === 'random-direction' && normAt) {
    for (let p = 0; p < positions; p++) {
      if (!mask[p]) continue;
      const n = normAt(p);
      for (let i = 0; i < d; i++) steer[p * d + i] = ctx.unit[i]! * n;
    }
  }
  f[`steer.${ctx.tap}`] = { type: 'float32', dims: [...dims, d], data: steer };
  return f;
}

/**
 * The same feeds as conditionFeeds for the baseline, shaped to broadcast over a tap of `rank`
 * dims (null: unknown) whose positions are not known before the first run.
 */
export function identityFeeds(ctx: Pick<EditContext, 'dSae' | 'd' | 'tap'>, rank: number | null): Record<string, WireTensor> {
  const lead = Math.max(1, (rank ?? 2) - 1);
  const ones = new Array<number>(lead).fill(1);
  const f: Record<string, WireTensor> = saeIdentityInputs('x', ctx.dSae, 1, 1);
  f['sae.x.position_mask'] = { type: 'float32', dims: ones, data: Float32Array.of(1) };
  f[`steer.${ctx.tap}`] = { type: 'float32', dims: [...ones, ctx.d], data: new Float32Array(ctx.d) };
  return f;
}

/** Mean L2 norm of x1 - x0 (width d) over the masked positions in [from, to); 0 where none is masked. */
export function meanShift(x0: Float32Array, x1: Float32Array, mask: Float32Array, d: number, from: number, to: number): number {
  let total = 0;
  let count = 0;
  for (let p = from; p < to; p++) {
    if (!mask[p]) continue;
    let s = 0;
    for (let j = 0; j < d; j++) s += (x1[p * d + j]! - x0[p * d + j]!) ** 2;
    total += Math.sqrt(s);
    count++;
  }
  return count ? total / count : 0;
}

/**
 * Which rows fire any of `features`: from the analysis encoder's sparse output (vals, idx: rows x k,
 * each row's active features), a row fires a feature when it is among them with a positive value.
 */
export function firingMask(vals: Float32Array, idx: Int32Array, k: number, features: number[]): Float32Array {
  const want = new Set(features);
  const rows = vals.length / k;
  const mask = new Float32Array(rows);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < k; j++)
      if (vals[r * k + j]! > 0 && want.has(idx[r * k + j]!)) {
        mask[r] = 1;
        break;
      }
  return mask;
}
