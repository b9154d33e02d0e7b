/**
 * What the Studies page and its HTML report read back from a workspace: a filtered dataset's scores
 * (its dataset.json) and a patch masking's comparison from the evaluations of its datasets.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ResponseOf } from '../../contract/contract.js';
import { jobResult } from '../../contract/job-results.js';
import { OcularError } from '../errors.js';
import type { JobStore } from '../jobs/job-store.js';
import { maskComparison } from '../masking/compare.js';
import type { PatchMethod } from '../masking/patch-scores.js';
import type { Stores } from '../store/stores.js';

export type FilterReport = ResponseOf<'datasets.filterReport'>;
export type MaskReport = ResponseOf<'masks.compare'>;

export function filterReport(stores: Stores, datasetId: number): FilterReport {
  const record = stores.datasets.get(datasetId);
  const file = path.join(record.path, 'dataset.json');
  const meta = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const f = meta.filter as FilterReport['filter'] | undefined;
  if (!f || typeof meta.scores !== 'object' || meta.scores === null)
    throw new OcularError('invalid_request', `Dataset ${record.id} was not made by a filter.`);
  const keptKeys = new Set(stores.datasets.items(record.id).map((it) => it.key));
  const items = Object.entries(meta.scores as Record<string, number>).map(([key, score]) => ({ key, score, kept: keptKeys.has(key) }));
  return {
    filter: { method: f.method, keep: f.keep, bound: f.bound, seed: f.seed, analysisId: f.analysisId },
    candidates: items.length,
    kept: keptKeys.size,
    items,
  };
}

/** The masking's datasets with the latest finished evaluation of each by the analysis's model; rows once all have one. */
export function maskReport(stores: Stores, jobs: JobStore, maskJobId: number): MaskReport {
  const job = jobs.get(maskJobId);
  if (!job) throw new OcularError('not_found', `No job ${maskJobId}.`);
  const { sourceDatasetId, masked } = jobResult(job, 'patch-mask');
  const analysis = stores.analyses.get((job.params as { analysisId: number }).analysisId);
  const modelPath = stores.harvests.get(analysis.harvestId).modelPath;
  const evals = stores.evals.list().filter((e) => e.modelPath === modelPath && e.jobId !== null);
  const finished = (datasetId: number) =>
    evals.filter((e) => e.datasetId === datasetId && jobs.get(e.jobId!)?.state === 'succeeded').sort((a, b) => b.id - a.id)[0]?.id ?? null;
  const datasets = [{ method: 'full', keep: 1, datasetId: sourceDatasetId }, ...masked].map((d) => ({
    ...d,
    evalId: finished(d.datasetId),
  }));
  if (datasets.some((d) => d.evalId === null)) return { modelPath, datasets, rows: [] };
  const outcomes = (evalId: number) => new Map(stores.evals.predictions(evalId, { limit: 1_000_000 }).map((p) => [p.item.key, p.correct]));
  const rows = maskComparison(
    datasets.map((d) => ({ method: d.method as PatchMethod | 'full', keep: d.keep, outcomes: outcomes(d.evalId!) })),
  );
  return { modelPath, datasets, rows };
}
