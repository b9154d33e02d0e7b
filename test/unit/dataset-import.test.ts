import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { synthesizeBenchmark } from '../../src-main/core/benchmark/synth';
import { readDatasetFolder } from '../../src-main/core/datasets/dataset-folder';
import { MAX_IMAGE_PIXELS } from '../../src-main/core/datasets/image-check';
import { DatasetStore } from '../../src-main/core/datasets/dataset-store';
import { Workspace } from '../../src-main/core/store/workspace';
import { tmpDir } from '../helpers/tmp';

const open: Workspace[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) ws.close();
});
function store() {
  const ws = Workspace.create(tmpDir());
  open.push(ws);
  return { ws, datasets: new DatasetStore(ws.db) };
}
const count = (ws: Workspace, table: string) => (ws.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

async function folder(files: Record<string, string>, images: string[] = ['a.png', 'b.png']): Promise<string> {
  const dir = tmpDir();
  for (const img of images) {
    fs.mkdirSync(path.dirname(path.join(dir, img)), { recursive: true });
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } })
      .png()
      .toFile(path.join(dir, img));
  }
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('dataset import', () => {
  it('imports a synth benchmark folder with its typed answers, tasks and scenes', async () => {
    const { dir } = await synthesizeBenchmark({ out: tmpDir(), seed: 5, perCell: 1 });
    const { ws, datasets } = store();
    const record = datasets.insert(await readDatasetFolder(dir), 'bench');
    expect(record).toMatchObject({ name: 'bench', source: 'synth', items: 21 });
    const items = datasets.items(record.id);
    expect(new Set(items.map((i) => i.task)).size).toBe(7);
    expect(items.every((i) => i.scene !== null && i.difficulty !== null)).toBe(true);
    expect(datasets.textChoices(record.id)).toEqual(expect.arrayContaining(['yes', 'no']));
    expect(count(ws, 'dataset_items')).toBe(21);
  });

  it('imports a user JSONL and a CSV (quoted fields, inferred answer types)', async () => {
    const jsonl = await folder({
      'data.jsonl': '{"image":"a.png","prompt":"How many?","answer":3}\n{"image":"b.png","question":"Colour?","answer":"red","id":"x"}\n',
    });
    const { datasets } = store();
    const a = datasets.insert(await readDatasetFolder(jsonl), 'mine');
    expect(datasets.items(a.id).map((i) => [i.key, i.answer])).toEqual([
      ['row-1', { type: 'integer', value: 3 }],
      ['x', { type: 'text', value: 'red' }],
    ]);
    const csv = await folder({
      'items.csv': 'image,question,answer,answer_type\na.png,"Is it red, or blue?",yes,text\nb.png,What fraction?,0.25,\n',
    });
    const b = datasets.insert(await readDatasetFolder(csv), 'csv');
    expect(datasets.items(b.id).map((i) => [i.question, i.answer])).toEqual([
      ['Is it red, or blue?', { type: 'text', value: 'yes' }],
      ['What fraction?', { type: 'float', value: 0.25 }],
    ]);
  });

  it('refuses malformed input with every problem named by row, and stores nothing', async () => {
    const { ws } = store();
    const dir = await folder(
      {
        'items.jsonl': [
          '{"image":"a.png","question":"ok?","answer":"yes"}',
          '{"image":"missing.png","question":"where?","answer":"no"}',
          'this is not json',
          '{"image":"b.png","answer":"red"}',
          '{"image":"../outside.png","question":"escape?","answer":1}',
          '{"image":"notimage.png","question":"broken?","answer":2}',
          '{"image":"a.png","question":"typed?","answer":"three","answer_type":"integer"}',
        ].join('\n'),
        'notimage.png': 'not a png at all',
      },
      ['a.png', 'b.png'],
    );
    fs.writeFileSync(path.join(path.dirname(dir), 'outside.png'), 'x');
    const err = await readDatasetFolder(dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(/was not imported \(6 problems\)/);
    expect(msg).toContain("items.jsonl line 2: image 'missing.png' not found");
    expect(msg).toContain('items.jsonl line 3: not valid JSON');
    expect(msg).toContain('items.jsonl line 4: no question (or prompt)');
    expect(msg).toContain("items.jsonl line 5: image '../outside.png' is outside the dataset folder");
    expect(msg).toContain("items.jsonl line 6: image 'notimage.png' is not a readable image");
    expect(msg).toContain("items.jsonl line 7: answer 'three' is not an integer");
    expect(count(ws, 'datasets')).toBe(0);
    expect(count(ws, 'dataset_items')).toBe(0);
  });

  it('names CSV rows counting the header, and a folder with no item list', async () => {
    const csv = await folder({ 'items.csv': 'image,question,answer\na.png,fine?,yes\nb.png,,no\n' });
    await expect(readDatasetFolder(csv)).rejects.toThrow(/items.csv row 3: no question/);
    await expect(readDatasetFolder(await folder({}))).rejects.toThrow(/has no items.jsonl or CSV file/);
  });

  it('rolls back a half-done insert (a duplicate key inside the transaction)', async () => {
    const { ws, datasets } = store();
    const dir = await folder({ 'items.jsonl': '{"image":"a.png","question":"q","answer":1}\n' });
    const parsed = await readDatasetFolder(dir);
    parsed.rows.push({ ...parsed.rows[0]! }); // same key twice: the UNIQUE constraint fails mid-insert
    expect(() => datasets.insert(parsed, 'dup')).toThrow(/UNIQUE/);
    expect(count(ws, 'datasets')).toBe(0);
    expect(count(ws, 'dataset_items')).toBe(0);
  });
});

describe('dataset images are decoded in full before anything is stored', () => {
  /** A PNG whose header claims width x height over one small IDAT: a decompression-bomb shape. */
  function pngClaiming(width: number, height: number): Buffer {
    const chunk = (type: string, data: Buffer) => {
      const head = Buffer.alloc(8);
      head.writeUInt32BE(data.length, 0);
      head.write(type, 4, 'latin1');
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0);
      return Buffer.concat([head, data, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
    const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    return Buffer.concat([
      signature,
      chunk('IHDR', ihdr),
      chunk('IDAT', zlib.deflateSync(Buffer.alloc(1000))),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  }

  it('refuses truncated PNG and JPEG files and an image over the pixel limit, naming the limit', async () => {
    const dir = tmpDir();
    const noise = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 251));
    const png = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toBuffer();
    const jpg = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } })
      .jpeg()
      .toBuffer();
    fs.writeFileSync(path.join(dir, 'ok.png'), png);
    fs.writeFileSync(path.join(dir, 'cut.png'), png.subarray(0, Math.floor(png.length * 0.6)));
    fs.writeFileSync(path.join(dir, 'cut.jpg'), jpg.subarray(0, Math.floor(jpg.length * 0.6)));
    fs.writeFileSync(path.join(dir, 'huge.png'), pngClaiming(20000, 20000));
    const images = ['ok.png', 'cut.png', 'cut.jpg', 'huge.png'];
    fs.writeFileSync(path.join(dir, 'items.jsonl'), images.map((image) => JSON.stringify({ image, question: 'q?', answer: 1 })).join('\n'));
    const { ws } = store();
    const err = await readDatasetFolder(dir).catch((e: Error) => e);
    const msg = (err as Error).message;
    expect(msg).toMatch(/\(3 problems\)/);
    expect(msg).toMatch(/line 2: image 'cut.png' does not decode .*truncated or corrupt/);
    expect(msg).toMatch(/line 3: image 'cut.jpg' does not decode .*truncated or corrupt/);
    expect(msg).toContain(
      `line 4: image 'huge.png' is 20000x20000 (400.0 megapixels), over the limit of ${(MAX_IMAGE_PIXELS / 1e6).toFixed(1)} megapixels`,
    );
    expect(count(ws, 'datasets')).toBe(0);
  });
});
