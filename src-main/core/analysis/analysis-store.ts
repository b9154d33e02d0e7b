/**
 * Feature analyses in the workspace: one row per analysis (SAE x harvest), one row per feature with
 * its statistics, and its top-activating rows. Results are written in one transaction when the pass
 * finishes, so a list never shows half an analysis. Lists are windows (offset/limit) sorted and
 * filtered in SQL, so 64k features never cross to the renderer at once.
 */
import type { z } from 'zod';
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';
import type {
  AnalysisRecord,
  FeatureRow,
  LabelStatus,
  analysisRequestSchema,
  analysisSummarySchema,
  featureSortSchema,
} from '../../contract/contract.js';

export type TaskMeans = Record<'all' | 'image' | 'text' | 'answer', Record<string, number>>;
export type AnalysisParams = z.infer<typeof analysisRequestSchema>;
export type AnalysisSummary = z.infer<typeof analysisSummarySchema>;

export interface FeatureResult {
  feature: number;
  density: number;
  maxAct: number;
  meanAct: number;
  imageShare: number | null;
  crossModal: number | null;
  quantiles: { q50: number; q90: number; q99: number };
  histogram: number[];
  logits: { promoted: Array<{ token: string; activation: number }>; suppressed: Array<{ token: string; activation: number }> } | null;
  examples: Record<'top' | 'image' | 'text', Array<{ row: number; activation: number }>>;
  /** Mean activation by task over the items' tokens — all, image and text tokens (benchmark datasets) — or null. */
  taskMeans: TaskMeans | null;
}

interface AnalysisRow {
  id: number;
  sae_id: number;
  harvest_id: number;
  job_id: number | null;
  params_json: string;
  summary_json: string | null;
  created_at: string;
}

const toRecord = (r: AnalysisRow): AnalysisRecord => ({
  id: r.id,
  saeId: r.sae_id,
  harvestId: r.harvest_id,
  jobId: r.job_id,
  params: JSON.parse(r.params_json) as AnalysisParams,
  summary: r.summary_json ? (JSON.parse(r.summary_json) as AnalysisSummary) : null,
  createdAt: r.created_at,
});

const SORT_SQL: Record<z.infer<typeof featureSortSchema>, string> = {
  feature: 'f.feature',
  density: 'f.density',
  maxAct: 'f.max_act',
  imageShare: 'f.image_share',
  crossModal: 'f.cross_modal',
  label: "coalesce(l.label, '')",
  status: "coalesce(l.status, 'unlabelled')",
};

/** Example rows per INSERT statement (6 parameters each, well under SQLite's 32,766). */
const EXAMPLES_PER_INSERT = 200;

/** A feature's row of the features table with its label (status 'unlabelled' where there is none). */
interface FeatureTableRow {
  feature: number;
  density: number;
  max_act: number;
  mean_act: number;
  image_share: number | null;
  cross_modal: number | null;
  label: string | null;
  status: LabelStatus;
}

const featureRowOf = (r: FeatureTableRow): FeatureRow => ({
  feature: r.feature,
  density: r.density,
  maxAct: r.max_act,
  meanAct: r.mean_act,
  imageShare: r.image_share,
  crossModal: r.cross_modal,
  label: r.label,
  status: r.status,
});

export class AnalysisStore {
  constructor(private readonly db: Db) {}

  create(params: AnalysisParams): AnalysisRecord {
    const info = this.db
      .prepare('INSERT INTO analyses (sae_id, harvest_id, params_json, created_at) VALUES (?, ?, ?, ?)')
      .run(params.saeId, params.harvestId, JSON.stringify(params), new Date().toISOString());
    return this.get(Number(info.lastInsertRowid));
  }

  attachJob(id: number, jobId: number): void {
    this.db.prepare('UPDATE analyses SET job_id = ? WHERE id = ?').run(jobId, id);
  }

  list(): AnalysisRecord[] {
    return (this.db.prepare('SELECT * FROM analyses ORDER BY id DESC').all() as AnalysisRow[]).map(toRecord);
  }

  get(id: number): AnalysisRecord {
    const row = this.db.prepare('SELECT * FROM analyses WHERE id = ?').get(id) as AnalysisRow | undefined;
    if (!row) throw new OcularError('not_found', `No analysis with id ${id}.`);
    return toRecord(row);
  }

