/**
 * What an experiment needs before its conditions run, read from the workspace: the edited tap and
 * which tower it is in (refusing options that do not apply to it), the feature sets resolved, the
 * conditions built, the items chosen; and for a vision-tower tap, the patch-level inputs its edit takes.
 */
import type { ExperimentSpec } from '../../contract/contract.js';
import { streamOf } from '../../contract/tap-names.js';
import { activePerRow, encodeGraphFile } from '../analysis/encode-graph.js';
import type { StoredItem } from '../datasets/dataset-store.js';
import { OcularError } from '../errors.js';
import { readModel } from '../onnx/model-io.js';
import { discoverTowerTaps } from '../onnx/taps.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { SaeFile } from '../sae/sae-file.js';
import type { Stores } from '../store/stores.js';
import { buildConditions, type Condition } from './conditions.js';
import { positionFeeds } from './edit-inputs.js';
import { resolveFeatureSet } from './feature-sets.js';
import { selectItems } from './item-selection.js';
import type { ConditionRun } from './run-condition.js';

/** The SAE's tap and whether it reads the vision tower; refuses `where` / `patches` values that do not apply to it. */
export function editedTap(spec: ExperimentSpec, sae: SaeFile): { tap: string; vision: boolean } {
  const tap = sae.hookName;
  if (!tap) throw new OcularError('invalid_request', `SAE ${spec.saeId} names no tap (hook_name), so there is nothing to edit.`);
  const vision = streamOf(tap) === 'vision';
  if (vision && spec.where !== 'image' && spec.where !== 'all')
    throw new OcularError(
      'invalid_request',
      `SAE ${spec.saeId} reads the vision tower (${tap}), whose tokens are image patches: apply at 'image' or 'all', not '${spec.where}'.`,
    );
  if (!vision && spec.patches !== 'all')
    throw new OcularError(
      'invalid_request',
      `patches '${spec.patches}' chooses vision-tower patches; SAE ${spec.saeId} reads the decoder (${tap}).`,
    );
  return { tap, vision };
}

/** The feature sets, the conditions built from them and the items they run on. */
export function planExperiment(stores: Stores, spec: ExperimentSpec, sae: SaeFile) {
  const analyses = stores.analyses;
  const analysis = analyses.get(spec.analysisId);
  if (analysis.saeId !== spec.saeId)
    throw new OcularError('invalid_request', `Analysis ${analysis.id} is of SAE ${analysis.saeId}, not ${spec.saeId}.`);
  const resolve = (s: (typeof spec.featureSets)[number]) =>
    resolveFeatureSet(s, { saeId: spec.saeId, dSae: sae.dSae, analysisId: spec.analysisId, analyses, labels: stores.labels });
  const sets = new Map(spec.featureSets.map((s) => [s.name, resolve(s)]));
  const overall = analyses.overallMeans(spec.analysisId);
  const alive = [...overall].filter(([, m]) => m > 0).map(([f]) => f);
  const conditions = buildConditions(spec, sets, alive);
  const dataset = stores.datasets.get(spec.datasetId);
  const items: StoredItem[] = selectItems(stores.datasets.items(dataset.id), spec.tasks, spec.limit);
  if (items.length === 0)
    throw new OcularError('invalid_request', `Dataset ${dataset.id} has no items of ${spec.tasks?.join(', ') ?? 'any task'}.`);
  return { sets, overall, conditions, dataset, items };
}

/** A vision-tower edit's inputs: the tap's rank in the vision graph, the firing-patch encoder when asked, per-patch feeds. */
export async function visionRunOf(
  o: { pool: PoolClient; workspaceDir: string; visionGraph: string; spec: ExperimentSpec; sae: SaeFile; tap: string },
  overall: Map<number, number>,
  conditions: Condition[],
): Promise<NonNullable<ConditionRun['vision']>> {
  const { spec, sae, tap } = o;
  const rank = discoverTowerTaps(readModel(o.visionGraph).graph, 'vision.')?.taps.find((t) => t.name === tap)?.shape?.length ?? null;
  const firing =
    spec.patches === 'firing'
      ? { encoder: await o.pool.load(encodeGraphFile(o.workspaceDir, sae), spec.device), k: activePerRow(sae) }
      : null;
  return {
    tap: { tap, d: sae.dIn, dSae: sae.dSae, rank, firing },
    at: positionFeeds(sae, tap, spec.operation, overall, spec.seed),
    byId: new Map(conditions.map((c) => [c.id, c])),
  };
}
