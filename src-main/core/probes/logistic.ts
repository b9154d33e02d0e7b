/**
 * Multinomial logistic regression for linear probes: standardised inputs, L2 penalty, full-batch
 * Adam. Small and dependency-free; probes have a few thousand rows and a few hundred dimensions.
 */
export interface ProbeModel {
  classes: number;
  dim: number;
  mean: Float64Array;
  std: Float64Array;
  w: Float64Array; // [dim + 1, classes], last row the bias
}

export function trainLogistic(
  x: Float32Array,
  y: Int32Array,
  classes: number,
  options: { epochs: number; l2: number; lr?: number },
): ProbeModel {
  const n = y.length;
  const dim = x.length / n;
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) mean[i]! += x[r * dim + i]! / n;
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) std[i]! += (x[r * dim + i]! - mean[i]!) ** 2 / n;
  for (let i = 0; i < dim; i++) std[i] = Math.sqrt(std[i]!) || 1;
  const w = new Float64Array((dim + 1) * classes);
  const m = new Float64Array(w.length);
  const v = new Float64Array(w.length);
  const lr = options.lr ?? 0.05;
  const z = new Float64Array(dim);
  const p = new Float64Array(classes);
  for (let t = 1; t <= options.epochs; t++) {
    const g = new Float64Array(w.length);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < dim; i++) z[i] = (x[r * dim + i]! - mean[i]!) / std[i]!;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        let s = w[dim * classes + c]!;
        for (let i = 0; i < dim; i++) s += z[i]! * w[i * classes + c]!;
        p[c] = s;
        max = Math.max(max, s);
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += p[c] = Math.exp(p[c]! - max);
      for (let c = 0; c < classes; c++) {
        const e = p[c]! / sum - (y[r] === c ? 1 : 0);
        for (let i = 0; i < dim; i++) g[i * classes + c]! += (e * z[i]!) / n;
        g[dim * classes + c]! += e / n;
      }
    }
    for (let j = 0; j < w.length; j++) {
      const gj = g[j]! + (j < dim * classes ? options.l2 * w[j]! : 0);
      m[j] = 0.9 * m[j]! + 0.1 * gj;
      v[j] = 0.999 * v[j]! + 0.001 * gj * gj;
      w[j]! -= (lr * (m[j]! / (1 - 0.9 ** t))) / (Math.sqrt(v[j]! / (1 - 0.999 ** t)) + 1e-8);
    }
  }
  return { classes, dim, mean, std, w };
}

export function predict(model: ProbeModel, x: Float32Array): Int32Array {
  const n = x.length / model.dim;
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < model.classes; c++) {
      let s = model.w[model.dim * model.classes + c]!;
      for (let i = 0; i < model.dim; i++) s += ((x[r * model.dim + i]! - model.mean[i]!) / model.std[i]!) * model.w[i * model.classes + c]!;
      if (s > bestScore) [best, bestScore] = [c, s];
    }
    out[r] = best;
  }
  return out;
}
