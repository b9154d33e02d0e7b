/**
 * LLaVA-OneVision's anyres path against transformers on the tiny export (tools/tiny_vlm_llava_onevision.py):
 * the same best pinpoints, tile pixels (Pillow's resize, bit for bit), token counts, packing plan
 * (unpad, anyres_max bilinear downsampling, newline per row) and per-token boxes in the original
 * image's pixels; a plain per-tile vision graph is refused by name.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModel } from '../../src-main/core/model/inspect';
import { SessionPool } from '../../src-main/core/runtime/session-pool';
import {
  anyresLayout,
  anyresTiles,
  anyresTokens,
  bilinearTaps,
  selectBestResolution,
  type AnyresConfig,
} from '../../src-main/core/vlm/anyres';
import { familySpec } from '../../src-main/core/vlm/families';
import { pilResize } from '../../src-main/core/vlm/pil-resize';
import { VlmPipeline } from '../../src-main/core/vlm/pipeline';
import { repoRoot, sessionHostEntry } from '../helpers/tmp';

const DIR = path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-llava_onevision');
const reference = JSON.parse(fs.readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as {
  prompts: string[];
  item_images: number[][];
  input_ids: number[][];
  tiles_per_item: number[];
  pixel_values_sums: number[];
  pack_index: number[][];
  pack_weight: number[][];
};
const config = JSON.parse(fs.readFileSync(path.join(DIR, 'config.json'), 'utf8')) as Record<string, any>;
const items = reference.prompts.map((prompt, i) => ({
  image: path.join(DIR, 'test-images', `${reference.item_images[i]![0]}.png`),
  prompt,
}));

let pool: SessionPool;
beforeAll(() => {
  pool = new SessionPool({ hostEntry: sessionHostEntry, size: 1 });
});
afterAll(async () => {
  await pool.close();
});

describe('anyres layout (pure)', () => {
  const cfg: AnyresConfig = familySpec(config, {}).anyres!;

  it('reads tile, grid, pinpoints and anyres_max_N from config.json, and refuses what it cannot match', () => {
    expect(cfg).toMatchObject({ tile: 32, grid: 4, maxPatches: 4 });
    expect(() => familySpec({ ...config, vision_aspect_ratio: 'pad' }, {})).toThrow("vision_aspect_ratio 'pad' is not implemented");
    expect(() => familySpec({ ...config, image_grid_pinpoints: [[32]] }, {})).toThrow('no valid image_grid_pinpoints');
  });

  it('picks the pinpoint transformers picks, unpads and downsamples to its token counts', () => {
    // 384-px LLaVA-OneVision pinpoints: a 640 x 480 photo fits 768 x 768 (2 x 2 tiles).
    const ov: Array<[number, number]> = [384, 768, 1152].flatMap((h) => [384, 768, 1152].map((w) => [h, w] as [number, number]));
    expect(selectBestResolution(480, 640, ov)).toEqual([768, 768]);
    // Python: LlavaOnevisionProcessor._get_number_of_features for these sizes gives 94, 100, 88, 76, 66 tokens.
    const counts = [
      [96, 40],
      [40, 96],
      [96, 96],
      [70, 50],
      [32, 80],
    ].map(([w, h]) => {
      const l = anyresLayout(w!, h!, cfg);
      return 16 + l.out.rows * (l.out.cols + 1);
    });
    expect(counts).toEqual([94, 100, 88, 76, 66]);
    expect(counts).toEqual(reference.input_ids.map((row) => row.filter((t) => t === config.image_token_index).length));
    const wide = anyresLayout(96, 40, cfg);
    expect(wide).toMatchObject({ best: [64, 96], rows: 2, cols: 3, pad: { x: 0, y: 12 }, unpad: { top: 1, left: 0, rows: 6, cols: 12 } });
    const photo = anyresLayout(70, 50, cfg);
    expect(photo).toMatchObject({ resized: { width: 90, height: 64 }, pad: { x: 3, y: 0 }, out: { rows: 6, cols: 9 } });
    // torch.nn.functional.interpolate(size=8, mode='bilinear') over 12 rows: source 1.5k + 0.25.
    expect(bilinearTaps(8, 12)[1]).toEqual([1, 2, 0.25, 0.75]);
  });

  it('keeps boxes true where a tile holds more pixels than its patches see (SigLIP-384/14: 27 x 14 = 378 of 384)', () => {
    const ov: AnyresConfig = {
      tile: 384,
      patch: 14,
      grid: 27,
      pinpoints: [
        [384, 384],
        [384, 768],
        [768, 384],
        [768, 768],
      ],
      maxPatches: 9,
    };
    const layout = anyresLayout(768, 384, ov);
    expect(layout).toMatchObject({ best: [384, 768], rows: 1, cols: 2, out: { rows: 27, cols: 54 } });
    expect(anyresTiles(layout, ov).map((t) => t.rect)).toEqual([
      [0, 0, 756, 378],
      [0, 0, 378, 378],
      [384, 0, 762, 378],
    ]);
    const grid = anyresTokens(0, layout, ov).filter((t) => t.tile === 1 && t.patchRow === 0);
    expect(grid[26]!.box).toEqual([364, 0, 378, 14]);
    expect(grid[27]!.box).toEqual([384, 0, 398, 14]);
  });

  it('resizes like Pillow: identity at the same size, and a 2 x 2 average when halving with the bilinear filter', () => {
    const px = Uint8Array.from([0, 0, 0, 100, 100, 100, 200, 200, 200, 50, 50, 50]);
    expect(Array.from(pilResize(px, 2, 2, 3, 2, 2, 3))).toEqual(Array.from(px));
    expect(Array.from(pilResize(px, 2, 2, 3, 1, 1, 2))).toEqual([88, 88, 88]);
    expect(() => pilResize(px, 2, 2, 3, 1, 1, 1)).toThrow('Resampling filter 1 is not implemented exactly');
  });
});

describe('tiny llava_onevision export', () => {
  it('gives the tiles, pixels and packing plan of transformers, and boxes in original pixels', async () => {
    const vlm = await VlmPipeline.load(DIR, pool, 'cpu');
    const layout = await vlm.layout(items);
    const pixels = layout.batchVisionFeeds!.pixel_values!;
    expect(pixels.dims).toEqual([reference.tiles_per_item.reduce((a, b) => a + b, 0), 3, 32, 32]);
    const data = pixels.data as Float32Array;
    const sums = reference.pixel_values_sums.map((_, t) => data.subarray(t * 3072, (t + 1) * 3072).reduce((a, b) => a + b, 0));
    // Per tile, the sum of 3072 normalised values: one grey level off anywhere would move it by 0.0078.
    sums.forEach((s, t) => expect(Math.abs(s - reference.pixel_values_sums[t]!)).toBeLessThan(2e-3));
    const index = Array.from(layout.batchVisionFeeds!.pack_index!.data as BigInt64Array, Number);
    expect(index).toEqual(reference.pack_index.flat());
    const weight = layout.batchVisionFeeds!.pack_weight!.data as Float32Array;
    expect(Math.max(...reference.pack_weight.flat().map((w, i) => Math.abs(w - weight[i]!)))).toBeLessThan(1e-6);

    // Item 0: a 96 x 40 image on a 2 x 3 canvas of 32 px tiles, pasted 12 px down; one token row of
    // 8 canvas px is cut off at the top and the bottom, leaving 6 rows of 12 tokens and a newline each.
    const tokens = layout.tokens[0]!.filter((t) => t.modality === 'image');
    const base = tokens.filter((t) => t.tile === 0);
    expect(base).toHaveLength(16);
    expect(base[5]!.box).toEqual([24, 10, 48, 20]);
    const grid = tokens.filter((t) => t.tile === 1);
    expect(grid).toHaveLength(6 * 13);
    const newlines = grid.filter((t) => t.patchRow === null);
    expect(newlines).toHaveLength(6);
    expect(newlines.every((t) => t.box === null && t.patchCol === null)).toBe(true);
    const cell = (r: number, c: number) => grid.find((t) => t.patchRow === r && t.patchCol === c)!.box;
    expect(cell(0, 0)).toEqual([0, 0, 8, 4]); // canvas rows 8..16 are image rows -4..4, clipped
    expect(cell(2, 5)).toEqual([40, 12, 48, 20]);
    expect(cell(5, 11)).toEqual([88, 36, 96, 40]);
    // Item 2 (96 x 96): 12 x 12 tokens downsampled to 8 x 8, each cell 12 px.
    const square = layout.tokens[2]!.filter((t) => t.tile === 1 && t.patchRow === 7 && t.patchCol === 7);
    expect(square[0]!.box).toEqual([84, 84, 96, 96]);
    // The vision tower's own tiles (vision taps): the base view, then the canvas tiles, reaching into the padding.
    expect(vlm.family.tiles(layout.images[0]![0]!).map((t) => t.rect)).toEqual([
      [0, 0, 96, 40],
      [0, -12, 32, 20],
      [32, -12, 64, 20],
      [64, -12, 96, 20],
      [0, 20, 32, 52],
      [32, 20, 64, 52],
      [64, 20, 96, 52],
    ]);
  });

  it('ocular model inspect says what Ocular does with it', () => {
    const report = inspectModel(DIR);
    expect(report.modelType).toBe('llava_onevision');
    expect(report.capabilities!.generate).toEqual({
      ok: true,
      detail:
        'llava_onevision: greedy and sampled generation (anyres tiles with unpadding, anyres_max downsampling and newline tokens; one image per prompt)',
    });
    expect(report.capabilities!.harvest.ok).toBe(true);
    expect(report.capabilities!.harvest.detail).toMatch(/2 decoder blocks \+ 2 vision blocks|2 vision blocks \+ 2 decoder blocks/);
    expect(report.capabilities!.edit.ok).toBe(true);
  });

  it('refuses a LLaVA-OneVision vision graph that cannot apply the packing plan', async () => {
    const { readModel, writeModel } = await import('../../src-main/core/onnx/model-io');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-ov-'));
    try {
      const copy = path.join(dir, 'tiny-ov');
      fs.cpSync(DIR, copy, { recursive: true });
      const file = path.join(copy, 'onnx', 'vision_encoder.onnx');
      const model = readModel(file);
      model.graph.input = model.graph.input.filter((i) => i.name !== 'pack_index');
      writeModel(model, file);
      await expect(VlmPipeline.load(copy, pool, 'cpu')).rejects.toThrow(
        'a llava_onevision vision graph without pack_index / pack_weight inputs: packing a plain per-tile export',
      );
      expect(inspectModel(copy).capabilities!.generate).toEqual({
        ok: false,
        detail: expect.stringContaining('its vision graph takes no pack_index / pack_weight inputs'),
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