  /** Replace an analysis's results (a re-run after a resume writes them again) in one transaction. */
  saveResults(id: number, summary: AnalysisSummary, features: FeatureResult[]): void {
    const insertFeature = this.db.prepare(
      'INSERT INTO features (analysis_id, feature, density, max_act, mean_act, image_share, cross_modal, quantiles_json, hist_json, logits_json, task_means_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // Examples go in many rows per statement: one call per row into SQLite dominated the save.
    const examplesIn = new Map<number, ReturnType<Db['prepare']>>();
    const insertExamples = (values: unknown[]) => {
      const n = values.length / 6;
      if (!examplesIn.has(n))
        examplesIn.set(
          n,
          this.db.prepare(
            `INSERT INTO feature_examples (analysis_id, feature, kind, rank, row, activation) VALUES ${Array(n).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`,
          ),
        );
      examplesIn.get(n)!.run(values);
    };
    const pending: unknown[] = [];
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM features WHERE analysis_id = ?').run(id);
      this.db.prepare('DELETE FROM feature_examples WHERE analysis_id = ?').run(id);
      for (const f of features) {
        insertFeature.run(
          id,
          f.feature,
          f.density,
          f.maxAct,
          f.meanAct,
          f.imageShare,
          f.crossModal,
          JSON.stringify(f.quantiles),
          JSON.stringify(f.histogram),
          f.logits ? JSON.stringify(f.logits) : null,
          f.taskMeans ? JSON.stringify(f.taskMeans) : null,
        );
        for (const kind of ['top', 'image', 'text'] as const)
          f.examples[kind].forEach((e, rank) => pending.push(id, f.feature, kind, rank, e.row, e.activation));
        while (pending.length >= EXAMPLES_PER_INSERT * 6) insertExamples(pending.splice(0, EXAMPLES_PER_INSERT * 6));
      }
      while (pending.length > 0) insertExamples(pending.splice(0, EXAMPLES_PER_INSERT * 6));
      this.setSummary(id, summary);
    })();
  }

  /** Replace the analysis's summary (saveResults writes it; the job rewrites it with the total time). */
  setSummary(id: number, summary: AnalysisSummary): void {
    this.db.prepare('UPDATE analyses SET summary_json = ? WHERE id = ?').run(JSON.stringify(summary), id);
  }

  features(
    analysisId: number,
    q: {
      offset: number;
      limit: number;
      sort: z.infer<typeof featureSortSchema>;
      order: 'asc' | 'desc';
      search: string;
      status: LabelStatus | null;
    },
  ): { total: number; features: FeatureRow[] } {
    const a = this.get(analysisId);
    const where: string[] = ['f.analysis_id = ?'];
    const args: unknown[] = [analysisId];
    const search = q.search.trim();
    if (search) {
      if (/^#?\d+$/.test(search)) {
        where.push('f.feature = ?');
        args.push(Number(search.replace('#', '')));
      } else {
        where.push("(l.label LIKE ? ESCAPE '\\' OR l.tags_json LIKE ? ESCAPE '\\')");
        const like = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        args.push(like, like);
      }
    }
    if (q.status) {
      where.push("coalesce(l.status, 'unlabelled') = ?");
      args.push(q.status);
    }
    const from = `FROM features f LEFT JOIN feature_labels l ON l.sae_id = ${Number(a.saeId)} AND l.feature = f.feature WHERE ${where.join(' AND ')}`;
    const total = (this.db.prepare(`SELECT count(*) AS n ${from}`).get(...args) as { n: number }).n;
    const rows = this.db
      .prepare(
        `SELECT f.feature, f.density, f.max_act, f.mean_act, f.image_share, f.cross_modal, l.label, coalesce(l.status, 'unlabelled') AS status ${from} ORDER BY ${SORT_SQL[q.sort]} ${q.order === 'desc' ? 'DESC' : 'ASC'} NULLS LAST, f.feature ASC LIMIT ? OFFSET ?`,
      )
      .all(...args, q.limit, q.offset) as FeatureTableRow[];
    return {
      total,
      features: rows.map(featureRowOf),
    };
  }

  /** Every feature's mean activation by task, for task-selectivity rules. */
  taskMeans(analysisId: number): Map<number, TaskMeans> {
    const rows = this.db
      .prepare('SELECT feature, task_means_json FROM features WHERE analysis_id = ? AND task_means_json IS NOT NULL')
      .all(analysisId) as Array<{ feature: number; task_means_json: string }>;
    return new Map(rows.map((r) => [r.feature, JSON.parse(r.task_means_json) as TaskMeans]));
  }

  /** Each feature's cross-modal weight (SAE-V), null where the analysis has none; indexed by feature. */
  crossModalWeights(analysisId: number, dSae: number): Array<number | null> {
    const weights = new Array<number | null>(dSae).fill(null);
    const rows = this.db.prepare('SELECT feature, cross_modal AS w FROM features WHERE analysis_id = ?').all(analysisId) as Array<{
      feature: number;
      w: number | null;
    }>;
    for (const r of rows) if (r.feature < dSae) weights[r.feature] = r.w;
    return weights;
  }

  /** Mean activation over all tokens (zeros included): the value mean-ablation clamps to. */
  overallMeans(analysisId: number): Map<number, number> {
    const rows = this.db.prepare('SELECT feature, density * mean_act AS m FROM features WHERE analysis_id = ?').all(analysisId) as Array<{
      feature: number;
      m: number;
    }>;
    return new Map(rows.map((r) => [r.feature, r.m]));
  }

  feature(
    analysisId: number,
    feature: number,
  ): {
    row: FeatureRow;
    quantiles: { q50: number; q90: number; q99: number };
    histogram: number[];
    logits: FeatureResult['logits'];
    examples: FeatureResult['examples'];
  } {
    const a = this.get(analysisId);
    const r = this.db
      .prepare(
        "SELECT f.*, l.label, coalesce(l.status, 'unlabelled') AS status FROM features f LEFT JOIN feature_labels l ON l.sae_id = ? AND l.feature = f.feature WHERE f.analysis_id = ? AND f.feature = ?",
      )
      .get(a.saeId, analysisId, feature) as
      (FeatureTableRow & { quantiles_json: string; hist_json: string; logits_json: string | null }) | undefined;
    if (!r) throw new OcularError('not_found', `Analysis ${analysisId} has no feature ${feature}.`);
    const examples: FeatureResult['examples'] = { top: [], image: [], text: [] };
    for (const e of this.db
      .prepare('SELECT kind, row, activation FROM feature_examples WHERE analysis_id = ? AND feature = ? ORDER BY kind, rank')
      .all(analysisId, feature) as Array<{ kind: 'top' | 'image' | 'text'; row: number; activation: number }>) {
      examples[e.kind].push({ row: e.row, activation: e.activation });
    }
    return {
      row: featureRowOf(r),
      quantiles: JSON.parse(r.quantiles_json),
      histogram: JSON.parse(r.hist_json),
      logits: r.logits_json ? JSON.parse(r.logits_json) : null,
      examples,
    };
  }
}
