/**
 * Writes an edited graph (see surgery.ts) beside the original, sharing its external weight files,
 * cached by a content hash of the original graph, the edit spec and any SAE weights. Where the
 * model folder is read-only, the edited graph goes to a cache folder holding links to the original
 * weight files, so onnxruntime still resolves every external-data path relative to the graph.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { externalDataLocations, readModel, writeModel, type ModelProto } from './model-io.js';
import { sliceToLogits } from './slice.js';
import { applySurgery, type SurgerySpec } from './surgery.js';
import { discoverTowerTaps } from './taps.js';

export interface EditedGraph {
  path: string;
  addedInputs: string[];
  addedOutputs: string[];
  cached: boolean;
}

/** Bumped whenever surgery changes what it writes, so cached edited graphs from older versions are not reused. */
const SURGERY_VERSION = 4;

export function specHash(graphBytes: Uint8Array, spec: SurgerySpec, tapPrefix: string): string {
  const h = crypto.createHash('sha256');
  h.update(`ocular-surgery-v${SURGERY_VERSION}`);
  h.update(graphBytes);
  h.update(
    JSON.stringify({
      tapPrefix,
      expose: spec.expose ?? [],
      steer: spec.steer ?? [],
      exposeTensors: spec.exposeTensors ?? [],
      transcoders: (spec.transcoderEdits ?? []).map((e) => ({
        id: e.id,
        inTap: e.inTap,
        outTap: e.outTap,
        arch: e.sae.architecture,
        k: e.sae.k,
        ...(e.clamp ? { clamp: true } : {}),
      })),
      sae: (spec.saeEdits ?? []).map((e) => ({
        id: e.id,
        tap: e.tap,
        arch: e.sae.architecture,
        k: e.sae.k,
        dIn: e.sae.dIn,
        dSae: e.sae.dSae,
        b: e.sae.applyBDecToInput,
      })),
    }),
  );
  for (const e of [...(spec.saeEdits ?? []), ...(spec.transcoderEdits ?? [])]) {
    for (const t of [e.sae.W_enc, e.sae.b_enc, e.sae.W_dec, e.sae.b_dec, e.sae.threshold, e.sae.W_skip])
      if (t) h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** Writable for us, and not marked read-only by its owner (root passes access checks regardless). */
function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return (fs.statSync(dir).mode & 0o222) !== 0;
  } catch {
    return false;
  }
}

/** An edited graph outside its model folder reaches the weight files through links beside it. */
function linkWeights(model: ModelProto, sourceDir: string, targetDir: string): void {
  fs.mkdirSync(targetDir, { recursive: true });
  if (targetDir === sourceDir) return;
  for (const loc of externalDataLocations(model)) {
    const link = path.join(targetDir, loc);
    if (!fs.existsSync(link)) {
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(path.resolve(sourceDir, loc), link);
    }
  }
}

/**
 * The part of a decoder graph from its last residual-stream tap to the logits (final norm and
 * unembedding, with the model's own weights): input `resid` [batch, seq, d], output `logits`.
 * Used for logit effects of feature directions. Written beside the model, or in the cache folder.
 */
export function writeUnembedGraph(graphFile: string, options: { cacheDir: string }): { path: string; inputType: number } {
  const bytes = fs.readFileSync(graphFile);
  const hash = crypto.createHash('sha256').update(`ocular-unembed-v${SURGERY_VERSION}`).update(bytes).digest('hex').slice(0, 16);
  const stem = path.basename(graphFile, '.onnx');
  const sourceDir = path.dirname(graphFile);
  const targetDir = writable(sourceDir) ? sourceDir : path.join(options.cacheDir, `${stem}-${hash}`);
  const target = path.join(targetDir, `${stem}.ocular-unembed-${hash}.onnx`);
  const model = readModel(graphFile);
  const sliced = sliceToLogits(model);
  if (!fs.existsSync(target)) {
    linkWeights(model, sourceDir, targetDir);
    writeModel(sliced.model, target);
  }
  return { path: target, inputType: sliced.inputType };
}

export function writeEditedGraph(graphFile: string, spec: SurgerySpec, options: { tapPrefix?: string; cacheDir: string }): EditedGraph {
  const bytes = fs.readFileSync(graphFile);
  const prefix = options.tapPrefix ?? '';
  const hash = specHash(bytes, spec, prefix);
  const stem = path.basename(graphFile, '.onnx');
  const sourceDir = path.dirname(graphFile);
  const targetDir = writable(sourceDir) ? sourceDir : path.join(options.cacheDir, `${stem}-${hash}`);
  const target = path.join(targetDir, `${stem}.ocular-${hash}.onnx`);
  const manifest = `${target}.json`;
  if (fs.existsSync(target) && fs.existsSync(manifest)) {
    const saved = JSON.parse(fs.readFileSync(manifest, 'utf8')) as Omit<EditedGraph, 'path' | 'cached'>;
    return { path: target, ...saved, cached: true };
  }
  const model = readModel(graphFile);
  const tower = discoverTowerTaps(model.graph, prefix);
  if (!tower) throw new Error(`${graphFile}: no residual stream found, so no taps can be edited.`);
  const saeFile = `${stem}.ocular-${hash}.sae.onnx_data`;
  const result = applySurgery(model, tower, spec, saeFile);
  linkWeights(model, sourceDir, targetDir);
  if (result.saeData) writeFileAtomic(path.join(targetDir, saeFile), result.saeData);
  writeModel(result.model, target);
  writeFileAtomic(manifest, JSON.stringify({ addedInputs: result.addedInputs, addedOutputs: result.addedOutputs }));
  return { path: target, addedInputs: result.addedInputs, addedOutputs: result.addedOutputs, cached: false };
}
