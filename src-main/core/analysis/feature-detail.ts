/**
 * A feature page's data, assembled on request: statistics and top examples from the analysis,
 * and for each example its item (question, answer, benchmark object under the patch), a heatmap of
 * this feature over every image token of the item, and the text tokens around it with this
 * feature's activation on each. Activations are recomputed from the feature's encoder column
 * alone (for TopK SAEs, against each row's stored k-th largest pre-activation), reading only the
 * rows shown, so a page costs milliseconds whatever the harvest's size.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FeatureDetail, FeatureExample } from '../../contract/contract.js';
import { objectAtPatch, type Scene } from '../benchmark/scene.js';
import { DatasetStore } from '../datasets/dataset-store.js';
import { HarvestStore, streamOf, type HarvestRow } from '../harvest/harvest-store.js';
import { ShardReader } from '../harvest/shard-reader.js';
import { featureActivations } from '../sae/sae-encode.js';
import type { SaeFile } from '../sae/sae-io.js';
import { SaeStore } from '../sae/sae-store.js';
import type { Db } from '../store/sqlite.js';
import { AnalysisStore } from './analysis-store.js';
import { LabelStore } from './label-store.js';
import { specialTokenStrings, withoutSpecialTokens } from './logit-effects.js';
import { layoutOf, rel } from '../store/layout.js';

/** Text tokens shown on each side of a text example. */
const CONTEXT = 8;

type IndexRow = HarvestRow;

type Heatmap = NonNullable<FeatureExample['heatmap']>;

/**
 * A feature's activation over an item's image tokens. The grid is one tile of one image (the
 * example's own for an image token; else the first image's last tile, its global view when split):
 * tiles and images each have their own grid, so merging them would put values on the wrong cells.
 * `cells` holds every image token with its box in the original image's pixels, for any layout.
 */
export function patchHeatmap(image: IndexRow[], actOf: (row: number) => number, at: IndexRow | null): Heatmap {
  const anchor = at?.modality === 'image' ? at : image.filter((r) => (r.image ?? 0) === (image[0]!.image ?? 0)).at(-1)!;
  const grid = image.filter((r) => r.image === anchor.image && r.tile === anchor.tile && r.patch_row !== null && r.patch_col !== null);
  const rows = Math.max(0, ...grid.map((r) => r.patch_row! + 1));
  const cols = Math.max(0, ...grid.map((r) => r.patch_col! + 1));
  const values = new Array<number>(rows * cols).fill(0);
  for (const r of grid) values[r.patch_row! * cols + r.patch_col!] = actOf(r.row);
  const cells = image
    .filter((r) => r.box_x0 !== null)
    .map((r) => ({ image: r.image ?? 0, tile: r.tile ?? 0, box: [r.box_x0!, r.box_y0!, r.box_x1!, r.box_y1!], value: actOf(r.row) }));
  return { rows, cols, values, image: anchor.image ?? 0, tile: anchor.tile ?? 0, cells };
}

export class FeatureDetails {
  private readonly saes = new Map<number, SaeFile>();
  private readonly vocabs = new Map<number, Record<number, string>>();
  private readonly specials = new Map<number, Set<string>>();

  constructor(
    private readonly db: Db,
    private readonly workspaceDir: string,
  ) {}

  sae(id: number): SaeFile {
    let sae = this.saes.get(id);
    if (!sae) {
      sae = new SaeStore(this.db, this.workspaceDir).load(id);
      if (this.saes.size >= 2) this.saes.delete(this.saes.keys().next().value!);
      this.saes.set(id, sae);
    }
    return sae;
  }

  private folder(analysisId: number): string {
    return layoutOf(this.workspaceDir).analysis(analysisId);
  }

