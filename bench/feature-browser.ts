/**
 * `npm run bench:browser`: the feature browser at scale, on synthetic activations. Harvests (fp16
 * shards) drawn from a known sparse dictionary, and a TopK SAE with 16,384 features (k = 32) built
 * from it, at d_in 64 (1M tokens) and d_in 512 (125k tokens by default: the encoder costs 8x more
 * per token; each feature still fires only ~250 times, a small harvest for 16,384 features).
 * Measures, in this run:
 *   - the analysis pass (the whole job, as users run it) against the bare encoder GEMM of the same
 *     shapes (onnxruntime MatMul over the same rows, in the same chunks), rounds interleaved, median
 *     ratio of throughputs (target >= 0.7);
 *   - feature-page data latency (features.get through the backend, as a renderer calls it) over
 *     random features at d_in 64: p50 / p95 (target: p95 < 200 ms).
 *   scripts/run-ts.sh bench/feature-browser.ts [tokens at d_in 64] [features] [rounds] [tokens at d_in 512] [sizes: 64,512]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { rowsPerCall } from '../src-main/core/analysis/analysis-pass';
import { floatTensor, graph, model, node, valueInfo } from '../src-main/core/onnx/builder';
import { encodeModel } from '../src-main/core/onnx/model-io';
import { DataType } from '../src-main/core/onnx/schema';
import { Backend } from '../src-main/core/backend/backend';
import { DatasetStore } from '../src-main/core/datasets/dataset-store';
import { HarvestStore } from '../src-main/core/harvest/harvest-store';
import { ShardReader } from '../src-main/core/harvest/shard-reader';
import { SaeStore } from '../src-main/core/sae/sae-store';
import { Workspace } from '../src-main/core/store/workspace';
import { mulberry32 } from '../src-main/core/util/random';

const FEATURES = Number(process.argv[3] ?? 16_384);
const ROUNDS = Number(process.argv[4] ?? 3);
const SIZES = [
  { D: 64, TOKENS: Number(process.argv[2] ?? 1_000_000) },
  { D: 512, TOKENS: Number(process.argv[5] ?? 125_000) },
].filter(({ D }) => (process.argv[6] ?? '64,512').split(',').includes(String(D)));
const K = 32;
const PER_ITEM = 500;
const GRID = 16;
const SHARD = 65_536;
const out = path.join(process.cwd(), 'out', 'node');
const rand = mulberry32(7);
const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const ratios: string[] = [];

/** The bare encoder product of the same shapes: x [rows, d_in] · W_enc [d_in, F] by onnxruntime, chunk by chunk as the pass calls. */
async function bareGemm(x: Float32Array, wEnc: Float32Array, D: number): Promise<() => Promise<number>> {
  const m = model(
    graph(
      'bare_encoder',
      [node('MatMul', ['x', 'W_enc'], ['pre'], 'mm')],
      [valueInfo('x', DataType.FLOAT, ['rows', D])],
      [valueInfo('pre', DataType.FLOAT, ['rows', FEATURES])],
      [floatTensor('W_enc', [D, FEATURES], wEnc)],
    ),
    18,
  );
  const session = await ort.InferenceSession.create(encodeModel(m));
  const perCall = rowsPerCall(FEATURES);
  const rows = x.length / D;
  return async () => {
    const t = performance.now();
    for (let start = 0; start < rows; start += perCall) {
      const n = Math.min(perCall, rows - start);
      await session.run({ x: new ort.Tensor('float32', x.subarray(start * D, (start + n) * D), [n, D]) });
    }
    return (performance.now() - t) / 1000;
  };
}

