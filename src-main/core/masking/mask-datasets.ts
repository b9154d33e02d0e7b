/**
 * Writes the masked copies of an analysed dataset that a patch-masking comparison evaluates: one
 * dataset folder per (method, keep share), each item's image with the patches not kept painted over
 * (patch-scores.ts), questions and answers unchanged, `dataset.json` recording the masking and each
 * item's kept patch indices. Patch activations are the analysis's SAE on its harvest's image tokens,
 * recomputed exactly; their boxes are the harvest's boxes in original pixels. Images split into
 * several tiles (whose boxes overlap) are refused: which pixels a masked tile token owns is not defined.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AnalysisStore } from '../analysis/analysis-store.js';
import { DatasetStore, type DatasetRecord } from '../datasets/dataset-store.js';
import { readDatasetFolder } from '../datasets/dataset-folder.js';
import { OcularError } from '../errors.js';
import { HarvestStore, streamOf } from '../harvest/harvest-store.js';
import { ShardReader } from '../harvest/shard-reader.js';
import { encode } from '../sae/sae-encode.js';
import { SaeStore } from '../sae/sae-store.js';
import type { Db } from '../store/sqlite.js';
import { describeWriteError } from '../util/atomic-file.js';
import { keptPatches, maskImage, patchScores, type PatchMethod } from './patch-scores.js';

export interface MaskParams {
  analysisId: number;
  methods: PatchMethod[];
  keeps: number[];
  bound: number;
  features: number[];
  seed: number;
  fill: [number, number, number];
  destRoot: string;
}

export interface MaskedDataset {
  method: PatchMethod;
  keep: number;
  datasetId: number;
}

export async function writeMaskedDatasets(
  db: Db,
  dir: string,
  p: MaskParams,
  progress: (f: number) => void,
): Promise<{ sourceDatasetId: number; masked: MaskedDataset[] }> {
  if (p.methods.includes('features') && p.features.length === 0)
    throw new OcularError('invalid_request', 'Masking by chosen features needs at least one feature.');
  const a = new AnalysisStore(db).get(p.analysisId);
  const sae = new SaeStore(db, dir).load(a.saeId);
  const bad = p.features.find((f) => f >= sae.dSae);
  if (bad !== undefined) throw new OcularError('invalid_request', `SAE ${a.saeId} has ${sae.dSae} features; there is no feature ${bad}.`);
  const harvests = new HarvestStore(db, dir);
  const h = harvests.meta(a.harvestId);
  const index = harvests.rowIndex(h.id, streamOf(sae.hookName!));
  if (index.some((r) => r.modality === 'image' && ((r.tile ?? 0) > 0 || (r.image ?? 0) > 0)))
    throw new OcularError(
      'invalid_request',
      'Patch masking of images split into tiles, or of items with several images, is not implemented.',
    );
  const reader = new ShardReader(db, dir, h, sae.hookName!);
  const weights = new AnalysisStore(db).crossModalWeights(a.id, sae.dSae);

  // Per item: its image tokens' rows and boxes, and the features active on its text tokens.
  const items = new Map<number, { rows: number[]; boxes: Array<[number, number, number, number]>; text: number[] }>();
  index.forEach((r, row) => {
    let it = items.get(r.itemId);
    if (!it) items.set(r.itemId, (it = { rows: [], boxes: [], text: [] }));
    if (r.modality === 'image') {
      if (!r.box)
        throw new OcularError('invalid_request', `Harvest ${h.id} has image tokens without boxes; harvest again to mask patches.`);
      it.rows.push(row);
      it.boxes.push(r.box);
    } else it.text.push(row);
  });
  const dataset = new DatasetStore(db);
  const source = dataset.get(h.datasetId);
  const stored = dataset.itemsById([...items.keys()]);
  const out = new Map<string, { lines: string[]; kept: Record<string, number[]>; tmp: string; method: PatchMethod; keep: number }>();
  for (const method of p.methods)
    for (const keep of p.keeps) {
      const tmp = path.join(p.destRoot, `.partial-${method}-${keep}-${process.pid}`);
      fs.mkdirSync(path.join(tmp, 'images'), { recursive: true });
      out.set(`${method}:${keep}`, { lines: [], kept: {}, tmp, method, keep });
    }
  try {
    let done = 0;
    for (const [itemId, it] of items) {
      const item = stored.get(itemId)!;
      if (it.rows.length === 0) throw new OcularError('invalid_request', `Item ${item.key} has no image tokens in harvest ${h.id}.`);
      const z = encode(sae, reader.readRows([...it.rows, ...it.text]));
      const at = (i: number) => z.subarray(i * sae.dSae, (i + 1) * sae.dSae);
      const patches = it.rows.map((_, i) => at(i));
      const textActive = new Set<number>();
      it.text.forEach((_, j) => at(it.rows.length + j).forEach((v, f) => v > p.bound && textActive.add(f)));
      for (const o of out.values()) {
        const scores =
          o.method === 'random' ? null : patchScores(o.method, { patches, textActive, weights, bound: p.bound, features: p.features });
        const kept = keptPatches(scores, patches.length, o.keep, p.seed * 7919 + itemId);
        const image = `images/${itemId}.png`;
        fs.writeFileSync(path.join(o.tmp, image), await maskImage(path.join(source.path, item.image), it.boxes, kept, p.fill));
        o.kept[item.key] = kept;
        o.lines.push(
          JSON.stringify({
            id: item.key,
            task: item.task,
            difficulty: item.difficulty,
            image,
            question: item.question,
            answer: item.answer,
            scene: item.scene,
          }),
        );
      }
      progress(++done / items.size);
    }
    const masked: MaskedDataset[] = [];
    for (const o of out.values()) {
      fs.writeFileSync(path.join(o.tmp, 'items.jsonl'), `${o.lines.join('\n')}\n`);
      const meta = {
        masking: {
          method: o.method,
          keep: o.keep,
          bound: p.bound,
          features: p.features,
          seed: p.seed,
          fill: p.fill,
          analysisId: a.id,
          sourceDataset: source.path,
        },
        kept: o.kept,
      };
      fs.writeFileSync(path.join(o.tmp, 'dataset.json'), JSON.stringify(meta));
      const dest = path.join(p.destRoot, `${o.method}-keep${o.keep}`);
      fs.renameSync(o.tmp, dest);
      const record: DatasetRecord = dataset.insert(await readDatasetFolder(dest), `masked a${a.id} ${o.method} keep ${o.keep}`);
      masked.push({ method: o.method, keep: o.keep, datasetId: record.id });
    }
    return { sourceDatasetId: source.id, masked };
  } catch (err) {
    for (const o of out.values()) fs.rmSync(o.tmp, { recursive: true, force: true });
    throw err instanceof OcularError ? err : describeWriteError(err, p.destRoot);
  }
}
