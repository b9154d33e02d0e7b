/**
 * `npm run bench:circuits`: time to trace an attribution graph (capture with everything exposed,
 * the frozen linear model, adjacency rows for the output and up to 512 features, pruning, attention
 * maps: `traceCircuit` as `ocular circuit trace` runs it, model loading excluded) on the bundled demo
 * model with a transcoder set trained here, for prompts of 1 to 4 image questions joined into one
 * sequence (64 image tokens each: 4 make ~300 tokens, 256 of them image patches). Beside each, a
 * plain forward pass of the same sequence through the unedited decoder, measured in the same
 * rounds (interleaved, median of 3), as the reference. Target: < 10 s at ~300 tokens on this CPU.
 * The demo's config says 256 positions, but its rotary embedding is computed from the position ids,
 * so longer sequences run (the bench measures speed; answers past 256 positions mean nothing).
 *   scripts/run-ts.sh bench/circuits.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { traceCircuit } from '../src-main/core/circuits/trace';
import { loadSet } from '../src-main/core/circuits/transcoder-set';
import { SessionPool } from '../src-main/core/runtime/session-pool';
import { SaeStore } from '../src-main/core/sae/sae-store';
import { Workspace } from '../src-main/core/store/workspace';
import { VlmPipeline, type PreparedPrefix } from '../src-main/core/vlm/pipeline';

const root = process.cwd();
const cli = path.join(root, 'out', 'node', 'cli.mjs');
const model = path.join(root, 'resources', 'models', 'ocular-demo-vlm');
const ROUNDS = Number(process.argv[2] ?? 3);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-bench-circuits-'));
const ws = path.join(dir, 'ws');
const data = path.join(dir, 'bench');
const run = (args: string[]) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

run(['dataset', 'synth', '--out', data, '--seed', '5', '--per-cell', '3']);
const taps = [0, 1, 2].flatMap((l) => ['--tap', `blocks.${l}.hook_mlp_in`, '--tap', `blocks.${l}.hook_mlp_out`]);
run(['harvest', '--workspace', ws, '--model', model, '--dataset', data, ...taps, '--dtype', 'fp32', '--device', 'cpu', '--json']);
const trained = JSON.parse(
  run([
    'circuit',
    'train-set',
    '--workspace',
    ws,
    '--harvest',
    '1',
    '--expansion',
    '4',
    '--k',
    '8',
    '--steps',
    '400',
    '--batch',
    '256',
    '--json',
  ]),
) as { setId: number };
const w = Workspace.open(ws, { readOnly: true });
const set = loadSet(new SaeStore(w.db, ws), trained.setId);
w.close();

const pool = new SessionPool({ hostEntry: path.join(root, 'out', 'node', 'session-host.mjs'), size: 1 });
const vlm = await VlmPipeline.load(model, pool, 'cpu');
const decoder = await pool.load(vlm.files.decoder, 'cpu');
const items = fs
  .readFileSync(path.join(data, 'items.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { task: string; image: string; question: string })
  .filter((it) => it.task === 'color')
  .slice(0, 4);
const prompts = await Promise.all(items.map((it) => vlm.prepare([{ image: path.join(data, it.image), prompt: it.question }])));

/** One-row prefixes joined into one sequence (positions run on; every token attended). */
function join(parts: PreparedPrefix[]): PreparedPrefix {
  const length = parts.reduce((s, p) => s + p.length, 0);
  const embeds = new Float32Array(length * parts[0]!.width);
  let at = 0;
  for (const p of parts) {
    embeds.set(p.embeds, at);
    at += p.embeds.length;
  }
  return {
    ...parts[0]!,
    length,
    embeds,
    attentionMask: new Uint8Array(length).fill(1),
    inputIds: [parts.flatMap((p) => p.inputIds[0]!)],
    tokens: [parts.flatMap((p) => p.tokens[0]!)],
    texts: [parts.map((p) => p.texts[0]!).join('')],
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sizes = [1, 2, 3, 4].map((n) => join(prompts.slice(0, n)));
const timings = sizes.map(() => ({ trace: [] as number[], forward: [] as number[], parts: null as null | Record<string, number> }));
const options = { image: '', prompt: '', maxFeatureNodes: 512, nodeThreshold: 0.8, edgeThreshold: 0.98, batchSize: 16 };
// One warm-up trace (graph surgery cache, session load), then interleaved rounds.
await traceCircuit(vlm, pool, 'cpu', model, set, { ...options, prefix: sizes[0]! }, path.join(dir, 'cache'));
for (let r = 0; r < ROUNDS; r++)
  for (const [i, prefix] of sizes.entries()) {
    let t0 = performance.now();
    await pool.run(decoder, vlm.prefillFeeds(prefix), ['logits']);
    timings[i]!.forward.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    const doc = await traceCircuit(vlm, pool, 'cpu', model, set, { ...options, prefix }, path.join(dir, 'cache'));
    timings[i]!.trace.push((performance.now() - t0) / 1000);
    timings[i]!.parts = doc.seconds;
  }

const largest = sizes.length - 1;
const line = (i: number) => {
  const t = timings[i]!;
  const image = sizes[i]!.tokens[0]!.filter((x) => x.modality === 'image');
  const patches = image.filter((x) => x.patchRow !== null).length;
  return `attribution graph (${sizes[i]!.length} tokens): ${median(t.trace).toFixed(1)} s   [${image.length} image tokens, ${patches} of them patches; capture ${t.parts!.capture.toFixed(2)} s, attribution ${t.parts!.attribution.toFixed(2)} s, attention maps ${t.parts!.attention.toFixed(2)} s; ${(median(t.trace) / median(t.forward)).toFixed(0)}x a plain forward of ${(median(t.forward) * 1000).toFixed(0)} ms]`;
};
console.log(`attribution graph (${sizes[largest]!.length} tokens): ${median(timings[largest]!.trace).toFixed(1)} s`);
console.log(`target: < 10 s at ~300 tokens (median of ${ROUNDS} interleaved rounds; 512 feature rows, batch 16, demo model, CPU)`);
for (let i = 0; i < sizes.length; i++) console.log(`  ${line(i)}`);
await pool.close();
fs.rmSync(dir, { recursive: true, force: true });
