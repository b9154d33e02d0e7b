/**
 * Scores of a feature explanation, as the auto-interpretability literature defines them.
 *
 * Detection (EleutherAI Delphi, "detection" scorer; Paulo et al. 2024): a scorer reads the
 * explanation and held-out examples, activating ones (sampled across the feature's activation
 * quantiles) mixed with as many non-activating ones, and says for each whether the explanation
 * applies. With TP, FP, TN, FN counted against the truth (activation > 0):
 *   accuracy          = (TP + TN) / N          (with its Wilson 95% interval)
 *   balanced accuracy = (TP / P + TN / Nn) / 2  (recall on each class, averaged; 0.5 is chance)
 *   precision = TP / (TP + FP),  recall = TP / P,  F1 = 2 · precision · recall / (precision + recall)
 *
 * Simulation correlation (OpenAI, Bills et al. 2023, "correlation scoring"): a simulator reads the
 * explanation and predicts, on a 0–10 scale, how strongly the feature fires on each unit; the score
 * is Pearson's r between the predictions and the true activations over all units pooled
 *   r = Σ (x − x̄)(y − ȳ) / sqrt(Σ (x − x̄)² · Σ (y − ȳ)²)
 * (scale-free, so the 0–10 scale needs no calibration). Ocular's units are the held-out examples'
 * highlighted tokens and patches (an image patch has no token sequence around it). r is undefined when
 * either side is constant: it is then null with the reason, never 0.
 */
import { wilsonInterval } from '../stats/proportion.js';

export interface DetectionScore {
  n: number;
  positives: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  accuracy: number;
  accuracyCi95: [number, number];
  balancedAccuracy: number;
  precision: number | null;
  recall: number;
  f1: number | null;
}

export function detectionScore(truth: readonly boolean[], predicted: readonly boolean[]): DetectionScore {
  if (truth.length !== predicted.length) throw new RangeError(`detection: ${truth.length} truths but ${predicted.length} predictions`);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  truth.forEach((t, i) => {
    const p = predicted[i]!;
    if (t && p) tp++;
    else if (t) fn++;
    else if (p) fp++;
    else tn++;
  });
  const positives = tp + fn;
  const negatives = tn + fp;
  if (positives === 0 || negatives === 0)
    throw new RangeError('detection needs both activating and non-activating examples (balanced accuracy is undefined otherwise)');
  const n = truth.length;
  const acc = wilsonInterval(tp + tn, n);
  const precision = tp + fp > 0 ? tp / (tp + fp) : null;
  const recall = tp / positives;
  const f1 = precision === null || precision + recall === 0 ? null : (2 * precision * recall) / (precision + recall);
  return {
    n,
    positives,
    tp,
    fp,
    tn,
    fn,
    accuracy: acc.estimate,
    accuracyCi95: [acc.lower, acc.upper],
    balancedAccuracy: (recall + tn / negatives) / 2,
    precision,
    recall,
    f1,
  };
}

export type Correlation = { r: number; n: number } | { r: null; n: number; reason: string };

/** Pearson's r of two equally long series, or null (with why) when it is undefined. */
export function pearson(x: readonly number[], y: readonly number[]): Correlation {
  if (x.length !== y.length) throw new RangeError(`correlation of ${x.length} values with ${y.length}`);
  const n = x.length;
  if (n < 2) return { r: null, n, reason: 'fewer than two units' };
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0) return { r: null, n, reason: 'the true activations are all equal' };
  if (syy === 0) return { r: null, n, reason: 'the simulator predicted the same value for every unit' };
  return { r: Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy))), n };
}
