/**
 * Patch boxes that stay true under dynamic resolution: a colour-reading probe, trained on the image
 * tokens of tiny Qwen2.5-VL with labels taken from each token's box (does it lie on a red square?),
 * peaks on the red square of a new non-square image. The processor resizes every image here to a
 * multiple of 16 px with a different scale per axis, so a box that ignored the resize, swapped rows
 * and columns or mis-ordered the 2x2 merge would teach the probe the wrong tokens and miss the square.
 * The same on tiny LLaVA-OneVision, whose anyres processor resizes keeping the aspect ratio, pads, tiles,
 * and whose model unpads, downsamples and adds newline tokens (which carry no box and are skipped).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainLogistic } from '../../src-main/core/probes/logistic';
import { SessionPool } from '../../src-main/core/runtime/session-pool';
import type { Box } from '../../src-main/core/vlm/patch-layout';
import { VlmPipeline } from '../../src-main/core/vlm/pipeline';
import { loadTransformers } from '../../src-main/core/vlm/processor';
import { mulberry32 } from '../../src-main/core/util/random';
import { repoRoot, sessionHostEntry } from '../helpers/tmp';

let pool: SessionPool;
beforeAll(() => {
  pool = new SessionPool({ hostEntry: sessionHostEntry, size: 1 });
});
afterAll(async () => {
  await pool.close();
});

interface Square {
  x: number;
  y: number;
  side: number;
}

async function picture(width: number, height: number, square: Square) {
  const { RawImage } = await loadTransformers();
  const data = new Uint8ClampedArray(width * height * 3).fill(128);
  for (let y = square.y; y < square.y + square.side; y++)
    for (let x = square.x; x < square.x + square.side; x++) data.set([230, 30, 30], (y * width + x) * 3);
  return new RawImage(data, width, height, 3);
}

/** The fraction of a box covered by the square. */
function coverage(box: Box, s: Square): number {
  const w = Math.max(0, Math.min(box[2], s.x + s.side) - Math.max(box[0], s.x));
  const h = Math.max(0, Math.min(box[3], s.y + s.side) - Math.max(box[1], s.y));
  return (w * h) / ((box[2] - box[0]) * (box[3] - box[1]));
}

/** Image tokens' input embeddings (the merged vision features) with their boxes. */
async function imageTokens(vlm: VlmPipeline, image: unknown) {
  const prefix = await vlm.prepare([{ image, prompt: 'what color is the square ?' }]);
  const out: Array<{ x: Float32Array; box: Box }> = [];
  prefix.tokens[0]!.forEach((t, i) => {
    if (t.modality === 'image' && t.box) out.push({ x: prefix.embeds.slice(i * prefix.width, (i + 1) * prefix.width), box: t.box! });
  });
  return out;
}

interface Case {
  fixture: string;
  sizes: Array<[number, number]>;
  side: number;
  test: { width: number; height: number; square: Square };
}

const CASES: Record<string, Case> = {
  // The processor resizes to 80 x 48 (x 0.73, y 0.75); the square right of centre and high.
  'Qwen2.5-VL (resize per axis, 2x2 merge)': {
    fixture: 'tiny-qwen2_5_vl',
    sizes: [
      [100, 60],
      [60, 100],
      [90, 70],
      [120, 50],
    ],
    side: 40,
    test: { width: 110, height: 64, square: { x: 62, y: 6, side: 42 } },
  },
  // Anyres: a base view resized to 32 x 32 plus a grid pinpoint's tiles, the image resized keeping its
  // aspect ratio and padded, the padding's token rows cut off, and grids of over 4 tiles' tokens
  // downsampled bilinearly; 88 x 48 goes on a 64 x 96 canvas at 96 x 53 (pasted 5 px down).
  'LLaVA-OneVision (anyres tiles, unpadding, newline tokens)': {
    fixture: 'tiny-llava_onevision',
    sizes: [
      [90, 50],
      [50, 90],
      [80, 60],
      [96, 40],
    ],
    side: 24,
    test: { width: 88, height: 48, square: { x: 52, y: 6, side: 26 } },
  },
};

for (const [name, c] of Object.entries(CASES))
  describe(`patch boxes under resizing: ${name}`, () => {
    it('a probe trained on box labels finds a red square in a new non-square image', async () => {
      const vlm = await VlmPipeline.load(path.join(repoRoot, 'test', 'fixtures', 'vlm', c.fixture), pool, 'cpu');
      const rand = mulberry32(7);
      const sizes = c.sizes;
      const xs: Float32Array[] = [];
      const ys: number[] = [];
      for (let k = 0; k < 24; k++) {
        const [w, h] = sizes[k % sizes.length]!;
        const side = c.side;
        const square = { x: Math.floor(rand() * (w - side)), y: Math.floor(rand() * (h - side)), side };
        for (const t of await imageTokens(vlm, await picture(w, h, square))) {
          const c = coverage(t.box, square);
          if (c > 0 && c < 0.8) continue; // tokens partly on the square teach nothing either way
          xs.push(t.x);
          ys.push(c >= 0.8 ? 1 : 0);
        }
      }
      expect(ys.filter((y) => y === 1).length).toBeGreaterThan(10);
      const dim = xs[0]!.length;
      const x = new Float32Array(xs.length * dim);
      xs.forEach((row, i) => x.set(row, i * dim));
      const probe = trainLogistic(x, Int32Array.from(ys), 2, { epochs: 300, l2: 1e-3 });
      const score = (row: Float32Array) => {
        let s = 0;
        for (let i = 0; i < dim; i++) {
          const z = (row[i]! - probe.mean[i]!) / probe.std[i]!;
          s += z * (probe.w[i * 2 + 1]! - probe.w[i * 2]!);
        }
        return s + probe.w[dim * 2 + 1]! - probe.w[dim * 2]!;
      };

      // A new non-square image with the square at a known place.
      const square = c.test.square;
      const tokens = await imageTokens(vlm, await picture(c.test.width, c.test.height, square));
      const scores = tokens.map((t) => score(t.x));
      const best = tokens[scores.indexOf(Math.max(...scores))]!;
      // The map peaks on the square: the best token's box lies on it (the square's centre is in it, with cells
      // as large as Qwen's 16 px; OneVision's grid cells are 7 x 7 px, several of them wholly on the square).
      expect(coverage(best.box, square)).toBeGreaterThanOrEqual(0.8);
      const [cx, cy] = [square.x + square.side / 2, square.y + square.side / 2];
      if (c.fixture === 'tiny-qwen2_5_vl')
        expect(best.box[0] <= cx && cx <= best.box[2] && best.box[1] <= cy && cy <= best.box[3]).toBe(true);
      // And the probe's map is high on the square and low away from it.
      const on = tokens.filter((t) => coverage(t.box, square) >= 0.8).map((t) => score(t.x));
      const off = tokens.filter((t) => coverage(t.box, square) === 0).map((t) => score(t.x));
      expect(Math.min(...on)).toBeGreaterThan(Math.max(...off));
    });
  });
