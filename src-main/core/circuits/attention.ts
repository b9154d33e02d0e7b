/**
 * Attention maps from queries and keys: softmax(scale · q_t · k_u) over the keys a query may see
 * (causal, padding masked), per head, recomputed from the exposed queries and keys the model's
 * scores use (rotary embedding already applied), so they exist wherever those are exposed. Rollout
 * (Abnar & Zuidema 2020): per layer the head-averaged map with the residual, 0.5·A + 0.5·I,
 * rows renormalised, multiplied from the first layer up; row t is how much each position feeds t.
 */

/**
 * Attention of query position t over keys 0..t for every head: [heads, t + 1], row-major.
 * q: [H, T, hd]; k: [Hkv, T, hd] (head h reads key head h / (H / Hkv)); keep[u] = 0 masks key u.
 */
export function attentionRow(
  q: Float32Array,
  k: Float32Array,
  heads: number,
  kvHeads: number,
  length: number,
  headDim: number,
  scale: number,
  t: number,
  keep?: Uint8Array,
): Float32Array {
  const group = heads / kvHeads;
  const out = new Float32Array(heads * (t + 1));
  for (let h = 0; h < heads; h++) {
    const qo = (h * length + t) * headDim;
    const kh = Math.floor(h / group);
    let max = -Infinity;
    const row = out.subarray(h * (t + 1), (h + 1) * (t + 1));
    for (let u = 0; u <= t; u++) {
      if (keep && !keep[u]) {
        row[u] = -Infinity;
        continue;
      }
      const ko = (kh * length + u) * headDim;
      let s = 0;
      for (let i = 0; i < headDim; i++) s += q[qo + i]! * k[ko + i]!;
      row[u] = s * scale;
      max = Math.max(max, row[u]!);
    }
    let z = 0;
    for (let u = 0; u <= t; u++) {
      const e = row[u] === -Infinity ? 0 : Math.exp(row[u]! - max);
      row[u] = e;
      z += e;
    }
    for (let u = 0; u <= t; u++) row[u]! /= z;
  }
  return out;
}

/** Full causal maps [H, T, T] (zeros above the diagonal). */
export function attentionMaps(
  q: Float32Array,
  k: Float32Array,
  heads: number,
  kvHeads: number,
  length: number,
  headDim: number,
  scale: number,
  keep?: Uint8Array,
): Float32Array {
  const maps = new Float32Array(heads * length * length);
  for (let t = 0; t < length; t++) {
    const row = attentionRow(q, k, heads, kvHeads, length, headDim, scale, t, keep);
    for (let h = 0; h < heads; h++) maps.set(row.subarray(h * (t + 1), (h + 1) * (t + 1)), (h * length + t) * length);
  }
  return maps;
}

/** Rollout over layers of head-averaged maps ([H, T, T] each): [T, T], row t = attribution of t to every position. */
export function attentionRollout(layers: Float32Array[], heads: number, length: number): Float64Array {
  let roll = new Float64Array(length * length);
  for (let i = 0; i < length; i++) roll[i * length + i] = 1;
  for (const maps of layers) {
    const a = new Float64Array(length * length);
    for (let t = 0; t < length; t++) {
      let sum = 0;
      for (let u = 0; u <= t; u++) {
        let m = 0;
        for (let h = 0; h < heads; h++) m += maps[(h * length + t) * length + u]!;
        const v = 0.5 * (m / heads) + (u === t ? 0.5 : 0);
        a[t * length + u] = v;
        sum += v;
      }
      for (let u = 0; u <= t; u++) a[t * length + u]! /= sum;
    }
    // roll_new = a · roll (this layer mixes what the layers below already mixed).
    const next = new Float64Array(length * length);
    for (let t = 0; t < length; t++)
      for (let u = 0; u <= t; u++) {
        const w = a[t * length + u]!;
        if (w === 0) continue;
        for (let v = 0; v <= u; v++) next[t * length + v]! += w * roll[u * length + v]!;
      }
    roll = next;
  }
  return roll;
}
