/**
 * onnxruntime-node loads only in session-pool processes: a VLM job's processor and tokenizer
 * (transformers.js) run in a job worker thread without pulling in the native addon, and a
 * transformers.js model class refuses instead of running ONNX Runtime in the calling thread.
 * The whole suite also runs under test/helpers/native-guard.cjs (vitest.config.ts), so any test
 * that makes a worker thread load onnxruntime-node fails.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadTransformers } from '../../src-main/core/vlm/processor';
import { ocularBin } from '../helpers/cli';
import { repoRoot, tmpDir } from '../helpers/tmp';

const LLAVA = path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-llava');
const IDEFICS3 = path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-idefics3');
const guard = path.join(repoRoot, 'test', 'helpers', 'native-guard.cjs');

function runGuarded(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--require', guard, ocularBin, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('onnxruntime-node stays in pool processes', () => {
  it('a VLM job preprocesses in a worker thread without loading it, and generates through the pool', async () => {
    const log = path.join(tmpDir(), 'native.log');
    const image = path.join(LLAVA, 'test-images', '0.png');
    const args = ['model', 'generate', LLAVA, '--image', image, '--prompt', 'what shape is it ?', '--max-new-tokens', '2'];
    const res = await runGuarded([...args, '--device', 'cpu', '--json'], { OCULAR_NATIVE_GUARD: 'pool-only', OCULAR_NATIVE_LOG: log });
    expect(res.stderr).not.toMatch(/onnxruntime-node was loaded/);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).outputs[0].tokenIds.length).toBeGreaterThan(0);
    const loads = fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { pid: number; thread: number; entry: string; addon: string });
    // The image went through sharp in a worker thread: the guard was there when transformers.js loaded.
    expect(loads.some((l) => l.thread > 0 && l.addon.startsWith('sharp'))).toBe(true);
    const ort = loads.filter((l) => l.addon.startsWith('onnxruntime'));
    expect(ort.length).toBeGreaterThan(0);
    expect(ort.every((l) => l.entry === 'session-host.mjs' && l.thread === 0)).toBe(true);
  });

  it('transformers.js model classes refuse to run outside the pool', async () => {
    const tf: any = await loadTransformers();
    tf.env.localModelPath = `${path.dirname(LLAVA)}${path.sep}`;
    await expect(
      tf.LlavaForConditionalGeneration.from_pretrained(path.basename(LLAVA), { local_files_only: true, dtype: 'fp32', device: 'cpu' }),
    ).rejects.toThrow(/ONNX Runtime is not loaded in this thread: Ocular runs models only in its session-pool processes/);
  });
});

/** A random RGB image, so resizing has real work to do. */
async function randomImage(file: string, width: number, height: number, seed: number): Promise<void> {
  const pixels = Buffer.alloc(width * height * 3);
  let s = seed;
  for (let i = 0; i < pixels.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    pixels[i] = s >>> 24;
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(file);
}

describe('in-processor operator graphs without onnxruntime-node', () => {
  it("Idefics3's resize gives the same pixel values on WebAssembly as natively", async () => {
    const dir = tmpDir();
    const images = [path.join(dir, 'a.png'), path.join(dir, 'b.png')];
    await randomImage(images[0]!, 211, 157, 1);
    await randomImage(images[1]!, 97, 300, 2);
    const transformersUrl = pathToFileURL(createRequire(import.meta.url).resolve('@huggingface/transformers')).href;
    // The same processing in a plain Node process, where transformers.js loads onnxruntime-node itself.
    const script = `
      const tf = await import(${JSON.stringify(transformersUrl)});
      tf.env.allowRemoteModels = false;
      tf.env.localModelPath = ${JSON.stringify(`${path.dirname(IDEFICS3)}${path.sep}`)};
      const p = await tf.AutoProcessor.from_pretrained(${JSON.stringify(path.basename(IDEFICS3))}, { local_files_only: true });
      const out = [];
      for (const file of ${JSON.stringify(images)}) out.push(Array.from((await p('<image>', [await tf.RawImage.read(file)])).pixel_values.data));
      process.stdout.write(JSON.stringify(out));`;
    const native = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as number[][];

    const tf: any = await loadTransformers();
    tf.env.localModelPath = `${path.dirname(IDEFICS3)}${path.sep}`;
    const processor = await tf.AutoProcessor.from_pretrained(path.basename(IDEFICS3), { local_files_only: true });
    for (const [i, file] of images.entries()) {
      const ours = Array.from((await processor('<image>', [await tf.RawImage.read(file)])).pixel_values.data as Float32Array);
      expect(ours.length).toBe(native[i]!.length);
      expect(ours).toEqual(native[i]);
    }
  });
});
