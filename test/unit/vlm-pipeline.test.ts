/**
 * End to end on tiny random-weight VLMs exported by tools/export_tiny_vlms.py in the
 * onnx-community layout: processor and tokenizer through transformers.js from local files, vision
 * encoder / embeddings / decoder in the session pool, our own generation loop — checked against
 * greedy tokens from the same modules in PyTorch (reference.json, written by the export tool).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionPool } from '../../src-main/core/runtime/session-pool';
import { VlmPipeline } from '../../src-main/core/vlm/pipeline';
import { repoRoot, sessionHostEntry } from '../helpers/tmp';

interface Reference {
  prompts: string[];
  texts: string[];
  input_ids: number[][];
  attention_mask: number[][];
  pixel_values_sums: number[];
  greedy_tokens: number[][];
  max_new_tokens: number;
}

const FAMILIES = ['llava', 'gemma3', 'idefics3'];
let pool: SessionPool;
beforeAll(() => {
  pool = new SessionPool({ hostEntry: sessionHostEntry, size: 2 });
});
afterAll(async () => {
  await pool.close();
});

for (const family of FAMILIES) {
  const dir = path.join(repoRoot, 'test', 'fixtures', 'vlm', `tiny-${family}`);
  const reference = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Reference;
  const items = reference.prompts.map((prompt, i) => ({ image: path.join(dir, 'test-images', `${i}.png`), prompt }));

  describe(`tiny ${family} export`, () => {
    it('templates, tokenizes and merges image features like the Python processor', async () => {
      const vlm = await VlmPipeline.load(dir, pool, 'cpu');
      const prefix = await vlm.prepare(items);
      expect(prefix.texts).toEqual(reference.texts);
      expect(prefix.inputIds).toEqual(reference.input_ids);
      expect(Array.from(prefix.attentionMask)).toEqual(reference.attention_mask.flat());
      // Per-token metadata: every image token carries its patch position; text and padding do not.
      const row = prefix.tokens[0]!;
      const image = row.filter((t) => t.modality === 'image');
      expect(image.length).toBe(vlm.family.layout.tokensPerImage);
      const grid = image.filter((t) => t.patchRow !== null);
      expect(grid.length).toBe(vlm.family.layout.gridRows * vlm.family.layout.gridCols);
      expect(grid.map((t) => [t.patchRow, t.patchCol])).toEqual(
        Array.from({ length: grid.length }, (_, k) => [Math.floor(k / vlm.family.layout.gridCols), k % vlm.family.layout.gridCols]),
      );
      expect(row.filter((t) => t.modality === 'text').every((t) => t.patchRow === null && t.image === null)).toBe(true);
    });

    it('answers a batch of 8 images with the same greedy tokens as PyTorch', async () => {
      const vlm = await VlmPipeline.load(dir, pool, 'cpu');
      expect(items).toHaveLength(8);
      const { outputs, result } = await vlm.generate(items, { maxNewTokens: reference.max_new_tokens });
      expect(outputs.map((o) => o.tokenIds)).toEqual(reference.greedy_tokens);
      expect(outputs.every((o) => typeof o.text === 'string')).toBe(true);
      expect(result.steps).toBeLessThanOrEqual(reference.max_new_tokens);
    });
  });
}
