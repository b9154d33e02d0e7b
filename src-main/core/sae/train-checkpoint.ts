/**
 * Training state and its checkpoints: the parameters, Adam moments and firing bookkeeping start from
 * SAELens-style initial weights, and are written as one safetensors file (with the step and the
 * activation scales as metadata), so a resumed run continues exactly where the checkpoint left it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ShuffleLayout, ShufflePosition } from '../harvest/shuffle-buffer.js';
import { initialWeights } from './init.js';
import { readSafetensors, writeSafetensors, type Tensor } from './safetensors.js';
import { SAE_PARAMS, type SaeTrainSpec } from './train-graph.js';

export type TrainState = Record<string, Float32Array>;

/** A fresh run's state: initial weights, b_dec as given (zeros, the target's mean or geometric median: see train-data.ts), zero moments. */
export function initialState(spec: SaeTrainSpec, bDec: Float32Array, seed: number): TrainState {
  const { W_enc, W_dec } = initialWeights(spec.dIn, spec.dOut, spec.dSae, seed);
  const state: TrainState = { W_enc, b_enc: new Float32Array(spec.dSae), W_dec, b_dec: bDec };
  for (const name of SAE_PARAMS) {
    state[`m_${name}`] = new Float32Array(state[name]!.length);
    state[`v_${name}`] = new Float32Array(state[name]!.length);
  }
  state.last_fired = new Float32Array(spec.dSae);
  state.fire_counts = new Float32Array(spec.dSae);
  state.threshold = new Float32Array(1);
  return state;
}

export interface Checkpoint {
  step: number;
  /** Activation scales the run trains with (1 when it trains on raw activations). */
  scaleIn: number;
  scaleOut: number;
  state: TrainState;
  /** The shuffle buffer's layout and position after `step` (absent in checkpoints written before streaming). */
  shuffle?: { layout: ShuffleLayout; position: ShufflePosition };
}

/** The checkpoint in `dir`, or null when there is none. */
export function readCheckpoint(dir: string): Checkpoint | null {
  const file = path.join(dir, 'checkpoint.safetensors');
  if (!fs.existsSync(file)) return null;
  const c = readSafetensors(file);
  const state: TrainState = {};
  for (const [name, t] of c.tensors) state[name] = t.data;
  return {
    step: Number(c.metadata.step),
    scaleIn: Number(c.metadata.scaleIn ?? 1),
    scaleOut: Number(c.metadata.scaleOut ?? 1),
    state,
    ...(c.metadata.shuffle ? { shuffle: JSON.parse(c.metadata.shuffle) as Checkpoint['shuffle'] } : {}),
  };
}

/** Write the state (the tensors named, plus the BatchTopK threshold whatever the architecture, so every checkpoint has the same tensors). */
export function writeCheckpoint(dir: string, c: Checkpoint, names: string[], dims: Record<string, number[]>): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensors: Record<string, Tensor> = {};
  for (const name of new Set([...names, 'threshold']))
    tensors[name] = { shape: name === 'threshold' ? [1] : dims[name]!, data: c.state[name]! };
  writeSafetensors(path.join(dir, 'checkpoint.safetensors'), tensors, {
    step: String(c.step),
    scaleIn: String(c.scaleIn),
    scaleOut: String(c.scaleOut),
    ...(c.shuffle ? { shuffle: JSON.stringify(c.shuffle) } : {}),
  });
}
