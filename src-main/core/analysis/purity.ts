/**
 * Ground-truth purity of features on the synthetic benchmark: a feature is colour-pure (or
 * shape-pure) when at least `threshold` of its top examples sit on image patches covered by objects
 * of one colour (or one shape), read from the benchmark's scene annotations. This is how a test and
 * the demo check that an SAE found real structure, not noise.
 */
import type { FeatureDetail } from '../../contract/contract.js';

export interface PureFeature {
  feature: number;
  value: string;
  share: number;
}

export function purity(detail: FeatureDetail, key: 'color' | 'shape'): { value: string; share: number } | null {
  const n = detail.examples.length;
  if (n === 0) return null;
  const counts = new Map<string, number>();
  for (const e of detail.examples) if (e.object) counts.set(e.object[key], (counts.get(e.object[key]) ?? 0) + 1);
  const best = [...counts].sort((a, b) => b[1] - a[1])[0];
  return best ? { value: best[0], share: best[1] / n } : null;
}

export function pureFeatures(
  details: Iterable<FeatureDetail>,
  options: { minExamples: number; threshold: number },
): { examined: number; colour: PureFeature[]; shape: PureFeature[] } {
  const colour: PureFeature[] = [];
  const shape: PureFeature[] = [];
  let examined = 0;
  for (const d of details) {
    if (d.examples.length < options.minExamples) continue;
    examined++;
    const c = purity(d, 'color');
    if (c && c.share >= options.threshold) colour.push({ feature: d.row.feature, ...c });
    const s = purity(d, 'shape');
    if (s && s.share >= options.threshold) shape.push({ feature: d.row.feature, ...s });
  }
  return { examined, colour, shape };
}
