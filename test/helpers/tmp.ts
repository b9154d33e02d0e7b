import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

const made: string[] = [];

/** A fresh temporary folder, removed after the test. */
export function tmpDir(prefix = 'ocular-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The bundled job worker built by the global setup. */
export const workerEntry = path.join(repoRoot, 'out', 'node', 'job-worker.mjs');
/** The bundled one-off task worker entry. */
export const taskWorkerEntry = path.join(repoRoot, 'out', 'node', 'task-worker.mjs');
/** The bundled session-pool host process entry. */
export const sessionHostEntry = path.join(repoRoot, 'out', 'node', 'session-host.mjs');

/**
 * The real Gemma-3-4B-it graphs (no weights) kept beside the repository in shared/fixtures.
 * OCULAR_REAL_GRAPHS overrides the location (of this folder; the others are found beside it).
 */
export function gemmaGraphsDir(): string {
  const dir = process.env.OCULAR_REAL_GRAPHS ?? path.resolve(repoRoot, '..', 'shared', 'fixtures', 'real-graphs', 'gemma-3-4b-it');
  if (!fs.existsSync(path.join(dir, 'decoder_model_merged.onnx'))) {
    throw new Error(
      `The real Gemma-3 graph fixture is missing at ${dir}: check out shared/ beside the repository or set OCULAR_REAL_GRAPHS.`,
    );
  }
  return dir;
}

/** The real Qwen3.5-0.8B transformers.js export (graphs and configs, no weights), beside the Gemma-3 graphs. */
export function qwen35GraphsDir(): string {
  const dir = path.join(path.dirname(gemmaGraphsDir()), 'qwen3.5-0.8b');
  if (!fs.existsSync(path.join(dir, 'onnx', 'decoder_model_merged_quantized.onnx')))
    throw new Error(`The real Qwen3.5 graph fixture is missing at ${dir}: check out shared/ beside the repository.`);
  return dir;
}
