/**
 * Reviews of labels: a second annotator agrees or disagrees with the current label. A review goes
 * into the label's history (source `review:agree` / `review:disagree`, the reviewer as annotator,
 * the label as reviewed) and leaves the label and its author as they were, except that disagreeing
 * marks it `needs-review`. Reviewing one's own label is refused: agreement must come from someone else.
 */
import type { FeatureLabel } from '../../contract/contract.js';
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';
import { LabelStore } from './label-store.js';

export type Verdict = 'agree' | 'disagree';

export function reviewLabel(db: Db, saeId: number, feature: number, verdict: Verdict, reviewer: string): FeatureLabel {
  const labels = new LabelStore(db);
  const current = labels.get(saeId, feature);
  if (!current || current.status === 'unlabelled')
    throw new OcularError('invalid_request', `Feature ${feature} has no label to review yet.`);
  if (current.annotator === reviewer)
    throw new OcularError('invalid_request', `This label is by ${reviewer}: a review must come from another annotator.`);
  const status = verdict === 'disagree' ? 'needs-review' : current.status;
  const at = new Date().toISOString();
  db.transaction(() => {
    db.prepare(
      'INSERT INTO feature_label_history (sae_id, feature, label, tags_json, confidence, status, annotator, changed_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(saeId, feature, current.label, JSON.stringify(current.tags), current.confidence, status, reviewer, at, `review:${verdict}`);
    if (status !== current.status)
      db.prepare('UPDATE feature_labels SET status = ?, updated_at = ? WHERE sae_id = ? AND feature = ?').run(status, at, saeId, feature);
  })();
  return labels.get(saeId, feature)!;
}
