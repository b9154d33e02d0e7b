/**
 * The inputs of an experiment's edited decoder for one condition: the SAE edit's per-feature scale,
 * clamp mask and value (identity for the baseline), the positions edited, and the steering vector
 * (decoder directions for `add`; a seeded random unit direction sized per row for the
 * random-direction control). One graph serves every condition; only these inputs differ.
 */
import type { ExperimentSpec } from '../../contract/contract.js';
import { saeIdentityInputs } from '../onnx/surgery.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import type { SaeWeights } from '../sae/sae-model.js';
import { mulberry32 } from '../util/random.js';
import type { PromptLayout } from '../vlm/pipeline.js';
import type { Condition } from './conditions.js';

/** Which prompt positions an edit applies to. */
export function promptMask(prefix: PromptLayout, where: ExperimentSpec['where']): Float32Array {
  const mask = new Float32Array(prefix.batch * prefix.length);
  prefix.tokens.forEach((row, r) =>
    row.forEach((t, i) => {
      if (t.modality === 'pad') return;
      if (where === 'all' || where === t.modality) mask[r * prefix.length + i] = 1;
    }),
  );
  return mask;
}

/** A seeded direction of unit norm in `d` dimensions (Box–Muller normals, normalised). */
export function randomUnit(d: number, seed: number): Float32Array {
  const r = mulberry32(seed * 13 + 5);
  const v = Float32Array.from({ length: d }, () => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r()));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

export type EditFeeds = (
  c: Condition,
  batch: number,
  length: number,
  mask: Float32Array,
  norms: number[] | null,
) => Record<string, WireTensor>;

/** The edit inputs for a condition over `batch` x `length` positions; `norms` sizes random directions per row. */
export function editFeeds(
  sae: Pick<SaeWeights, 'dIn' | 'dSae' | 'W_dec'>,
  tap: string,
  operation: ExperimentSpec['operation'],
  overall: Map<number, number>,
  seed: number,
): EditFeeds {
  const d = sae.dIn;
  const unit = randomUnit(d, seed);
  const decoderSum = (features: number[]) => {
    const v = new Float32Array(d);
    for (const f of features) for (let i = 0; i < d; i++) v[i]! += sae.W_dec[f * d + i]!;
    return v;
  };
  return (c, batch, length, mask, norms) => {
    const f: Record<string, WireTensor> = saeIdentityInputs('x', sae.dSae, batch, length);
    (f['sae.x.position_mask']!.data as Float32Array).set(mask);
    const steer = new Float32Array(batch * length * d);
    const op = operation;
    if (c.kind !== 'baseline' && c.kind !== 'random-direction') {
      const scale = f['sae.x.scale']!.data as Float32Array;
      const clampMask = f['sae.x.clamp_mask']!.data as Float32Array;
      const clampValue = f['sae.x.clamp_value']!.data as Float32Array;
      for (const feat of c.features) {
        if (op.op === 'scale') scale[feat] = c.value!;
        else if (op.op === 'zero') scale[feat] = 0;
        else if (op.op === 'clamp' || op.op === 'mean') {
          clampMask[feat] = 1;
          clampValue[feat] = op.op === 'clamp' ? c.value! : (overall.get(feat) ?? 0);
        }
      }
      if (op.op === 'add') {
        const dir = decoderSum(c.features);
        for (let p = 0; p < batch * length; p++) if (mask[p]) for (let i = 0; i < d; i++) steer[p * d + i] = c.value! * dir[i]!;
      }
    }
    if (c.kind === 'random-direction' && norms) {
      for (let p = 0; p < batch * length; p++) {
        if (!mask[p]) continue;
        const n = norms[Math.floor(p / length)]!;
        for (let i = 0; i < d; i++) steer[p * d + i] = unit[i]! * n;
      }
    }
    f[`steer.${tap}`] = { type: 'float32', dims: [batch, length, d], data: steer };
    return f;
  };
}

/** Per row, the mean L2 norm of the activation change x1 − x0 over the edited positions (0 when none). */
export function meanShift(x0: Float32Array, x1: Float32Array, mask: Float32Array, rows: number, length: number, d: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let total = 0;
    let count = 0;
    for (let i = 0; i < length; i++) {
      const p = r * length + i;
      if (!mask[p]) continue;
      let s = 0;
      for (let j = 0; j < d; j++) s += (x1[p * d + j]! - x0[p * d + j]!) ** 2;
      total += Math.sqrt(s);
      count++;
    }
    return count ? total / count : 0;
  });
}
