/**
 * Feature labels: one current label per (SAE, feature) and every earlier version in a history
 * table. Labels belong to the SAE, not to an analysis, so they survive re-analysis. Export/import
 * (JSON or CSV) merges several annotators' work: new labels and identical ones merge, different
 * ones come back as conflicts and change nothing unless the caller chose the imported side.
 */
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';
import { csvCell, csvText } from '../util/csv.js';
import { featureLabelSchema, type FeatureLabel, type LabelConflict } from '../../contract/contract.js';

interface LabelRow {
  feature: number;
  label: string;
  tags_json: string;
  confidence: number | null;
  status: FeatureLabel['status'];
  annotator: string;
  updated_at: string;
}

const toLabel = (r: LabelRow): FeatureLabel => ({
  feature: r.feature,
  label: r.label,
  tags: JSON.parse(r.tags_json) as string[],
  confidence: r.confidence,
  status: r.status,
  annotator: r.annotator,
  updatedAt: r.updated_at,
});

/** Same content (who and when aside). */
const sameContent = (a: FeatureLabel, b: FeatureLabel) =>
  a.label === b.label &&
  a.status === b.status &&
  a.confidence === b.confidence &&
  JSON.stringify([...a.tags].sort()) === JSON.stringify([...b.tags].sort());

const CSV_COLUMNS = ['feature', 'label', 'tags', 'confidence', 'status', 'annotator', 'updated_at'] as const;
const exportFile = z.object({
  format: z.literal('ocular-labels'),
  version: z.literal(1),
  saeId: z.number().int().optional(),
  labels: z.array(featureLabelSchema),
});

export class LabelStore {
  constructor(private readonly db: Db) {}

  get(saeId: number, feature: number): FeatureLabel | null {
    const r = this.db.prepare('SELECT * FROM feature_labels WHERE sae_id = ? AND feature = ?').get(saeId, feature) as LabelRow | undefined;
    return r ? toLabel(r) : null;
  }

  all(saeId: number): FeatureLabel[] {
    return (this.db.prepare('SELECT * FROM feature_labels WHERE sae_id = ? ORDER BY feature').all(saeId) as LabelRow[]).map(toLabel);
  }

  set(saeId: number, label: Omit<FeatureLabel, 'updatedAt'> & { updatedAt?: string }, source = 'edit'): FeatureLabel {
    const updatedAt = label.updatedAt ?? new Date().toISOString();
    const tags = JSON.stringify([...new Set(label.tags.map((t) => t.trim()).filter(Boolean))]);
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO feature_labels (sae_id, feature, label, tags_json, confidence, status, annotator, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (sae_id, feature) DO UPDATE SET label = excluded.label, tags_json = excluded.tags_json, confidence = excluded.confidence, status = excluded.status, annotator = excluded.annotator, updated_at = excluded.updated_at`,
        )
        .run(saeId, label.feature, label.label, tags, label.confidence, label.status, label.annotator, updatedAt);
      this.db
        .prepare(
          'INSERT INTO feature_label_history (sae_id, feature, label, tags_json, confidence, status, annotator, changed_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(saeId, label.feature, label.label, tags, label.confidence, label.status, label.annotator, updatedAt, source);
    })();
    return this.get(saeId, label.feature)!;
  }

  history(saeId: number, feature: number): Array<FeatureLabel & { source: string }> {
    const rows = this.db
      .prepare('SELECT *, changed_at AS updated_at FROM feature_label_history WHERE sae_id = ? AND feature = ? ORDER BY id DESC')
      .all(saeId, feature) as Array<LabelRow & { source: string }>;
    return rows.map((r) => ({ ...toLabel(r), source: r.source }));
  }

  export(saeId: number, format: 'json' | 'csv'): { filename: string; content: string } {
    const labels = this.all(saeId);
    if (format === 'json')
      return {
        filename: `sae-${saeId}-labels.json`,
        content: JSON.stringify({ format: 'ocular-labels', version: 1, saeId, labels }, null, 2) + '\n',
      };
    const lines = [CSV_COLUMNS.join(',')];
    for (const l of labels)
      lines.push(
        [
          String(l.feature),
          l.label,
          l.tags.join(';'),
          l.confidence === null ? '' : String(l.confidence),
          l.status,
          l.annotator,
          l.updatedAt,
        ]
          .map(csvCell)
          .join(','),
      );
    return { filename: `sae-${saeId}-labels.csv`, content: lines.join('\n') + '\n' };
  }

  /** Parse an export (either format), naming the first bad record. */
  static parse(format: 'json' | 'csv', content: string): FeatureLabel[] {
    if (format === 'json') {
      let raw: unknown;
      try {
        raw = JSON.parse(content);
      } catch (err) {
        throw new OcularError('invalid_request', `The labels file is not valid JSON: ${(err as Error).message}`);
      }
      const parsed = exportFile.safeParse(raw);
      if (!parsed.success)
        throw new OcularError(
          'invalid_request',
          `Not an Ocular labels file: ${parsed.error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join('.')}: ${i.message}`)
            .join('; ')}`,
        );
      return parsed.data.labels;
    }
    let records: Array<Record<string, string>>;
    try {
      records = parse(content, { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
    } catch (err) {
      throw new OcularError('invalid_request', `The labels CSV cannot be read: ${(err as Error).message}`);
    }
    return records.map((r, i) => {
      const candidate = {
        feature: Number(r.feature),
        label: csvText(r.label ?? ''),
        tags: csvText(r.tags ?? '')
          .split(';')
          .map((t) => t.trim())
          .filter(Boolean),
        confidence: r.confidence ? Number(r.confidence) : null,
        status: r.status,
        annotator: r.annotator === undefined ? undefined : csvText(r.annotator),
        updatedAt: r.updated_at,
      };
      const parsed = featureLabelSchema.safeParse(candidate);
      if (!parsed.success)
        throw new OcularError(
          'invalid_request',
          `Labels CSV row ${i + 2}: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
        );
      return parsed.data;
    });
  }

  import(
    saeId: number,
    labels: FeatureLabel[],
    takeTheirs: number[] = [],
  ): { applied: number; unchanged: number; conflicts: LabelConflict[] } {
    const take = new Set(takeTheirs);
    let applied = 0;
    let unchanged = 0;
    const conflicts: LabelConflict[] = [];
    this.db.transaction(() => {
      for (const theirs of labels) {
        const ours = this.get(saeId, theirs.feature);
        if (ours && sameContent(ours, theirs)) {
          unchanged++;
        } else if (!ours || take.has(theirs.feature)) {
          this.set(saeId, theirs, 'import');
          applied++;
        } else {
          conflicts.push({ feature: theirs.feature, ours, theirs });
        }
      }
    })();
    return { applied, unchanged, conflicts };
  }
}
