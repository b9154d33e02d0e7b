/** The files an analysis keeps beside its records (blobs/analyses/<id>/): token strings and example images. */
import fs from 'node:fs';
import path from 'node:path';
import type { StoredItem } from '../datasets/dataset-store.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { loadProcessor, tokenTexts } from '../vlm/processor.js';

/** Token strings of `ids` by the model's tokenizer, written to vocab.json; a model folder that is gone (or never was: synthetic harvests) leaves token ids as #id. */
export async function writeVocab(folder: string, modelPath: string, ids: Set<number>): Promise<Record<number, string>> {
  const vocab: Record<number, string> = {};
  const tokenizer = await loadProcessor(modelPath).then(
    (l) => l.tokenizer,
    () => null,
  );
  if (tokenizer) for (const [id, text] of tokenTexts(tokenizer, ids)) vocab[id] = text;
  writeFileAtomic(path.join(folder, 'vocab.json'), JSON.stringify(vocab));
  return vocab;
}

/** Copies of the example items' images (by item id), so feature pages show them without the dataset folder. */
export function copyExampleImages(folder: string, datasetPath: string, items: Map<number, StoredItem>): void {
  const imageDir = path.join(folder, 'images');
  fs.mkdirSync(imageDir, { recursive: true });
  for (const [id, item] of items) {
    const target = path.join(imageDir, `${id}${path.extname(item.image)}`);
    if (!fs.existsSync(target)) fs.copyFileSync(path.join(datasetPath, item.image), target);
  }
}
