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
import { positionsFromMask } from '../../src-main/core/generation/generate';
import { repoRoot, sessionHostEntry } from '../helpers/tmp';

interface Reference {
  prompts: string[];
  texts: string[];
  input_ids: number[][];
  attention_mask: number[][];
  greedy_tokens: number[][];
  max_new_tokens: number;
  /** Qwen fixtures: the images of each item, HF's M-RoPE positions and first-step logits. */
  item_images?: number[][];
  image_sizes?: Array<[number, number]>;
  position_ids?: number[][][];
  first_logits?: number[][];
}

const FAMILIES = ['llava', 'llava_onevision', 'gemma3', 'idefics3', 'idefics3-split', 'qwen2_5_vl', 'qwen3_vl', 'qwen3_5'];
let pool: SessionPool;
beforeAll(() => {
  pool = new SessionPool({ hostEntry: sessionHostEntry, size: 2 });
});
afterAll(async () => {
  await pool.close();
});

function referenceItems(dir: string, reference: Reference) {
  const image = (i: number) => path.join(dir, 'test-images', `${i}.png`);
  return reference.prompts.map((prompt, i) =>
    reference.item_images ? { images: reference.item_images[i]!.map(image), prompt } : { image: image(i), prompt },
  );
}

for (const family of FAMILIES) {
  const dir = path.join(repoRoot, 'test', 'fixtures', 'vlm', `tiny-${family}`);
  const reference = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Reference;
  const items = referenceItems(dir, reference);

  describe(`tiny ${family} export`, () => {
    it('templates, tokenizes and merges image features like the Python processor', async () => {
      const vlm = await VlmPipeline.load(dir, pool, 'cpu');
      const prefix = await vlm.prepare(items);
      expect(prefix.texts).toEqual(reference.texts);
      expect(prefix.inputIds).toEqual(reference.input_ids);
      expect(Array.from(prefix.attentionMask)).toEqual(reference.attention_mask.flat());
      // Per-token metadata: every image token carries its image, tile, cell and box; text and padding do not.
      for (const row of prefix.tokens) {
        const image = row.filter((t) => t.modality === 'image');
        // (LLaVA-OneVision's image_newline tokens stand for no pixels: no cell, no box.)
        expect(image.every((t) => t.image !== null && t.tile !== null && (t.box !== null || t.patchRow === null))).toBe(true);
        expect(row.filter((t) => t.modality !== 'image').every((t) => t.patchRow === null && t.image === null && t.box === null)).toBe(
          true,
        );
      }
      if (reference.position_ids) {
        // M-RoPE: the positions transformers' get_rope_index computes for the same left-padded batch.
        expect(Array.from(prefix.mrope!.ids, Number)).toEqual(reference.position_ids.flat(2));
      }
    });

    it(`answers a batch of ${items.length} prompts with the same greedy tokens as PyTorch`, async () => {
      const vlm = await VlmPipeline.load(dir, pool, 'cpu');
      expect(items.length).toBeGreaterThanOrEqual(5);
      const { outputs, result } = await vlm.generate(items, { maxNewTokens: reference.max_new_tokens, returnFirstLogits: true });
      expect(outputs.map((o) => o.tokenIds)).toEqual(reference.greedy_tokens);
      expect(outputs.every((o) => typeof o.text === 'string')).toBe(true);
      expect(result.steps).toBeLessThanOrEqual(reference.max_new_tokens);
      if (reference.first_logits) {
        // The whole prompt pass (vision tower, merge, M-RoPE, decoder) against HF's logits.
        const vocab = reference.first_logits[0]!.length;
        const diff = Math.max(...reference.first_logits.flat().map((v, i) => Math.abs(v - result.firstLogits![i]!)));
        expect(result.firstLogits!.length).toBe(reference.first_logits.length * vocab);
        expect(diff).toBeLessThan(1e-3);
      }
    });
  });
}

describe('patch boxes in original-image pixels', () => {
  const load = (name: string) => {
    const dir = path.join(repoRoot, 'test', 'fixtures', 'vlm', name);
    return { dir, reference: JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Reference };
  };
  const imageTokensOf = (tokens: Array<{ modality: string }>) => tokens.filter((t) => t.modality === 'image') as any[];

  it('Qwen: one token per 2x2 merged patch block, row-major over the image', async () => {
    const { dir, reference } = load('tiny-qwen2_5_vl');
    const vlm = await VlmPipeline.load(dir, pool, 'cpu');
    const prefix = await vlm.layout(referenceItems(dir, reference).slice(0, 1));
    // Image 0 is 48 x 32 px: 6 x 4 patches of 8 px, so 3 x 2 tokens of 16 px.
    const tokens = imageTokensOf(prefix.tokens[0]!);
    expect(tokens).toHaveLength(6);
    expect(tokens.map((t) => [t.patchRow, t.patchCol])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 1],
      [1, 2],
    ]);
    expect(tokens[5].box).toEqual([32, 16, 48, 32]);
    expect(tokens.every((t) => t.image === 0 && t.tile === 0)).toBe(true);
  });

  it('Idefics3 with image splitting: row-major tiles, then the global view, each a 2x2 grid', async () => {
    const { dir, reference } = load('tiny-idefics3-split');
    const vlm = await VlmPipeline.load(dir, pool, 'cpu');
    const prefix = await vlm.layout(referenceItems(dir, reference));
    // Image 0 is 96 x 32 px: three 32 px tiles side by side and the whole image.
    const first = imageTokensOf(prefix.tokens[0]!);
    expect(first.map((t) => t.tile)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(first[5].box).toEqual([48, 0, 64, 16]);
    expect(first[15].box).toEqual([48, 16, 96, 32]);
    // The last item shows two images: 96 x 32 again after a 3 x 3 split of 96 x 96.
    const last = imageTokensOf(prefix.tokens[4]!);
    expect(last.filter((t) => t.image === 0)).toHaveLength(40);
    expect(last.filter((t) => t.image === 1)).toHaveLength(16);
    expect(last.find((t) => t.image === 0 && t.tile === 8 && t.patchRow === 1 && t.patchCol === 1).box).toEqual([80, 80, 96, 96]);
  });
});

