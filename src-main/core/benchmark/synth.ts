/**
 * `ocular dataset synth`: the offline, seeded benchmark, written as a plain dataset folder that any
 * tool can read: images/*.png, items.jsonl (one item per line: id, task, difficulty, image,
 * question, answer, scene) and dataset.json (what generated it). Each item draws from its own
 * random stream (seed, task, difficulty, index), so the same seed gives byte-identical files and
 * adding items per cell never changes the earlier ones.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadSharp } from '../util/sharp.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { mulberry32 } from '../util/random.js';
import { sceneSvg } from './scene.js';
import { TASKS, generateItem, type Answer, type Difficulty, type Task } from './tasks.js';
import type { Scene } from './scene.js';

export const GENERATOR_VERSION = 1;

export interface BenchmarkItem {
  id: string;
  task: Task;
  difficulty: Difficulty;
  image: string;
  question: string;
  answer: Answer;
  scene: Scene;
}

export interface SynthOptions {
  out: string;
  seed: number;
  perCell: number;
  imageSize?: number;
  onProgress?: (done: number, total: number) => void;
}

function itemSeed(seed: number, task: Task, difficulty: number, index: number): number {
  const h = crypto.createHash('sha256').update(`${seed}:${task}:${difficulty}:${index}`).digest();
  return h.readUInt32LE(0);
}

export async function synthesizeBenchmark(options: SynthOptions): Promise<{ items: BenchmarkItem[]; dir: string }> {
  const sharp = await loadSharp();
  const size = options.imageSize ?? 96;
  const dir = path.resolve(options.out);
  fs.mkdirSync(path.join(dir, 'images'), { recursive: true });
  const items: BenchmarkItem[] = [];
  const total = TASKS.length * 3 * options.perCell;
  for (const task of TASKS) {
    for (const difficulty of [1, 2, 3] as const) {
      for (let i = 0; i < options.perCell; i++) {
        const generated = generateItem(mulberry32(itemSeed(options.seed, task, difficulty, i)), task, difficulty, size);
        const id = `${task}-d${difficulty}-${String(i).padStart(5, '0')}`;
        const image = `images/${id}.png`;
        // No timestamps or text in the PNG: identical SVG in, identical bytes out.
        const png = await sharp(Buffer.from(sceneSvg(generated.scene)))
          .png({ compressionLevel: 9, adaptiveFiltering: false })
          .toBuffer();
        writeFileAtomic(path.join(dir, image), png);
        items.push({ id, task, difficulty, image, question: generated.question, answer: generated.answer, scene: generated.scene });
        options.onProgress?.(items.length, total);
      }
    }
  }
  writeFileAtomic(path.join(dir, 'items.jsonl'), items.map((it) => JSON.stringify(it)).join('\n') + '\n');
  writeFileAtomic(
    path.join(dir, 'dataset.json'),
    JSON.stringify(
      {
        name: `ocular-synth-seed${options.seed}`,
        generator: 'ocular dataset synth',
        generatorVersion: GENERATOR_VERSION,
        seed: options.seed,
        perCell: options.perCell,
        imageSize: size,
        tasks: TASKS,
        difficulties: [1, 2, 3],
        items: items.length,
      },
      null,
      2,
    ) + '\n',
  );
  return { items, dir };
}
