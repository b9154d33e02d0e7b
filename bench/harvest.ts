/**
 * `npm run bench:harvest`: harvest throughput against a bare forward pass of the same model over
 * the same items, both measured in this run. Bare: the VLM pipeline (image preprocessing, vision
 * tower, merge) and the unedited decoder, outputs dropped. Harvest: the harvest job as users run it
 * (edited graph exposing the tap, copies per token, shards, row index and statistics committed to
 * the workspace). Both include loading the model. Target: overhead <= 15%.
 *   scripts/run-ts.sh bench/harvest.ts [per-cell] [rounds]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { synthesizeBenchmark } from '../src-main/core/benchmark/synth';
import { Backend } from '../src-main/core/backend/backend';
import { readDatasetFolder } from '../src-main/core/datasets/dataset-folder';
import { SessionPool } from '../src-main/core/runtime/session-pool';
import { VlmPipeline } from '../src-main/core/vlm/pipeline';

const root = process.cwd();
const out = path.join(root, 'out', 'node');
const model = path.join(root, 'resources', 'models', 'ocular-demo-vlm');
const perCell = Number(process.argv[2] ?? 10);
const TAP = 'blocks.1.hook_resid_post';
const BATCH = 8;
const ROUNDS = Number(process.argv[3] ?? 3);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-bench-harvest-'));
const data = path.join(dir, 'bench');
await synthesizeBenchmark({ out: data, seed: 3, perCell });
const items = (await readDatasetFolder(data)).rows;

async function bare(): Promise<{ tokens: number; seconds: number }> {
  const pool = new SessionPool({ hostEntry: path.join(out, 'session-host.mjs'), size: 2 });
  const t0 = performance.now();
  const vlm = await VlmPipeline.load(model, pool, 'cpu');
  const decoder = await pool.load(vlm.files.decoder, 'cpu');
  let tokens = 0;
  for (let i = 0; i < items.length; i += BATCH) {
    const prefix = await vlm.prepare(items.slice(i, i + BATCH).map((it) => ({ image: path.join(data, it.image), prompt: it.question })));
    await pool.run(decoder, vlm.prefillFeeds(prefix));
    tokens += prefix.attentionMask.reduce((n, m) => n + m, 0);
  }
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return { tokens, seconds };
}

async function harvest(round: number): Promise<{ tokens: number; seconds: number }> {
  const backend = new Backend({
    transport: 'http',
    workerEntry: path.join(out, 'job-worker.mjs'),
    taskWorkerEntry: path.join(out, 'task-worker.mjs'),
    sessionHostEntry: path.join(out, 'session-host.mjs'),
    configDir: path.join(dir, `config-${round}`),
    pinnedWorkspace: path.join(dir, `ws-${round}`),
  });
  const call = async <T>(channel: string, payload: unknown): Promise<T> => {
    const r = await backend.invoke(channel, payload);
    if (!r.ok) throw new Error(r.error.message);
    return r.result as T;
  };
  try {
    await call('workspace.create', {});
    const modelId = (await call<{ id: number }>('models.add', { path: model })).id;
    const datasetId = (await call<{ id: number }>('datasets.import', { path: data })).id;
    const started = await call<{ job: { id: number } }>('harvests.start', {
      modelId,
      datasetId,
      taps: [TAP],
      dtype: 'fp32',
      batchSize: BATCH,
      device: 'cpu',
    });
    const t0 = performance.now();
    let job: { state: string; result: unknown; error?: string | null };
    for (;;) {
      job = await call<typeof job>('jobs.get', { id: started.job.id });
      if (!['queued', 'running'].includes(job.state)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    if (job.state !== 'succeeded') throw new Error(`harvest ${job.state}: ${job.error}`);
    const rows = (job.result as { rows: Record<string, number> }).rows;
    return { tokens: Object.values(rows).reduce((a, b) => a + b, 0), seconds };
  } finally {
    await backend.close();
  }
}

// Alternate the two, several rounds, and compare medians: this machine is shared and noisy.
const bareRuns: number[] = [];
const harvestRuns: number[] = [];
let tokens = 0;
for (let round = 0; round < ROUNDS; round++) {
  const b = await bare();
  const h = await harvest(round);
  tokens = b.tokens;
  if (h.tokens !== b.tokens) throw new Error(`harvest stored ${h.tokens} tokens, the bare pass saw ${b.tokens}`);
  bareRuns.push(b.tokens / b.seconds);
  harvestRuns.push(h.tokens / h.seconds);
}
fs.rmSync(dir, { recursive: true, force: true });
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

console.log(
  `harvest benchmark: demo VLM, ${items.length} items (${tokens} tokens), batch ${BATCH}, tap ${TAP} (fp32), CPU, median of ${ROUNDS} alternating rounds`,
);
console.log(`bare forward: ${median(bareRuns).toFixed(0)} tokens/s (rounds: ${bareRuns.map((v) => v.toFixed(0)).join(', ')})`);
console.log(`harvest: ${median(harvestRuns).toFixed(0)} tokens/s (rounds: ${harvestRuns.map((v) => v.toFixed(0)).join(', ')})`);
console.log(`harvest overhead vs bare forward: ${((median(bareRuns) / median(harvestRuns) - 1) * 100).toFixed(1)}% (target <= 15%)`);
