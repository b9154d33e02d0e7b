/**
 * Writes an SAE-V filtered share of a dataset as a new dataset folder (items.jsonl, images/,
 * dataset.json with the filter's provenance and every item's score) and adds it to the workspace.
 * Activations are the analysis's SAE over its harvest, recomputed exactly per row (sae-encode), shard
 * by shard; only the items the harvest covered are candidates. The folder is written beside its
 * destination and renamed into place, so a failure leaves nothing behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AnalysisStore } from '../analysis/analysis-store.js';
import { OcularError } from '../errors.js';
import { HarvestStore, streamOf } from '../harvest/harvest-store.js';
import { ShardReader } from '../harvest/shard-reader.js';
import { encode } from '../sae/sae-encode.js';
import { SaeStore } from '../sae/sae-store.js';
import type { Db } from '../store/sqlite.js';
import { describeWriteError } from '../util/atomic-file.js';
import { readDatasetFolder } from './dataset-folder.js';
import { DatasetStore, type DatasetRecord } from './dataset-store.js';
import { itemScore, recordToken, selectItems, type FilterMethod, type ItemActivity } from './sae-v-filter.js';

export interface FilterParams {
  analysisId: number;
  by: FilterMethod;
  keep: number;
  bound: number;
  seed: number;
  dest: string;
  name: string;
}

/** Per item of the harvest, the features active on its image and text tokens. */
export function itemActivity(db: Db, workspaceDir: string, analysisId: number, bound: number, onShard?: (done: number) => void) {
  const a = new AnalysisStore(db).get(analysisId);
  const sae = new SaeStore(db, workspaceDir).load(a.saeId);
  const harvests = new HarvestStore(db, workspaceDir);
  const h = harvests.meta(a.harvestId);
  const reader = new ShardReader(db, workspaceDir, h, sae.hookName!);
  const meta = harvests.patchIndex(h.id, streamOf(sae.hookName!));
  const activity = new Map<number, ItemActivity>();
  let shards = 0;
  for (const chunk of reader.chunks()) {
    const z = encode(sae, chunk.data);
    for (let i = 0; i < chunk.rows; i++) {
      const m = meta[chunk.firstRow + i]!;
      recordToken(activity, m.item_id, m.modality === 'image', z.subarray(i * sae.dSae, (i + 1) * sae.dSae), bound);
    }
    onShard?.(++shards);
  }
  const weights = new AnalysisStore(db).crossModalWeights(a.id, sae.dSae);
  return { activity, weights, datasetId: h.datasetId, saeId: a.saeId, harvestId: h.id };
}

export function filterDataset(
  db: Db,
  workspaceDir: string,
  p: FilterParams,
  onShard?: (done: number) => void,
): Promise<{ record: DatasetRecord; kept: number; candidates: number }> {
  return (async () => {
    if (fs.existsSync(p.dest))
      throw new OcularError('invalid_request', `${p.dest} exists already; filtered datasets are written to a new folder.`);
    const { activity, weights, datasetId, saeId, harvestId } = itemActivity(db, workspaceDir, p.analysisId, p.bound, (d) => onShard?.(d));
    const scores = new Map<number, number>();
    for (const [item, a] of activity) scores.set(item, p.by === 'random' ? 0 : itemScore(a, p.by, weights));
    if (scores.size === 0) throw new OcularError('invalid_request', `Analysis ${p.analysisId}'s harvest holds no items to filter.`);
    const kept = selectItems(scores, p.keep, p.by, p.seed);
    const source = new DatasetStore(db).get(datasetId);
    const items = new DatasetStore(db).itemsById([...scores.keys()]);
    const tmp = `${p.dest}.partial-${process.pid}`;
    try {
      fs.mkdirSync(path.join(tmp, 'images'), { recursive: true });
      const lines = kept.map((id) => {
        const it = items.get(id)!;
        const image = `images/${id}-${path.basename(it.image)}`;
        fs.copyFileSync(path.join(source.path, it.image), path.join(tmp, image));
        return JSON.stringify({
          id: it.key,
          task: it.task,
          difficulty: it.difficulty,
          image,
          question: it.question,
          answer: it.answer,
          scene: it.scene,
        });
      });
      fs.writeFileSync(path.join(tmp, 'items.jsonl'), `${lines.join('\n')}\n`);
      const provenance = {
        filter: {
          method: p.by,
          keep: p.keep,
          bound: p.bound,
          seed: p.seed,
          analysisId: p.analysisId,
          saeId,
          harvestId,
          sourceDataset: source.path,
        },
        candidates: scores.size,
        kept: kept.length,
        scores: Object.fromEntries([...scores].map(([id, s]) => [items.get(id)?.key ?? String(id), s])),
      };
      fs.writeFileSync(path.join(tmp, 'dataset.json'), JSON.stringify(provenance, null, 1));
      fs.renameSync(tmp, p.dest);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw describeWriteError(err, p.dest);
    }
    const record = new DatasetStore(db).insert(await readDatasetFolder(p.dest), p.name);
    return { record, kept: kept.length, candidates: scores.size };
  })();
}
