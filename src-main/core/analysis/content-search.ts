/**
 * Search features by what they respond to rather than by their labels:
 *   token:red        the token at the example position of a feature's top examples is "red"
 *   color:red        (benchmark data) its top examples sit on patches of red objects; also shape:, size:
 *   promotes:red     its logit effects promote "red" (suppresses: the other way)
 * Token and attribute queries score a feature by the share of its top examples that match; logit
 * queries by the logit. Matching is on the trimmed, lower-cased token text.
 */
import { type ContentMatch, contentQueryKinds } from '../../contract/contract.js';
import { objectAtPatch, type Scene } from '../benchmark/scene.js';
import { DatasetStore } from '../datasets/dataset-store.js';
import { OcularError } from '../errors.js';
import { HarvestStore } from '../harvest/harvest-store.js';
import type { Db } from '../store/sqlite.js';
import { AnalysisStore } from './analysis-store.js';
import type { FeatureDetails } from './feature-detail.js';
import { streamOf, type Stream } from '../../contract/tap-names.js';

export type ContentKind = (typeof contentQueryKinds)[number];
export interface ContentQuery {
  kind: ContentKind;
  value: string;
}

const ALIASES: Record<string, ContentKind> = { colour: 'color' };

/** `kind:value`, or null when the text is not a content query (then it searches labels). */
export function parseContentQuery(text: string): ContentQuery | null {
  const m = /^\s*([a-z]+)\s*:\s*(.+?)\s*$/i.exec(text);
  if (!m) return null;
  const kind = ALIASES[m[1]!.toLowerCase()] ?? m[1]!.toLowerCase();
  if (!(contentQueryKinds as readonly string[]).includes(kind)) return null;
  return { kind: kind as ContentKind, value: m[2]!.toLowerCase() };
}

const norm = (token: string) => token.trim().toLowerCase();

/** Per feature: how many of its top examples match, out of how many. */
export function shareMatching<T>(
  byFeature: Map<number, T[]>,
  matches: (x: T) => boolean,
): Array<{ feature: number; hits: number; of: number }> {
  const out: Array<{ feature: number; hits: number; of: number }> = [];
  for (const [feature, xs] of byFeature) {
    const hits = xs.filter(matches).length;
    if (hits > 0) out.push({ feature, hits, of: xs.length });
  }
  return out.sort((a, b) => b.hits / b.of - a.hits / a.of || b.hits - a.hits || a.feature - b.feature);
}

type Logits = { promoted: Array<{ token: string; activation: number }>; suppressed: Array<{ token: string; activation: number }> };

/** Features whose promoted (or suppressed) tokens include the value, strongest effect first. */
export function logitMatches(byFeature: Map<number, Logits>, side: 'promoted' | 'suppressed', value: string) {
  const out: Array<{ feature: number; logit: number; rank: number }> = [];
  for (const [feature, l] of byFeature) {
    const rank = l[side].findIndex((t) => norm(t.token) === value);
    if (rank >= 0) out.push({ feature, logit: l[side][rank]!.activation, rank });
  }
  return out.sort((a, b) => (side === 'promoted' ? b.logit - a.logit : a.logit - b.logit) || a.feature - b.feature);
}

interface ExampleRow {
  feature: number;
  token_id: number | null;
  modality: string;
  item_id: number;
  patch_row: number | null;
  patch_col: number | null;
}

export class ContentSearch {
  constructor(
    private readonly db: Db,
    private readonly workspaceDir: string,
    private readonly details: Pick<FeatureDetails, 'vocab'>,
  ) {}

  search(analysisId: number, text: string, limit: number): { kind: ContentKind; value: string; features: ContentMatch[] } {
    const q = parseContentQuery(text);
    if (!q)
      throw new OcularError(
        'invalid_request',
        `Search by content as kind:value, with kind one of ${contentQueryKinds.join(', ')} (for example token:red or color:red).`,
      );
    const analyses = new AnalysisStore(this.db);
    const found =
      q.kind === 'promotes' || q.kind === 'suppresses'
        ? logitMatches(this.logits(analysisId), q.kind === 'promotes' ? 'promoted' : 'suppressed', q.value).map((m) => ({
            feature: m.feature,
            score: m.logit,
            matches: `${q.kind} "${q.value}" (logit ${m.logit.toFixed(2)}, #${m.rank + 1} of its list)`,
          }))
        : this.exampleMatches(analysisId, q);
    return {
      ...q,
      features: found.slice(0, limit).map((m) => ({ ...analyses.feature(analysisId, m.feature).row, score: m.score, matches: m.matches })),
    };
  }

