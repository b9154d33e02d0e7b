/**
 * The comparison job's work (filter-compare.ts has the maths): score the analysis's harvested items,
 * split them, train the three SAEs on the pool's shares (the sae-train loop on a subset of rows), then
 * measure each on the held-out items — FVU on the tap's rows, CE recovered with the SAE spliced into
 * the decoder, and a probe on its codes.
 */
import path from 'node:path';
import type { DatasetComparison, DatasetCompareRequest } from '../../contract/contract.js';
import { streamOf } from '../../contract/tap-names.js';
import { OcularError } from '../errors.js';
import { ShardReader } from '../harvest/shard-reader.js';
import { throwIfCancelled, type JobContext } from '../jobs/job-kind.js';
import { saeTrainParams, trainOnHarvest } from '../jobs/kinds/sae-train.js';
import { writeEditedGraph } from '../onnx/edited-graph.js';
import { fitLayer, labelRows, pickSide, type Labelled } from '../probes/probe-run.js';
import { encode } from '../sae/sae-encode.js';
import { crossEntropyByRow, scoredTokens } from '../sae/splice-eval.js';
import type { Stores } from '../store/stores.js';
import { VlmPipeline } from '../vlm/pipeline.js';
import {
  COMPARE_ARMS,
  ceRecoveredOf,
  fvuOf,
  fvuSums,
  overItems,
  planComparison,
  rowsOfItems,
  type CompareArm,
  type ItemCe,
} from './filter-compare.js';
import { itemActivity } from './filter-dataset.js';
import { itemScore } from './sae-v-filter.js';

export async function runComparison(ctx: JobContext<DatasetCompareRequest>, stores: Stores): Promise<DatasetComparison> {
  const p = ctx.params;
  const { activity, weights, harvestId, saeId } = itemActivity(stores.db, ctx.workspaceDir, p.analysisId, p.bound);
  const scores = new Map([...activity].map(([item, a]) => [item, itemScore(a, p.by, weights)]));
  const plan = planComparison(scores, p);
  const tap = stores.saes.get(saeId).hookName!;
  if (streamOf(tap) !== 'decoder')
    throw new OcularError('invalid_request', `The comparison splices SAEs into the decoder; analysis ${p.analysisId}'s SAE is on ${tap}.`);
  const index = stores.harvests.patchIndex(harvestId, streamOf(tap));
  const trained = new Map<CompareArm, { saeId: number; rows: number }>();
  for (const [i, arm] of COMPARE_ARMS.entries()) {
    throwIfCancelled(ctx.signal);
    const rows = rowsOfItems(index, plan.arms[arm]);
    const params = { harvestId, tap, seed: p.seed, steps: p.steps, batchSize: p.batchSize, lr: p.lr, expansion: p.expansion, k: p.k };
    const r = await trainOnHarvest(ctx, stores, trainParams(params, `compare a${p.analysisId} ${p.by} keep ${p.keep}: ${arm}`), {
      checkpointDir: path.join(stores.layout.saeTrain(ctx.jobId), arm),
      checkpoint: null,
      saveCheckpoint: () => undefined,
      recordMetrics: () => undefined,
      history: () => [],
      existing: () => null,
      progress: (f, m) => ctx.progress((i + f) / 6, `${arm} share (${plan.arms[arm].length} items): ${m}`),
      rows,
    });
    trained.set(arm, { saeId: r.saeId, rows: rows.length });
  }

  // The tap is read where it is needed, never whole: held-out rows in blocks (fvuSums), the labelled patches once.
  const reader = new ShardReader(stores.db, stores.layout.root, stores.harvests.get(harvestId), tap);
  const heldRows = rowsOfItems(index, plan.heldOut);
  const labels = stores.datasets.itemLabels(stores.harvests.meta(harvestId).datasetId);
  const labelled = labelRows(index, labels, p.probe, 'image');
  const heldSet = new Set(plan.heldOut);
  const probeTrain = pickSide(labelled, heldSet, false, p.seed);
  const probeTest = pickSide(labelled, heldSet, true, p.seed);
  if (probeTrain.length === 0 || probeTest.length === 0)
    throw new OcularError('invalid_request', `No image patches of the harvest carry a ${p.probe} label on both sides of the split.`);
  const probeX = reader.readRows([...probeTrain, ...probeTest].map((s) => s.r.row));
  const ce = await splicedCe(ctx, stores, harvestId, plan.heldOut.slice(0, p.ceItems), trained);

  const arms = [];
  for (const [i, arm] of COMPARE_ARMS.entries()) {
    const { saeId: id, rows } = trained.get(arm)!;
    const sae = stores.saes.load(id);
    const fvu = overItems(await fvuSums(sae, reader, index, heldRows), fvuOf, p.resamples, p.seed);
    const perItem = ce.get(arm)!;
    const ceRecovered = overItems(perItem.items, ceRecoveredOf, p.resamples, p.seed);
    const probe = probeOnCodes(sae, probeX, probeTrain, probeTest, p.seed);
    ctx.progress((4 + (i + 1) / 3) / 6, `${arm}: FVU ${fvu.value.toFixed(3)}, CE recovered ${ceRecovered.value.toFixed(3)}`);
    arms.push({ arm, items: plan.arms[arm].length, rows, saeId: id, fvu, ceRecovered, ce: perItem.mean, probe });
  }
  return {
    heldOutItems: plan.heldOut.length,
    poolItems: plan.pool.length,
    intervals: { fvu: 'bootstrap-items', ceRecovered: 'bootstrap-items', probe: 'wilson', resamples: p.resamples, seed: p.seed },
    arms,
  };
}

