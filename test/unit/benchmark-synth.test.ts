import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { synthesizeBenchmark, type BenchmarkItem } from '../../src-main/core/benchmark/synth';
import { TASKS } from '../../src-main/core/benchmark/tasks';
import { center } from '../../src-main/core/benchmark/scene';
import { tmpDir } from '../helpers/tmp';

function digest(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (d: string) => {
    for (const f of fs.readdirSync(d).sort()) {
      const p = path.join(d, f);
      if (fs.statSync(p).isDirectory()) walk(p);
      else h.update(f).update(fs.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

/** Recomputes each answer from the scene ground truth, independently of the generator. */
function answerFromScene(it: BenchmarkItem): string | number {
  const objs = it.scene.objects;
  const q = it.question;
  let m: RegExpMatchArray | null;
  if ((m = q.match(/^What color is the (\w+)\?$/))) return objs.find((o) => o.shape === m![1])!.color;
  if ((m = q.match(/^What shape is in the (top|bottom) (left|right)\?$/))) {
    const w = it.scene.width;
    return objs.find((o) => {
      const [cx, cy] = center(o);
      return (cy < w / 2 ? 'top' : 'bottom') === m![1] && (cx < w / 2 ? 'left' : 'right') === m![2];
    })!.shape;
  }
  if ((m = q.match(/^How many more (\w+)s than (\w+)s are there\?$/)))
    return objs.filter((o) => o.shape === m![1]).length - objs.filter((o) => o.shape === m![2]).length;
  if ((m = q.match(/^How many (\w+) shapes are there\?$/))) return objs.filter((o) => o.color === m![1]).length;
  if ((m = q.match(/^How many (\w+) (\w+)s are there\?$/))) return objs.filter((o) => o.color === m![1] && o.shape === m![2]).length;
  if ((m = q.match(/^How many (\w+)s are there\?$/))) return objs.filter((o) => o.shape === m![1]).length;
  if ((m = q.match(/^What fraction of the shapes are (\w+)s\?$/)))
    return Math.round((objs.filter((o) => o.shape === m![1]).length / objs.length) * 1000) / 1000;
  const find = (c: string, s: string) => objs.filter((o) => o.color === c && o.shape === s);
  if ((m = q.match(/^Is there an? (\w+) (\w+)\?$/))) return find(m[1]!, m[2]!).length > 0 ? 'yes' : 'no';
  if ((m = q.match(/^Is the (\w+) (\w+) bigger than the (\w+) (\w+)\?$/)))
    return find(m[1]!, m[2]!)[0]!.bbox[2] > find(m[3]!, m[4]!)[0]!.bbox[2] ? 'yes' : 'no';
  if ((m = q.match(/^Is the (\w+) (\w+) (left of|right of|above|below) the (\w+) (\w+)\?$/))) {
    const [ax, ay] = center(find(m[1]!, m[2]!)[0]!);
    const [bx, by] = center(find(m[4]!, m[5]!)[0]!);
    const truth = { 'left of': ax < bx, 'right of': ax > bx, above: ay < by, below: ay > by }[m[3] as 'above'];
    return truth ? 'yes' : 'no';
  }
  throw new Error(`unrecognised question: ${q}`);
}

describe('synthetic benchmark', () => {
  it('covers 7 tasks x 3 difficulties, with typed answers that match the scene ground truth', async () => {
    const { items, dir } = await synthesizeBenchmark({ out: tmpDir(), seed: 7, perCell: 6 });
    expect(items).toHaveLength(7 * 3 * 6);
    for (const task of TASKS)
      for (const d of [1, 2, 3]) expect(items.filter((it) => it.task === task && it.difficulty === d)).toHaveLength(6);
    for (const it of items) expect(it.answer.value, `${it.id}: ${it.question}`).toEqual(answerFromScene(it));
    expect(new Set(items.map((it) => it.answer.type))).toEqual(new Set(['integer', 'float', 'text']));
    // Difficulty adds objects.
    const mean = (d: number) =>
      items.filter((it) => it.difficulty === d).reduce((n, it) => n + it.scene.objects.length, 0) /
      items.filter((it) => it.difficulty === d).length;
    expect(mean(1)).toBeLessThan(mean(2));
    expect(mean(2)).toBeLessThan(mean(3));
    const lines = fs.readFileSync(path.join(dir, 'items.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(items.length);
    expect(JSON.parse(lines[0]!)).toEqual(items[0]);
    const meta = await sharp(path.join(dir, items[0]!.image)).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([96, 96, 'png']);
    // The image shows the scene: the pixel at an object's centre has its colour, not the background.
    const { data, info } = await sharp(path.join(dir, items[0]!.image)).raw().toBuffer({ resolveWithObject: true });
    const o = items[0]!.scene.objects[0]!;
    const [cx, cy] = center(o).map(Math.floor) as [number, number];
    const px = Array.from(data.subarray((cy * info.width + cx) * info.channels, (cy * info.width + cx) * info.channels + 3));
    expect(px).not.toEqual([245, 245, 245]);
  });

  it('is byte-for-byte deterministic per seed, differs across seeds, and keeps earlier items when growing', async () => {
    const a = tmpDir();
    const b = tmpDir();
    const c = tmpDir();
    await synthesizeBenchmark({ out: a, seed: 42, perCell: 2 });
    await synthesizeBenchmark({ out: b, seed: 42, perCell: 2 });
    await synthesizeBenchmark({ out: c, seed: 43, perCell: 2 });
    expect(digest(a)).toBe(digest(b));
    expect(digest(a)).not.toBe(digest(c));
    const grown = await synthesizeBenchmark({ out: tmpDir(), seed: 42, perCell: 3 });
    const first = fs
      .readFileSync(path.join(a, 'items.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as BenchmarkItem);
    for (const it of first) expect(grown.items.find((g) => g.id === it.id)).toEqual(it);
  });
});

describe('ocular dataset synth', () => {
  it('writes the benchmark folder and reports it', async () => {
    const { runCli } = await import('../helpers/cli');
    const out = path.join(tmpDir(), 'bench');
    const res = await runCli(['dataset', 'synth', '--out', out, '--seed', '3', '--per-cell', '2', '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ items: 42, seed: 3, perCell: 2, imageSize: 96 });
    expect(fs.readdirSync(path.join(out, 'images'))).toHaveLength(42);
    const bad = await runCli(['dataset', 'synth', '--out', out, '--per-cell', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--per-cell must be a non-negative integer/);
  });
});
