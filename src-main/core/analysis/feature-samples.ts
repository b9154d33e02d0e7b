/**
 * A feature's examples beyond its stored top list, as Neuronpedia and SAEDashboard show them: top
 * examples a page at a time ("more"), per modality, and seeded random samples from intervals between
 * quantiles of its non-zero activations (p99–max, p90–p99, p75–p90, p50–p75, below the median), so
 * a reader sees what the feature does at every strength, not only at its peak.
 *
 * The feature's activation is recomputed on its tap's rows from its encoder column alone (as feature
 * pages do: exact, with TopK rows' stored k-th pre-activation). A harvest small enough for the budget
 * (multiply-adds and bytes read) is scanned whole; a larger one on an even sample of its rows, and the
 * result says how many rows were scanned. Top examples of a sampled scan come from the analysis's
 * stored list (exact over every row) as far as it goes.
 */
import fs from 'node:fs';
import type { ActivationInterval, FeatureExamplesResult } from '../../contract/contract.js';
import { HarvestStore, streamOf, type Stream } from '../harvest/harvest-store.js';
import { ShardReader } from '../harvest/shard-reader.js';
import type { Db } from '../store/sqlite.js';
import { mulberry32 } from '../util/random.js';
import { AnalysisStore } from './analysis-store.js';
import { featureActivations } from '../sae/sae-encode.js';
import type { FeatureDetails } from './feature-detail.js';
import { layoutOf } from '../store/layout.js';

/** Interval bounds as quantiles of the non-zero activations; intervals are listed strongest first. */
export const INTERVAL_QUANTILES = [0, 0.5, 0.75, 0.9, 0.99, 1] as const;
/** What one scan may cost: multiply-adds (rows x d_in) and bytes read from shards. */
const MAC_BUDGET = 1.5e8;
const BYTE_BUDGET = 1e8;
/** Feature scans kept (a reader flips between tabs and pages of one feature). */
const CACHED_SCANS = 8;

export type ExampleModality = 'any' | 'image' | 'text';
const IMAGE = 0;
const TEXT = 1;
const GENERATED = 2;
const CODE: Record<string, number> = { image: IMAGE, text: TEXT, generated: GENERATED };

/** The rows where a feature fires, strongest first. */
export interface FeatureScan {
  rows: Int32Array;
  acts: Float32Array;
  /** Modality code of each firing row (0 image, 1 text, 2 generated). */
  modality: Uint8Array;
  scannedRows: number;
  totalRows: number;
}

/** Firing rows (activation > 0) of a scan, sorted by activation, strongest first (ties by row). */
export function rankFiring(
  rowIds: ArrayLike<number>,
  acts: Float32Array,
  modality: ArrayLike<number>,
): Omit<FeatureScan, 'scannedRows' | 'totalRows'> {
  const firing: number[] = [];
  for (let i = 0; i < acts.length; i++) if (acts[i]! > 0) firing.push(i);
  firing.sort((a, b) => acts[b]! - acts[a]! || rowIds[a]! - rowIds[b]!);
  return {
    rows: Int32Array.from(firing, (i) => rowIds[i]!),
    acts: Float32Array.from(firing, (i) => acts[i]!),
    modality: Uint8Array.from(firing, (i) => modality[i]!),
  };
}

/** Indices (into a scan) of the firing rows of one modality; text includes generated tokens. */
export function ofModality(scan: Pick<FeatureScan, 'modality'>, modality: ExampleModality): number[] {
  const out: number[] = [];
  for (let i = 0; i < scan.modality.length; i++) {
    const m = scan.modality[i]!;
    if (modality === 'any' || (modality === 'image' ? m === IMAGE : m !== IMAGE)) out.push(i);
  }
  return out;
}

/**
 * The quantile intervals of activations sorted strongest first, each with its members' positions in
 * that order. Membership is by rank (interval j holds ascending ranks floor(q_j n) .. floor(q_j+1 n) - 1),
 * so every firing token is in exactly one interval even where activations tie.
 */
export function quantileIntervals(actsDesc: ArrayLike<number>): Array<ActivationInterval & { from: number; to: number }> {
  const n = actsDesc.length;
  const out: Array<ActivationInterval & { from: number; to: number }> = [];
  for (let j = INTERVAL_QUANTILES.length - 2; j >= 0; j--) {
    const q0 = INTERVAL_QUANTILES[j]!;
    const q1 = INTERVAL_QUANTILES[j + 1]!;
    const ascFrom = Math.floor(q0 * n);
    const ascTo = q1 === 1 ? n : Math.floor(q1 * n);
    // Ascending rank r is position n - 1 - r of the descending order.
    const from = n - ascTo;
    const to = n - ascFrom;
    const count = Math.max(0, to - from);
    out.push({
      quantiles: [q0, q1],
      lo: count ? actsDesc[to - 1]! : 0,
      hi: count ? actsDesc[from]! : 0,
      count,
      from,
      to,
    });
  }
  return out;
}

