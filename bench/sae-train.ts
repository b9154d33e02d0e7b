/**
 * `npm run bench:sae`: SAE training throughput of Ocular's ONNX training graph against a plain
 * PyTorch implementation of the same SAE and optimiser (tools/sae_bench_reference.py), both run
 * on this machine in this run. Fixed config: d_in 512, 8x expansion, TopK k=32, batch 1024, Adam.
 * Ocular is timed as training runs it (chunks of steps per call in the session pool's process,
 * state crossing processes once per chunk) and, for reference, in-process with one step per call.
 *   scripts/run-ts.sh bench/sae-train.ts [steps]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { writeModel } from '../src-main/core/onnx/model-io';
import { SessionPool } from '../src-main/core/runtime/session-pool';
import { initialWeights } from '../src-main/core/sae/init';
import { SAE_PARAMS, saeTrainChunkGraph, stateDims, stateNames, trainSpec } from '../src-main/core/sae/train-graph';
import { mulberry32 } from '../src-main/core/util/random';

const root = process.cwd();
const STEPS = Number(process.argv[2] ?? 40);
const D_IN = 512;
const EXPANSION = 8;
const K = 32;
const BATCH = 1024;
const CHUNK = 8;

// AuxK off on both sides: the reference is the plain TopK SAE + Adam + unit-norm decoder step.
const spec = trainSpec({ architecture: 'topk', dIn: D_IN, dSae: D_IN * EXPANSION, k: K, auxK: 0 });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-bench-sae-'));
const graphFile = path.join(dir, 'train.onnx');
writeModel(saeTrainChunkGraph(spec), graphFile);

const rand = mulberry32(1);
const data = Float32Array.from(
  { length: 8 * BATCH * D_IN },
  () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand()),
);
const dims = stateDims(spec);
const names = stateNames(spec);
function freshState(): Record<string, Float32Array> {
  const { W_enc, W_dec } = initialWeights(D_IN, D_IN, spec.dSae, 0);
  const s: Record<string, Float32Array> = { W_enc, W_dec, b_enc: new Float32Array(spec.dSae), b_dec: new Float32Array(D_IN) };
  for (const p of SAE_PARAMS) {
    s[`m_${p}`] = new Float32Array(s[p]!.length);
    s[`v_${p}`] = new Float32Array(s[p]!.length);
  }
  s.last_fired = new Float32Array(spec.dSae);
  s.fire_counts = new Float32Array(spec.dSae);
  return s;
}
type Feeds = Record<string, { type: 'float32'; dims: number[]; data: Float32Array }>;
function feeds(state: Record<string, Float32Array>, step: number, steps: number): Feeds {
  const f: Feeds = {
    xs: { type: 'float32', dims: [steps, BATCH, D_IN], data: data.subarray(0, steps * BATCH * D_IN) },
    lrs: { type: 'float32', dims: [steps], data: new Float32Array(steps).fill(4e-4) },
    t0: { type: 'float32', dims: [], data: Float32Array.of(step) },
    dead_after: { type: 'float32', dims: [], data: Float32Array.of(1e9) },
  };
  for (const n of names) f[`in_${n}`] = { type: 'float32', dims: dims[n]!, data: state[n]! };
  return f;
}

async function time(label: string, chunk: number, run: (f: Feeds) => Promise<Record<string, { data: unknown }>>): Promise<number> {
  let state = freshState();
  const once = async (step: number) => {
    const out = await run(feeds(state, step, chunk));
    if (out.out_W_enc) state = Object.fromEntries(names.map((n) => [n, out[`out_${n}`]!.data as Float32Array]));
  };
  await once(0); // warm up
  const t0 = performance.now();
  for (let step = 0; step < STEPS; step += chunk) await once(step + chunk);
  const seconds = (performance.now() - t0) / 1000;
  const stepsPerS = STEPS / seconds;
  console.log(`${label}: ${stepsPerS.toFixed(2)} steps/s, ${(stepsPerS * BATCH).toFixed(0)} tokens/s`);
  return stepsPerS;
}

console.log(`SAE training benchmark: d_in ${D_IN}, d_sae ${spec.dSae}, TopK k=${K}, batch ${BATCH}, Adam; ${STEPS} timed steps`);
const pool = new SessionPool({ hostEntry: path.join(root, 'out', 'node', 'session-host.mjs'), size: 1 });
const handle = await pool.load(graphFile, 'cpu');
// As the training job does: state sent once, then carried in the pool process (read back at checkpoints only).
let sent = false;
const carry = { key: 'bench', pairs: names.map((n) => [`out_${n}`, `in_${n}`] as [string, string]) };
const ours = await time(`ocular (session pool, ${CHUNK} steps per call, state kept in the pool process, as training runs)`, CHUNK, (f) => {
  const slim = sent ? Object.fromEntries(Object.entries(f).filter(([k]) => !k.startsWith('in_'))) : f;
  sent = true;
  return pool.run(handle, slim, undefined, carry);
});
await pool.close();
const session = await ort.InferenceSession.create(graphFile, { executionProviders: ['cpu'] });
const toOrt = (f: Feeds) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));
await time(
  `ocular (in-process, ${CHUNK} steps per call)`,
  CHUNK,
  (f) => session.run(toOrt(f)) as Promise<Record<string, { data: unknown }>>,
);
await time('ocular (in-process, 1 step per call)', 1, (f) => session.run(toOrt(f)) as Promise<Record<string, { data: unknown }>>);
fs.rmSync(dir, { recursive: true, force: true });

const venv = path.join(root, 'tools', '.venv', 'bin', 'python');
const python = [process.env.OCULAR_PYTHON, venv, 'python3'].find((p) => p && (p === 'python3' || fs.existsSync(p)))!;
const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.log(`PyTorch reference skipped: ${python} cannot import torch (set OCULAR_PYTHON to a Python with torch to compare).`);
} else {
  const ref = spawnSync(
    python,
    [
      path.join(root, 'tools', 'sae_bench_reference.py'),
      '--d-in',
      String(D_IN),
      '--expansion',
      String(EXPANSION),
      '--k',
      String(K),
      '--batch',
      String(BATCH),
      '--steps',
      String(STEPS),
    ],
    { encoding: 'utf8' },
  );
  if (ref.status !== 0) throw new Error(`PyTorch reference failed: ${ref.stderr}`);
  const r = JSON.parse(ref.stdout.trim().split('\n').at(-1)!) as { steps_per_s: number; tokens_per_s: number; threads: number };
  console.log(`pytorch reference (${r.threads} threads): ${r.steps_per_s.toFixed(2)} steps/s, ${r.tokens_per_s.toFixed(0)} tokens/s`);
  console.log(`ratio ocular / pytorch: ${(ours / r.steps_per_s).toFixed(2)}x (target >= 1.0x on CPU)`);
}
