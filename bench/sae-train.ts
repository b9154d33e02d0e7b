/**
 * `npm run bench:sae` (CPU) and `npm run bench:gpu` (CUDA): SAE training throughput of Ocular's
 * trainer against plain PyTorch (tools/sae_bench_reference.py) in the same run, rounds interleaved
 * (ours, dense PyTorch, sparse-decode PyTorch, ours, …) so machine noise hits all sides alike; the
 * median of the per-round ratios is reported with its range.
 *
 * Ours runs as training runs it: chunks of steps per call to the session pool's process, the state
 * kept there (on CPU the sparse TopK kernels, on CUDA the ONNX chunk graph). TopK SAE + Adam +
 * unit-norm decoder on both sides (AuxK off: the reference has none). Two sizes:
 *   d_in 512,  4,096 features, k 32, batch 1024
 *   d_in 2560, 16,384 features, k 64, batch 256
 *
 *   scripts/run-ts.sh bench/sae-train.ts [--device cpu|cuda] [--rounds N] [--sizes 512,2560]
 * PyTorch comes from OCULAR_PYTHON, tools/.venv or python3 (bench only: the app never needs Python).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { initialWeights } from '../src-main/core/sae/init';
import { SessionPool } from '../src-main/core/runtime/session-pool';
import type { WireTensor } from '../src-main/core/runtime/pool-protocol';
import { sparseEncodeFile, trainGraphFile } from '../src-main/core/sae/trainer';
import { sparseTopk } from '../src-main/core/sae/sparse-topk';
import { stateDims, stateNames, trainSpec, type SaeTrainSpec } from '../src-main/core/sae/train-graph';
import { mulberry32 } from '../src-main/core/util/random';

const root = process.cwd();
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const device = arg('device', 'cpu') as 'cpu' | 'cuda';
const ROUNDS = Number(arg('rounds', '7'));
// On a GPU a step takes milliseconds: rounds run more steps there.
const more = device === 'cuda' ? 8 : 1;
const SIZES = [
  { dIn: 512, dSae: 4096, k: 32, batch: 1024, steps: 8 * more, chunk: 8 },
  { dIn: 2560, dSae: 16384, k: 64, batch: 256, steps: 2 * more, chunk: 2 },
].filter((s) => arg('sizes', '512,2560').split(',').includes(String(s.dIn)));

function findPython(): string {
  const venv = path.join(root, 'tools', '.venv', 'bin', 'python');
  return [process.env.OCULAR_PYTHON, venv, 'python3'].find((p) => p && (p === 'python3' || fs.existsSync(p)))!;
}

/** The persistent reference process: one JSON command per line, one answer per line. */
class Reference {
  private readonly proc;
  private readonly lines: AsyncIterator<string>;
  constructor(python: string) {
    this.proc = spawn(python, [path.join(root, 'tools', 'sae_bench_reference.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async read<T>(): Promise<T> {
    const next = await this.lines.next();
    if (next.done) throw new Error('the PyTorch reference process ended');
    return JSON.parse(next.value) as T;
  }
  async ask<T>(cmd: object): Promise<T> {
    this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    return this.read<T>();
  }
  close(): void {
    this.proc.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Ours: the trainer's calls to the pool — sparse kernels on CPU, the chunk graph on CUDA. */
async function oursRunner(pool: SessionPool, spec: SaeTrainSpec, size: (typeof SIZES)[number], cache: string) {
  const sparse = device === 'cpu';
  const session = await pool.load(sparse ? sparseEncodeFile(spec, cache) : trainGraphFile(spec, cache), device);
  if (session.executionProvider !== device) throw new Error(`the session runs on ${session.executionProvider}, not ${device}`);
  const names = stateNames(spec);
  const dims = stateDims(spec);
  const { W_enc, W_dec } = initialWeights(spec.dIn, spec.dIn, spec.dSae, 0);
  const state: Record<string, Float32Array> = {};
  for (const nm of names) state[nm] = new Float32Array(dims[nm]!.reduce((a, b) => a * b, 1));
  Object.assign(state, { W_enc, W_dec });
  const rand = mulberry32(1);
  const xs = Float32Array.from(
    { length: size.chunk * size.batch * spec.dIn },
    () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand()),
  );
  const key = `bench-${spec.dIn}`;
  let step = 0;
  let sent = false;
  const call = async () => {
    const feeds: Record<string, WireTensor> = {
      xs: { type: 'float32', dims: [size.chunk, size.batch, spec.dIn], data: xs },
      lrs: { type: 'float32', dims: [size.chunk], data: new Float32Array(size.chunk).fill(4e-4) },
      t0: { type: 'float32', dims: [], data: Float32Array.of(step) },
      dead_after: { type: 'float32', dims: [], data: Float32Array.of(1e9) },
    };
    if (!sent) for (const nm of names) feeds[`in_${nm}`] = { type: 'float32', dims: dims[nm]!, data: state[nm]! };
    sent = true;
    const out = await pool.run(session, feeds, undefined, {
      key,
      pairs: names.map((nm) => [`out_${nm}`, `in_${nm}`]),
      ...(sparse ? { sparse: spec } : {}),
    });
    step += size.chunk;
    return (out.loss!.data as Float32Array).at(-1)!;
  };
  await call(); // warm up
  return {
    async run(steps: number): Promise<number> {
      const t0 = performance.now();
      for (let s = 0; s < steps; s += size.chunk) await call();
      return (performance.now() - t0) / 1000;
    },
    drop: () => pool.dropCarry(session, key),
  };
}

const python = findPython();
const probe = spawnSync(python, ['-c', `import torch; assert ${device === 'cuda' ? 'torch.cuda.is_available()' : 'True'}`], {
  encoding: 'utf8',
});
if (probe.status !== 0) {
  console.log(`PyTorch reference unavailable: ${python} cannot import torch${device === 'cuda' ? ' with CUDA' : ''} (set OCULAR_PYTHON).`);
  process.exit(device === 'cuda' ? 0 : 1);
}
const ref = new Reference(python);
const hello = await ref.read<{ threads: number; torch: string }>();
const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-bench-sae-'));
const pool = new SessionPool({ hostEntry: path.join(root, 'out', 'node', 'session-host.mjs'), size: 1 });
console.log(
  `SAE training, TopK + Adam + unit-norm decoder, on ${device}: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}; ` +
    `ours ${device === 'cpu' ? `sparse kernels (${sparseTopk().native ? 'N-API addon' : 'JS fallback'})` : 'ONNX chunk graph'}, ` +
    `PyTorch ${hello.torch} (${hello.threads} threads); ${ROUNDS} interleaved rounds per size`,
);
const results: string[] = [];
for (const size of SIZES) {
  const spec = trainSpec({ architecture: 'topk', dIn: size.dIn, dSae: size.dSae, k: size.k, auxK: 0 });
  await ref.ask({ cmd: 'setup', d_in: size.dIn, d_sae: size.dSae, k: size.k, batch: size.batch, device });
  const ours = await oursRunner(pool, spec, size, cache);
  const dense: number[] = [];
  const sparse: number[] = [];
  const oursRate: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const tOurs = await ours.run(size.steps);
    const tDense = (await ref.ask<{ seconds: number }>({ cmd: 'run', variant: 'dense', steps: size.steps })).seconds;
    const tSparse = (await ref.ask<{ seconds: number }>({ cmd: 'run', variant: 'sparse-decode', steps: size.steps })).seconds;
    dense.push(tDense / tOurs);
    sparse.push(tSparse / tOurs);
    oursRate.push((size.steps * size.batch) / tOurs);
    console.log(
      `  d_in ${size.dIn} round ${r + 1}: ours ${((tOurs / size.steps) * 1000).toFixed(1)}ms/step` +
        `, dense ${((tDense / size.steps) * 1000).toFixed(1)}ms, sparse-decode ${((tSparse / size.steps) * 1000).toFixed(1)}ms`,
    );
  }
  await ours.drop();
  const spread = (xs: number[]) => `median ${median(xs).toFixed(2)}x, range ${Math.min(...xs).toFixed(2)}x–${Math.max(...xs).toFixed(2)}x`;
  console.log(
    `d_in ${size.dIn} / ${size.dSae} features / k ${size.k} / batch ${size.batch}: ours ${median(oursRate).toFixed(0)} tokens/s; ` +
      `vs dense ${spread(dense)}; vs sparse-decode ${spread(sparse)}`,
  );
  results.push(`ratio vs dense pytorch (d_in ${size.dIn}): ${median(dense).toFixed(2)}x`);
  results.push(`ratio vs sparse-decode pytorch (d_in ${size.dIn}): ${median(sparse).toFixed(2)}x`);
}
ref.close();
await pool.close();
fs.rmSync(cache, { recursive: true, force: true });
console.log(`targets: >= 2.5x dense, >= 1.3x sparse-decode`);
for (const line of results) console.log(line);