/** A seeded random order of `count` positions (Fisher–Yates), so "more" pages never repeat one. */
export function seededOrder(count: number, seed: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  const rand = mulberry32(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Rows to scan: all of them when the budget allows, else an even sample. */
export function scanRows(totalRows: number, dIn: number, bytesPerValue: number): { all: boolean; rows: number[] } {
  const budget = Math.max(1, Math.floor(Math.min(MAC_BUDGET / dIn, BYTE_BUDGET / (dIn * bytesPerValue))));
  if (totalRows <= budget) return { all: true, rows: [] };
  const stride = totalRows / budget;
  return { all: false, rows: Array.from({ length: budget }, (_, i) => Math.floor(i * stride)) };
}

export class FeatureSamples {
  private readonly scans = new Map<string, FeatureScan>();
  private readonly modalities = new Map<number, Uint8Array>();
  private readonly kths = new Map<number, Float32Array | null>();

  constructor(
    private readonly db: Db,
    private readonly workspaceDir: string,
    private readonly details: FeatureDetails,
  ) {}

  examples(q: {
    analysisId: number;
    feature: number;
    modality: ExampleModality;
    interval: number | null;
    offset: number;
    limit: number;
  }): FeatureExamplesResult {
    const scan = this.scan(q.analysisId, q.feature);
    const members = ofModality(scan, q.modality);
    const intervals = quantileIntervals(members.map((i) => scan.acts[i]!));
    let picks: number[];
    let total: number;
    if (q.interval === null) {
      total = members.length;
      picks = members.slice(q.offset, q.offset + q.limit);
    } else {
      const interval = intervals[q.interval];
      if (!interval) return this.result([], 0, intervals, scan, q);
      total = interval.count;
      const order = seededOrder(
        interval.count,
        q.feature * 7919 + q.interval * 31 + (q.modality === 'image' ? 1 : q.modality === 'text' ? 2 : 0),
      );
      picks = order
        .slice(q.offset, q.offset + q.limit)
        .map((k) => members[interval.from + k]!)
        .sort((a, b) => a - b);
    }
    let chosen = picks.map((i) => ({ row: scan.rows[i]!, activation: scan.acts[i]! }));
    const sampled = scan.scannedRows < scan.totalRows;
    if (sampled && q.interval === null) {
      // The analysis's stored top list is exact over every row: prefer it while it lasts.
      const stored = new AnalysisStore(this.db).feature(q.analysisId, q.feature).examples[q.modality === 'any' ? 'top' : q.modality];
      if (q.offset + q.limit <= stored.length) chosen = stored.slice(q.offset, q.offset + q.limit);
    }
    return this.result(chosen, total, intervals, scan, q);
  }

  private result(
    chosen: Array<{ row: number; activation: number }>,
    total: number,
    intervals: ReturnType<typeof quantileIntervals>,
    scan: FeatureScan,
    q: { analysisId: number; feature: number; offset: number },
  ): FeatureExamplesResult {
    return {
      examples: this.details.examples(q.analysisId, q.feature, chosen, q.offset),
      total,
      intervals: intervals.map(({ quantiles, lo, hi, count }) => ({ quantiles, lo, hi, count })),
      scannedRows: scan.scannedRows,
      totalRows: scan.totalRows,
    };
  }

  /** The feature's activation on its tap's rows (all, or an even sample), firing rows ranked. */
  scan(analysisId: number, feature: number): FeatureScan {
    const key = `${analysisId}:${feature}`;
    const cached = this.scans.get(key);
    if (cached) {
      this.scans.delete(key);
      this.scans.set(key, cached);
      return cached;
    }
    const a = new AnalysisStore(this.db).get(analysisId);
    const sae = this.details.sae(a.saeId);
    const h = new HarvestStore(this.db, this.workspaceDir).meta(a.harvestId);
    const reader = new ShardReader(this.db, this.workspaceDir, h, sae.hookName!);
    const modality = this.rowModality(analysisId, a.harvestId, streamOf(sae.hookName!));
    const kth = sae.architecture === 'topk' ? this.kth(analysisId) : null;
    const plan = scanRows(reader.rows, sae.dIn, h.params.dtype === 'fp16' ? 2 : 4);
    const ids: number[] = [];
    const acts: number[] = [];
    const take = (firstRow: number, rowIds: number[] | null, data: Float32Array) => {
      const n = data.length / sae.dIn;
      const rowAt = (i: number) => (rowIds ? rowIds[i]! : firstRow + i);
      const kthRows = kth ? Float32Array.from({ length: n }, (_, i) => kth[rowAt(i)] ?? -Infinity) : null;
      const a = featureActivations(sae, feature, data, kthRows);
      for (let i = 0; i < n; i++)
        if (a[i]! > 0) {
          ids.push(rowAt(i));
          acts.push(a[i]!);
        }
    };
    if (plan.all) for (const chunk of reader.chunks()) take(chunk.firstRow, null, chunk.data);
    else
      for (let start = 0; start < plan.rows.length; start += 4096) {
        const block = plan.rows.slice(start, start + 4096);
        take(0, block, reader.readRows(block));
      }
    const ranked = rankFiring(
      ids,
      Float32Array.from(acts),
      Uint8Array.from(ids, (r) => modality[r] ?? TEXT),
    );
    const scan: FeatureScan = { ...ranked, scannedRows: plan.all ? reader.rows : plan.rows.length, totalRows: reader.rows };
    this.scans.set(key, scan);
    if (this.scans.size > CACHED_SCANS) this.scans.delete(this.scans.keys().next().value!);
    return scan;
  }

  private rowModality(analysisId: number, harvestId: number, stream: Stream): Uint8Array {
    let m = this.modalities.get(analysisId);
    if (!m) {
      const harvests = new HarvestStore(this.db, this.workspaceDir);
      m = new Uint8Array(harvests.rowCount(harvestId, stream));
      for (const r of harvests.modalities(harvestId, stream)) m[r.row] = CODE[r.modality] ?? TEXT;
      this.modalities.set(analysisId, m);
    }
    return m;
  }

  /** Every row's k-th largest pre-activation (TopK analyses), read once per analysis. */
  private kth(analysisId: number): Float32Array | null {
    if (!this.kths.has(analysisId)) {
      const file = layoutOf(this.workspaceDir).analysisKth(analysisId);
      const buf = fs.existsSync(file) ? fs.readFileSync(file) : null;
      this.kths.set(analysisId, buf ? new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)) : null);
    }
    return this.kths.get(analysisId)!;
  }
}