  vocab(analysisId: number): Record<number, string> {
    let v = this.vocabs.get(analysisId);
    if (!v) {
      const file = path.join(this.folder(analysisId), 'vocab.json');
      v = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<number, string>) : {};
      this.vocabs.set(analysisId, v);
    }
    return v;
  }

  private kth(analysisId: number, rows: number[]): Float32Array {
    const out = new Float32Array(rows.length).fill(-Infinity);
    const file = layoutOf(this.workspaceDir).analysisKth(analysisId);
    if (!fs.existsSync(file)) return out;
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(4);
      rows.forEach((row, i) => {
        fs.readSync(fd, buf, 0, 4, row * 4);
        out[i] = buf.readFloatLE(0);
      });
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }

  get(analysisId: number, feature: number): FeatureDetail {
    const analyses = new AnalysisStore(this.db);
    const a = analyses.get(analysisId);
    const base = analyses.feature(analysisId, feature);
    return {
      row: base.row,
      quantiles: base.quantiles,
      histogram: { edges: a.summary?.histogramEdges ?? [], counts: base.histogram },
      logits: base.logits ? withoutSpecialTokens(base.logits, this.specialTokens(a.harvestId)) : null,
      examples: this.examples(analysisId, feature, base.examples.top),
      label: new LabelStore(this.db).get(a.saeId, feature),
    };
  }

  /** The model's special tokens (as the vocabulary spells them), read once per harvest. */
  private specialTokens(harvestId: number): Set<string> {
    let tokens = this.specials.get(harvestId);
    if (!tokens) {
      const h = new HarvestStore(this.db, this.workspaceDir).meta(harvestId);
      tokens = specialTokenStrings(h.modelPath);
      this.specials.set(harvestId, tokens);
    }
    return tokens;
  }

  /**
   * Feature examples for the given rows of the analysis's harvest (in the order given, ranked from
   * `firstRank`): the item, a heatmap of the feature over the item's image tokens, the text around.
   */
  examples(analysisId: number, feature: number, picks: Array<{ row: number; activation: number }>, firstRank = 0): FeatureExample[] {
    const a = new AnalysisStore(this.db).get(analysisId);
    const sae = this.sae(a.saeId);
    const h = new HarvestStore(this.db, this.workspaceDir).meta(a.harvestId);
    const tap = sae.hookName!;
    const stream = streamOf(tap);
    const reader = new ShardReader(this.db, this.workspaceDir, h, tap);
    const vocab = this.vocab(analysisId);
    const harvests = new HarvestStore(this.db, this.workspaceDir);

    const examples = picks.map((e) => ({ ...e, meta: harvests.row(h.id, stream, e.row)! }));
    const itemRows = new Map<number, IndexRow[]>();
    for (const e of examples)
      if (!itemRows.has(e.meta.item_id)) itemRows.set(e.meta.item_id, harvests.itemRows(h.id, stream, e.meta.item_id));

    // Rows whose activation the page shows: every image token of each example's item, and text around text examples.
    const plans = examples.map((e) => {
      const rows = itemRows.get(e.meta.item_id)!;
      const image = rows.filter((r) => r.modality === 'image' && r.patch_row !== null && r.patch_col !== null);
      const text = rows.filter((r) => r.modality !== 'image');
      const context =
        e.meta.modality === 'image' ? text.slice(0, 2 * CONTEXT) : text.filter((r) => Math.abs(r.position - e.meta.position) <= CONTEXT);
      return { e, image, context };
    });
    const needed = [...new Set(plans.flatMap((p) => [...p.image, ...p.context].map((r) => r.row)))].sort((x, y) => x - y);
    const acts = featureActivations(
      sae,
      feature,
      reader.readRows(needed),
      sae.architecture === 'topk' ? this.kth(analysisId, needed) : null,
    );
    const actOf = new Map(needed.map((row, i) => [row, acts[i]!]));

    const items = new DatasetStore(this.db).itemsById(examples.map((e) => e.meta.item_id));
    const imageFile = (itemId: number, name: string) => {
      const file = rel.analysisImage(analysisId, itemId, path.extname(name));
      return fs.existsSync(path.join(this.workspaceDir, file)) ? file.split(path.sep).join('/') : null;
    };
    const out: FeatureExample[] = plans.map(({ e, image, context }, rank) => {
      const item = items.get(e.meta.item_id);
      const heatmap = image.length > 0 ? patchHeatmap(image, (row) => actOf.get(row) ?? 0, e.meta) : null;
      const scene = (item?.scene ?? null) as Scene | null;
      const obj =
        scene?.objects && heatmap && e.meta.patch_row !== null && e.meta.patch_col !== null
          ? objectAtPatch(scene, e.meta.patch_row, e.meta.patch_col, heatmap.rows, heatmap.cols)
          : null;
      return {
        rank: firstRank + rank,
        row: e.row,
        activation: e.activation,
        itemId: e.meta.item_id,
        position: e.meta.position,
        modality: e.meta.modality,
        patchRow: e.meta.patch_row,
        patchCol: e.meta.patch_col,
        imagePath: item ? imageFile(item.id, item.image) : null,
        heatmap,
        context: context.map((r) => ({
          token: r.token_id === null ? '' : (vocab[r.token_id] ?? `#${r.token_id}`),
          activation: actOf.get(r.row) ?? 0,
          at: r.row === e.row,
        })),
        question: item?.question ?? '',
        answer: item ? String(item.answer.value) : '',
        task: item?.task ?? null,
        object: obj ? { shape: obj.shape, color: obj.color, size: obj.size } : null,
      };
    });
    return out;
  }
}