describe('surgery on an exported VLM decoder (tiny LLaVA)', () => {
  it('exposed taps are consistent, an identity SAE edit keeps the logits, steering moves them', async () => {
    const { writeEditedGraph } = await import('../../src-main/core/onnx/edited-graph');
    const { saeIdentityInputs } = await import('../../src-main/core/onnx/surgery');
    const os = await import('node:os');
    const src = path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-llava');
    // Work on a copy: edited graphs are written beside the original.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-vlm-edit-'));
    try {
      fs.cpSync(src, dir, { recursive: true });
      const vlm = await VlmPipeline.load(dir, pool, 'cpu');
      const reference = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Reference;
      const items = reference.prompts.slice(0, 2).map((prompt, i) => ({ image: path.join(dir, 'test-images', `${i}.png`), prompt }));
      const prefix = await vlm.prepare(items);
      const { batch, length, width } = prefix;
      const feeds: Record<string, any> = {
        inputs_embeds: { type: 'float32', dims: [batch, length, width], data: prefix.embeds },
        attention_mask: { type: 'int64', dims: [batch, length], data: BigInt64Array.from(prefix.attentionMask, (m) => BigInt(m)) },
        position_ids: { type: 'int64', dims: [batch, length], data: positionsFromMask(prefix.attentionMask, batch, length).positions },
      };
      for (let l = 0; l < 2; l++)
        for (const k of ['key', 'value'])
          feeds[`past_key_values.${l}.${k}`] = { type: 'float32', dims: [batch, 1, 0, 16], data: new Float32Array(0) };
      const decoderFile = path.join(dir, 'onnx', 'decoder_model_merged.onnx');
      const base = await pool.run(await pool.load(decoderFile, 'cpu'), feeds);

      const taps = writeEditedGraph(
        decoderFile,
        {
          expose: [
            'blocks.0.hook_resid_pre',
            'blocks.0.hook_resid_mid',
            'blocks.0.hook_attn_out',
            'blocks.0.hook_mlp_out',
            'blocks.0.hook_resid_post',
          ],
        },
        { cacheDir: dir },
      );
      const t = await pool.run(await pool.load(taps.path, 'cpu'), feeds);
      const get = (n: string) => t[n]!.data as Float32Array;
      // resid_pre is the merged prompt; resid_mid = resid_pre + attn_out; resid_post = resid_mid + mlp_out.
      expect(Array.from(get('blocks.0.hook_resid_pre'))).toEqual(Array.from(prefix.embeds));
      const mid = get('blocks.0.hook_resid_mid');
      const diffMid = Math.max(
        ...Array.from(mid, (v, i) => Math.abs(v - (get('blocks.0.hook_resid_pre')[i]! + get('blocks.0.hook_attn_out')[i]!))),
      );
      const diffPost = Math.max(
        ...Array.from(get('blocks.0.hook_resid_post'), (v, i) => Math.abs(v - (mid[i]! + get('blocks.0.hook_mlp_out')[i]!))),
      );
      expect(diffMid).toBeLessThan(1e-5);
      expect(diffPost).toBeLessThan(1e-5);

      const r = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.3);
      const sae = {
        architecture: 'topk' as const,
        dIn: 32,
        dSae: 64,
        k: 8,
        W_enc: r(32 * 64, 1),
        b_enc: r(64, 2),
        W_dec: r(64 * 32, 3),
        b_dec: r(32, 4),
        applyBDecToInput: true,
      };
      const edited = writeEditedGraph(
        decoderFile,
        { saeEdits: [{ id: 's', tap: 'blocks.1.hook_resid_post', sae }], steer: ['blocks.0.hook_resid_post'] },
        { cacheDir: dir },
      );
      const session = await pool.load(edited.path, 'cpu');
      const identity: Record<string, any> = {};
      Object.assign(identity, saeIdentityInputs('s', 64, batch, length));
      const zero = { type: 'float32' as const, dims: [1, 1, 32], data: new Float32Array(32) };
      const same = await pool.run(session, { ...feeds, ...identity, 'steer.blocks.0.hook_resid_post': zero });
      const maxDiff = (a: any, b: any) =>
        Math.max(...Array.from(a.data as Float32Array, (v: number, i: number) => Math.abs(v - (b.data as Float32Array)[i]!)));
      expect(maxDiff(same.logits, base.logits)).toBeLessThan(1e-5);
      const push = { type: 'float32' as const, dims: [1, 1, 32], data: r(32, 9).map((v) => v * 10) };
      const moved1 = await pool.run(session, { ...feeds, ...identity, 'steer.blocks.0.hook_resid_post': push });
      const moved2 = await pool.run(session, { ...feeds, ...identity, 'steer.blocks.0.hook_resid_post': push });
      expect(maxDiff(moved1.logits, base.logits)).toBeGreaterThan(1e-2);
      expect(maxDiff(moved1.logits, moved2.logits)).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
