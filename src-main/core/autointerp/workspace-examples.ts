/**
 * Example sets of one feature from a workspace's analysis (rows picked by example-sets.ts, turned into
 * feature-page examples with their items, contexts and heatmaps), and the image files behind them.
 */
import type { FeatureExample } from '../../contract/contract.js';
import { AnalysisStore } from '../analysis/analysis-store.js';
import { FeatureDetails } from '../analysis/feature-detail.js';
import { FeatureSamples } from '../analysis/feature-samples.js';
import { HarvestStore } from '../harvest/harvest-store.js';
import { ShardReader } from '../harvest/shard-reader.js';
import type { Db } from '../store/sqlite.js';
import { resolveInside } from '../util/safe-path.js';
import { pickRows, scannedRowList, shuffleScoring, type ExampleCounts, type ExampleSets, type RowPicks } from './example-sets.js';
import { exampleImageParts } from './image-parts.js';

export class WorkspaceExamples {
  readonly details: FeatureDetails;
  private readonly samples: FeatureSamples;

  constructor(
    private readonly db: Db,
    private readonly workspaceDir: string,
  ) {
    this.details = new FeatureDetails(db, workspaceDir);
    this.samples = new FeatureSamples(db, workspaceDir, this.details);
  }

  picks(analysisId: number, feature: number, counts: ExampleCounts, seed: number): RowPicks {
    const a = new AnalysisStore(this.db).get(analysisId);
    const sae = this.details.sae(a.saeId);
    const h = new HarvestStore(this.db, this.workspaceDir).meta(a.harvestId);
    const rows = new ShardReader(this.db, this.workspaceDir, h, sae.hookName!).rows;
    const scan = this.samples.scan(analysisId, feature);
    const scanned = scannedRowList(rows, sae.dIn, h.params.dtype === 'fp16' ? 2 : 4);
    return pickRows(scan, scanned, rows, counts, seed * 1_000_003 + feature);
  }

  sets(analysisId: number, feature: number, counts: ExampleCounts, seed: number): { sets: ExampleSets; picks: RowPicks } {
    const p = this.picks(analysisId, feature, counts, seed);
    const ex = (rows: Array<{ row: number; activation: number }>) => this.details.examples(analysisId, feature, rows);
    const zero = (rows: number[]) => rows.map((row) => ({ row, activation: 0 }));
    const scoring = shuffleScoring(ex(p.scoreActive), ex(zero(p.scoreInactive)), seed + feature);
    return { sets: { explain: ex(p.explain), contrast: ex(zero(p.contrast)), score: scoring.examples, truth: scoring.truth }, picks: p };
  }

  /** A multimodal endpoint's view of an example: patch crop (and heatmap), from the analysis's copy of the image. */
  async images(e: FeatureExample, withHeatmap: boolean) {
    if (!e.imagePath) return [];
    return exampleImageParts(e, resolveInside(this.workspaceDir, e.imagePath), withHeatmap);
  }
}