for (const { D, TOKENS } of SIZES) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-bench-browser-'));
  const wsDir = path.join(dir, 'ws');
  console.log(`feature browser benchmark: ${TOKENS} synthetic tokens (d_in ${D}, fp16), TopK SAE with ${FEATURES} features (k ${K})`);
  let t0 = performance.now();
  // A dictionary of unit directions; each token is a positive mix of 8 of them plus noise.
  const dict = new Float32Array(FEATURES * D);
  for (let f = 0; f < FEATURES; f++) {
    let n = 0;
    for (let i = 0; i < D; i++) n += (dict[f * D + i] = gauss()) ** 2;
    for (let i = 0; i < D; i++) dict[f * D + i]! /= Math.sqrt(n);
  }
  const ws = Workspace.create(wsDir);
  const items = Math.ceil(TOKENS / PER_ITEM);
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  await sharp({ create: { width: 64, height: 64, channels: 3, background: '#4080c0' } })
    .png()
    .toFile(path.join(data, 'image.png'));
  const dataset = new DatasetStore(ws.db).insert(
    {
      dir: data,
      file: path.join(data, 'items.jsonl'),
      source: 'import',
      meta: {},
      rows: Array.from({ length: items }, (_, i) => ({
        key: String(i),
        image: 'image.png',
        question: `item ${i}?`,
        answerType: 'text' as const,
        answer: 'yes',
        task: null,
        difficulty: null,
        scene: null,
      })),
    },
    'synthetic',
  );
  const itemIds = new DatasetStore(ws.db).items(dataset.id).map((it) => it.id);
  const harvests = new HarvestStore(ws.db, wsDir);
  const h = harvests.create('/synthetic-model', dataset.id, {
    taps: ['blocks.0.hook_resid_post'],
    tokenKinds: ['image', 'text'],
    dtype: 'fp16',
    limit: null,
    batchSize: 8,
    shardRows: SHARD,
    maxNewTokens: 1,
    device: 'cpu',
  });
  for (let first = 0; first < TOKENS; first += SHARD) {
    const n = Math.min(SHARD, TOKENS - first);
    const x = new Float32Array(n * D);
    const rows = [];
    for (let r = 0; r < n; r++) {
      const row = first + r;
      for (let j = 0; j < 8; j++) {
        const f = Math.floor(rand() * FEATURES);
        const w = 1 + 3 * rand();
        for (let i = 0; i < D; i++) x[r * D + i]! += w * dict[f * D + i]!;
      }
      for (let i = 0; i < D; i++) x[r * D + i]! += 0.05 * gauss();
      const position = row % PER_ITEM;
      const image = position < GRID * GRID;
      rows.push({
        itemId: itemIds[Math.floor(row / PER_ITEM)]!,
        position,
        modality: (image ? 'image' : 'text') as 'image' | 'text',
        image: image ? 0 : null,
        patchRow: image ? Math.floor(position / GRID) : null,
        patchCol: image ? position % GRID : null,
        tokenId: image ? 4 : 5 + (position % 50),
      });
    }
    const itemsDone = [...new Set(rows.map((r) => r.itemId))].filter((id) => !harvests.doneItems(h.id).has(id));
    harvests.commit(h.id, {
      shards: { 'blocks.0.hook_resid_post': { data: x, width: D } },
      rows: { decoder: rows, vision: [] },
      items: itemsDone,
      stats: { 'blocks.0.hook_resid_post': { rows: first + n, width: D, mean: new Array(D).fill(0), meanNorm: 1 } },
    });
  }
  const wEnc = new Float32Array(D * FEATURES);
  for (let f = 0; f < FEATURES; f++) for (let i = 0; i < D; i++) wEnc[i * FEATURES + f] = dict[f * D + i]!;
  const sae = new SaeStore(ws.db, wsDir).add(
    {
      architecture: 'topk',
      k: K,
      dIn: D,
      dSae: FEATURES,
      W_enc: wEnc,
      b_enc: new Float32Array(FEATURES),
      W_dec: dict,
      b_dec: new Float32Array(D),
      applyBDecToInput: true,
      hookName: 'blocks.0.hook_resid_post',
      modelName: 'synthetic',
      normalizeActivations: 'none',
    },
    'synthetic dictionary',
    'import',
  );
  ws.close();
  console.log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // Plain read of the same shards (fp16 decode included), then the analysis pass as users run it.
  const w2 = Workspace.open(wsDir, { readOnly: true });
  const reader = new ShardReader(w2.db, wsDir, harvests.meta.call(new HarvestStore(w2.db, wsDir), h.id), 'blocks.0.hook_resid_post');
  t0 = performance.now();
  const readRows = reader.readAll();
  const readS = (performance.now() - t0) / 1000;
  // The same rows as float32, for the bare product (read outside its timing).
  const x = new Float32Array(readRows * D);
  for (const c of reader.chunks()) x.set(c.data.subarray(0, c.rows * D), c.firstRow * D);
  w2.close();

  const backend = new Backend({
    transport: 'http',
    workerEntry: path.join(out, 'job-worker.mjs'),
    taskWorkerEntry: path.join(out, 'task-worker.mjs'),
    sessionHostEntry: path.join(out, 'session-host.mjs'),
    configDir: path.join(dir, 'config'),
    pinnedWorkspace: wsDir,
  });
  const call = async <T>(channel: string, payload: unknown): Promise<T> => {
    const r = await backend.invoke(channel, payload);
    if (!r.ok) throw new Error(r.error.message);
    return r.result as T;
  };
  try {
    await call('workspace.open', {});
    const analyse = async () => {
      const started = await call<{ analysis: { id: number }; job: { id: number } }>('analyses.start', {
        saeId: sae.id,
        harvestId: h.id,
        device: 'cpu',
        logitTokens: 0,
      });
      const t = performance.now();
      let job: { state: string; error: string | null };
      for (;;) {
        job = await call<typeof job>('jobs.get', { id: started.job.id });
        if (!['queued', 'running'].includes(job.state)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (job.state !== 'succeeded') throw new Error(`analysis ${job.state}: ${job.error}`);
      return { seconds: (performance.now() - t) / 1000, started };
    };
    const gemm = await bareGemm(x, wEnc, D);
    const shares: number[] = [];
    const streamShares: number[] = [];
    const timingsOf = async (id: number) =>
      (await call<Array<{ id: number; summary: { timings?: Record<string, number> } }>>('analyses.list', {})).find((a) => a.id === id)!
        .summary.timings ?? {};
    let analysisS = 0;
    let started!: Awaited<ReturnType<typeof analyse>>['started'];
    for (let r = 0; r < ROUNDS; r++) {
      const a = await analyse();
      const g = await gemm();
      started = a.started;
      analysisS = a.seconds;
      shares.push(g / a.seconds);
      // The encoder stage alone (shards through the encoder and the accumulator), beside the fixed work per analysis.
      const stream = (await timingsOf(a.started.analysis.id)).stream ?? NaN;
      streamShares.push(g / stream);
      console.log(
        `  d_in ${D} round ${r + 1}: analysis pass ${a.seconds.toFixed(2)} s (encoder stage ${stream.toFixed(2)} s), bare encoder GEMM ${g.toFixed(2)} s`,
      );
    }
    console.log(`encoder stage / bare encoder GEMM (d_in ${D}): median ${median(streamShares).toFixed(2)}`);
    console.log(
      `analysis / bare encoder GEMM (d_in ${D}): median ${median(shares).toFixed(2)}, range ${Math.min(...shares).toFixed(2)}–${Math.max(...shares).toFixed(2)}`,
    );
    ratios.push(`analysis / bare encoder GEMM (d_in ${D}): ${median(shares).toFixed(2)}`);

    const latencies: number[] = [];
    const pick = mulberry32(11);
    await call('features.get', { analysisId: started.analysis.id, feature: 0 }); // loads the SAE once, as the first page view does
    for (let i = 0; i < 200; i++) {
      const feature = Math.floor(pick() * FEATURES);
      const t = performance.now();
      await call('features.get', { analysisId: started.analysis.id, feature });
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    console.log(`plain read of the shards: ${(readRows / readS).toFixed(0)} tokens/s (${readS.toFixed(2)} s)`);
    console.log(`analysis pass: ${(readRows / analysisS).toFixed(0)} tokens/s (${analysisS.toFixed(1)} s, last round)`);
    console.log(
      `analysis stages (s): ${Object.entries(await timingsOf(started.analysis.id))
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );
    console.log(
      `feature page data (features.get, 200 random features): p50 ${q(0.5).toFixed(1)} ms, p95 ${q(0.95).toFixed(1)} ms (target p95 < 200 ms)`,
    );
  } finally {
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
console.log('target: >= 0.7 of the bare encoder GEMM');
for (const line of ratios) console.log(line);
