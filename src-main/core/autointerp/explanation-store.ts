/**
 * Explanation suggestions: what an explainer said about a feature, with its provenance and scores,
 * kept beside (never in place of) the annotators' labels. Accepting one, as it is or edited, writes
 * the feature's label through LabelStore with history source `explanation:<id>`, so a label's history
 * says which suggestion it came from; rejecting one only records the decision. A suggestion is decided
 * once; the decision and the label change happen in one transaction.
 */
import { OcularError } from '../errors.js';
import { LabelStore } from '../analysis/label-store.js';
import type { Db } from '../store/sqlite.js';
import type { Explanation, FeatureLabel } from '../../contract/contract.js';

interface Row {
  id: number;
  sae_id: number;
  analysis_id: number | null;
  job_id: number | null;
  feature: number;
  explanation: string;
  explainer: Explanation['explainer'];
  provenance_json: string;
  confidence: number | null;
  scores_json: string | null;
  status: Explanation['status'];
  decided_by: string | null;
  decided_at: string | null;
  created_at: string;
}

const toExplanation = (r: Row): Explanation => ({
  id: r.id,
  saeId: r.sae_id,
  analysisId: r.analysis_id,
  jobId: r.job_id,
  feature: r.feature,
  explanation: r.explanation,
  explainer: r.explainer,
  provenance: JSON.parse(r.provenance_json) as Record<string, unknown>,
  confidence: r.confidence,
  scores: r.scores_json ? (JSON.parse(r.scores_json) as Explanation['scores']) : null,
  status: r.status,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  createdAt: r.created_at,
});

export type NewExplanation = Pick<
  Explanation,
  'saeId' | 'analysisId' | 'jobId' | 'feature' | 'explanation' | 'explainer' | 'provenance' | 'confidence' | 'scores'
>;

export class ExplanationStore {
  constructor(private readonly db: Db) {}

  add(e: NewExplanation): Explanation {
    const info = this.db
      .prepare(
        `INSERT INTO feature_explanations (sae_id, analysis_id, job_id, feature, explanation, explainer, provenance_json, confidence, scores_json, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'suggested', ?)`,
      )
      .run(
        e.saeId,
        e.analysisId,
        e.jobId,
        e.feature,
        e.explanation,
        e.explainer,
        JSON.stringify(e.provenance),
        e.confidence,
        e.scores ? JSON.stringify(e.scores) : null,
        new Date().toISOString(),
      );
    return this.get(Number(info.lastInsertRowid));
  }

  get(id: number): Explanation {
    const r = this.db.prepare('SELECT * FROM feature_explanations WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new OcularError('not_found', `There is no explanation ${id}.`);
    return toExplanation(r);
  }

  list(saeId: number, filter: { feature?: number | null; status?: Explanation['status'] | null; jobId?: number } = {}): Explanation[] {
    const where = ['sae_id = ?'];
    const args: unknown[] = [saeId];
    const add = (sql: string, value: unknown) => {
      where.push(sql);
      args.push(value);
    };
    if (filter.feature !== undefined && filter.feature !== null) add('feature = ?', filter.feature);
    if (filter.status) add('status = ?', filter.status);
    if (filter.jobId !== undefined) add('job_id = ?', filter.jobId);
    return (this.db.prepare(`SELECT * FROM feature_explanations WHERE ${where.join(' AND ')} ORDER BY id DESC`).all(...args) as Row[]).map(
      toExplanation,
    );
  }

  decide(
    id: number,
    action: 'accept' | 'edit' | 'reject',
    annotator: string,
    text?: string,
  ): { explanation: Explanation; label: FeatureLabel | null } {
    const current = this.get(id);
    if (current.status !== 'suggested')
      throw new OcularError('conflict', `Explanation ${id} was already ${current.status} by ${current.decidedBy ?? 'someone'}.`);
    if (action === 'edit' && !text?.trim()) throw new OcularError('invalid_request', 'An edited explanation needs its text.');
    const labels = new LabelStore(this.db);
    let label: FeatureLabel | null = null;
    const now = new Date().toISOString();
    this.db.transaction(() => {
      const status = action === 'accept' ? 'accepted' : action === 'edit' ? 'edited' : 'rejected';
      this.db
        .prepare('UPDATE feature_explanations SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?')
        .run(status, annotator, now, id);
      if (action !== 'reject') {
        const before = labels.get(current.saeId, current.feature);
        label = labels.set(
          current.saeId,
          {
            feature: current.feature,
            label: action === 'edit' ? text!.trim() : current.explanation,
            tags: before?.tags ?? [],
            confidence: current.confidence,
            status: 'labelled',
            annotator,
            updatedAt: now,
          },
          `explanation:${id}`,
        );
      }
    })();
    return { explanation: this.get(id), label };
  }
}