function trainParams(base: Record<string, unknown>, name: string) {
  // Every other setting at the sae-train schema's defaults, as `ocular train` would use them.
  return saeTrainParams.parse({ ...base, architecture: 'topk', name, logEvery: 50, checkpointEvery: 1_000_000 });
}

/** Per arm, each spliced item's summed answer-token cross-entropy in the three modes, and the means per token. */
async function splicedCe(
  ctx: JobContext<DatasetCompareRequest>,
  stores: Stores,
  harvestId: number,
  itemIds: number[],
  trained: Map<CompareArm, { saeId: number }>,
) {
  const h = stores.harvests.meta(harvestId);
  const dataset = stores.datasets.get(h.datasetId);
  const byId = stores.datasets.itemsById(itemIds);
  const items = itemIds.map((id) => byId.get(id)!);
  const vlm = await VlmPipeline.load(h.modelPath, ctx.pool, ctx.params.device);
  const out = new Map<
    CompareArm,
    { items: ItemCe[]; mean: { clean: number; spliced: number; zero: number; items: number; tokens: number } }
  >();
  for (const arm of COMPARE_ARMS) {
    const sae = stores.saes.load(trained.get(arm)!.saeId);
    const edited = writeEditedGraph(
      vlm.files.decoder,
      { saeEdits: [{ id: 's', tap: sae.hookName!, sae }] },
      { cacheDir: stores.layout.graphCache },
    );
    const [session] = await ctx.pool.loadTogether([edited.path, vlm.files.embed], ctx.params.device);
    const perItem: ItemCe[] = [];
    let tokens = 0;
    for (let start = 0; start < items.length; start += 8) {
      throwIfCancelled(ctx.signal);
      const batch = items.slice(start, start + 8);
      const prompt = await vlm.prepare(batch.map((it) => ({ image: path.join(dataset.path, it.image), prompt: it.question })));
      const answers = batch.map((it) => vlm.tokenize(String(it.answer.value)));
      const { prefix } = await vlm.appendTokens(prompt, answers);
      const targets = scoredTokens(prompt, answers, 'answer');
      tokens += targets.length;
      const rows = await crossEntropyByRow(ctx.pool, session!, vlm, prefix, sae.dSae, targets);
      batch.forEach((_, r) => perItem.push({ clean: rows.clean[r]!, spliced: rows.spliced[r]!, zero: rows.zero[r]! }));
    }
    const sum = (k: keyof ItemCe) => perItem.reduce((a, c) => a + c[k], 0) / tokens;
    out.set(arm, {
      items: perItem,
      mean: { clean: sum('clean'), spliced: sum('spliced'), zero: sum('zero'), items: perItem.length, tokens },
    });
  }
  return out;
}

/**
 * The probe on an SAE's codes of the labelled rows (pool rows to fit, held-out rows to score); `x`
 * holds those rows' activations, train then test (bounded by the labelled image patches, not the tap).
 */
function probeOnCodes(sae: Parameters<typeof encode>[0], x: Float32Array, train: Labelled[], test: Labelled[], seed: number) {
  const both = [...train, ...test];
  const codes = encode(sae, x);
  const renumber = (side: Labelled[], offset: number) => side.map((s, i) => ({ ...s, r: { ...s.r, row: offset + i } }));
  const classes = [...new Set(both.map((s) => s.label))].sort();
  const rowsOf = (rows: number[]) => {
    const out = new Float32Array(rows.length * sae.dSae);
    rows.forEach((r, i) => out.set(codes.subarray(r * sae.dSae, (r + 1) * sae.dSae), i * sae.dSae));
    return out;
  };
  const fit = fitLayer(rowsOf, sae.dSae, renumber(train, 0), renumber(test, train.length), classes, { epochs: 60, l2: 1e-3, seed });
  return { accuracy: fit.accuracy, ci95: fit.ci95, train: train.length, test: test.length };
}