  private logits(analysisId: number): Map<number, Logits> {
    const rows = this.db
      .prepare('SELECT feature, logits_json FROM features WHERE analysis_id = ? AND logits_json IS NOT NULL')
      .all(analysisId) as Array<{
      feature: number;
      logits_json: string;
    }>;
    if (rows.length === 0)
      throw new OcularError('invalid_request', `Analysis ${analysisId} has no logit effects (a vision-tower tap, or none were asked for).`);
    return new Map(rows.map((r) => [r.feature, JSON.parse(r.logits_json) as Logits]));
  }

  private exampleMatches(analysisId: number, q: ContentQuery): Array<{ feature: number; score: number; matches: string }> {
    const a = new AnalysisStore(this.db).get(analysisId);
    const h = new HarvestStore(this.db, this.workspaceDir).meta(a.harvestId);
    const rows = this.db
      .prepare(
        `SELECT fe.feature, hr.token_id, hr.modality, hr.item_id, hr.patch_row, hr.patch_col
         FROM feature_examples fe JOIN harvest_rows hr ON hr.harvest_id = ? AND hr.stream = ? AND hr.row = fe.row
         WHERE fe.analysis_id = ? AND fe.kind = 'top' ORDER BY fe.feature, fe.rank`,
      )
      .all(h.id, this.stream(analysisId), analysisId) as ExampleRow[];
    const byFeature = new Map<number, ExampleRow[]>();
    for (const r of rows) byFeature.set(r.feature, [...(byFeature.get(r.feature) ?? []), r]);
    const describe = (m: { feature: number; hits: number; of: number }, what: string) => ({
      feature: m.feature,
      score: m.hits / m.of,
      matches: `${m.hits} of ${m.of} top examples ${what}`,
    });
    if (q.kind === 'token') {
      const vocab = this.details.vocab(analysisId);
      return shareMatching(
        byFeature,
        (r) => r.token_id !== null && r.modality !== 'image' && norm(vocab[r.token_id] ?? '') === q.value,
      ).map((m) => describe(m, `are the token "${q.value}"`));
    }
    const key = q.kind as 'color' | 'shape' | 'size';
    const objects = this.objectsUnder(a.harvestId, analysisId, rows);
    return shareMatching(byFeature, (r) => objects.get(r)?.[key] === q.value).map((m) => describe(m, `lie on ${q.value} objects`));
  }

  private stream(analysisId: number): Stream {
    const a = new AnalysisStore(this.db).get(analysisId);
    const hook = (this.db.prepare('SELECT hook_name FROM saes WHERE id = ?').get(a.saeId) as { hook_name: string | null } | undefined)
      ?.hook_name;
    return streamOf(hook ?? '');
  }

  /** The benchmark object under each image example's patch (the patch grid is the item's own). */
  private objectsUnder(
    harvestId: number,
    analysisId: number,
    rows: ExampleRow[],
  ): Map<ExampleRow, { color: string; shape: string; size: string }> {
    const stream = this.stream(analysisId);
    const images = rows.filter((r) => r.modality === 'image' && r.patch_row !== null && r.patch_col !== null);
    const itemIds = [...new Set(images.map((r) => r.item_id))];
    const scenes = new Map<number, Scene | null>();
    const grids = new Map<number, { rows: number; cols: number }>();
    const harvests = new HarvestStore(this.db, this.workspaceDir);
    const datasets = new DatasetStore(this.db);
    for (const id of itemIds) {
      scenes.set(id, datasets.scene(id) as Scene | null);
      grids.set(id, harvests.imageGrid(harvestId, stream, id));
    }
    if (itemIds.length > 0 && [...scenes.values()].every((s) => !s?.objects))
      throw new OcularError(
        'invalid_request',
        'Ground-truth search (color:, shape:, size:) needs benchmark data with scene annotations; this analysis has none.',
      );
    const out = new Map<ExampleRow, { color: string; shape: string; size: string }>();
    for (const r of images) {
      const scene = scenes.get(r.item_id);
      const grid = grids.get(r.item_id)!;
      const o = scene?.objects ? objectAtPatch(scene, r.patch_row!, r.patch_col!, grid.rows, grid.cols) : null;
      if (o) out.set(r, o);
    }
    return out;
  }
}
