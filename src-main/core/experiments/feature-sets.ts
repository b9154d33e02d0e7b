/**
 * Resolving an experiment's feature sets to feature indices: by hand, by label/tag search, or by a
 * task-selectivity rule over the analysis's per-task mean activations (mean on the task's items'
 * tokens of a kind minus the largest mean on any other task, at least `margin`, top N by that difference).
 */
import { OcularError } from '../errors.js';
import type { AnalysisStore } from '../analysis/analysis-store.js';
import type { LabelStore } from '../analysis/label-store.js';
import type { FeatureSetSpec } from '../../contract/contract.js';

export function selectivity(means: Record<string, number>, task: string): number | null {
  if (!(task in means)) return null;
  const others = Object.entries(means)
    .filter(([t]) => t !== task)
    .map(([, v]) => v);
  return means[task]! - (others.length ? Math.max(...others) : 0);
}

export function resolveFeatureSet(
  spec: FeatureSetSpec,
  ctx: { saeId: number; dSae: number; analysisId: number; analyses: AnalysisStore; labels: LabelStore },
): number[] {
  if (spec.features) {
    const bad = spec.features.find((f) => f >= ctx.dSae);
    if (bad !== undefined)
      throw new OcularError('invalid_request', `Feature set '${spec.name}' lists feature ${bad}; the SAE has ${ctx.dSae}.`);
    return [...new Set(spec.features)];
  }
  if (spec.search) {
    const q = spec.search.toLowerCase();
    const found = ctx.labels
      .all(ctx.saeId)
      .filter((l) => l.label.toLowerCase().includes(q) || l.tags.some((t) => t.toLowerCase().includes(q)))
      .map((l) => l.feature);
    if (found.length === 0)
      throw new OcularError('invalid_request', `Feature set '${spec.name}': no feature's label or tags match '${spec.search}'.`);
    return found;
  }
  const rule = spec.selective!;
  const means = ctx.analyses.taskMeans(ctx.analysisId);
  if (means.size === 0)
    throw new OcularError(
      'invalid_request',
      `Analysis ${ctx.analysisId} has no per-task means (its dataset has no task types, or it predates them: re-run the analysis).`,
    );
  const scored = [...means]
    .filter(([, m]) => m[rule.tokens] !== undefined)
    .map(([f, m]) => ({ f, s: selectivity(m[rule.tokens], rule.task) }))
    .filter((x): x is { f: number; s: number } => x.s !== null && x.s >= rule.margin && x.s > 0);
  if (scored.length === 0)
    throw new OcularError(
      'invalid_request',
      `Feature set '${spec.name}': no feature is selective for '${rule.task}' by a margin of ${rule.margin}.`,
    );
  return scored
    .sort((a, b) => b.s - a.s || a.f - b.f)
    .slice(0, rule.top)
    .map((x) => x.f);
}
