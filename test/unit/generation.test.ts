import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type DecoderStep } from '../../src-main/core/generation/generate';
import { readModel, writeModel } from '../../src-main/core/onnx/model-io';
import { decoderSignature, type StateSpec } from '../../src-main/core/generation/decoder-states';
import type { WireTensor } from '../../src-main/core/runtime/pool-protocol';
import { SessionPool } from '../../src-main/core/runtime/session-pool';
import { runModel } from '../helpers/ort';
import { mulberry32, randn, tinyTransformer } from '../helpers/tiny-transformer';
import { sessionHostEntry } from '../helpers/tmp';

const D = 16;
const VOCAB = 24;
const LAYERS = 2;
let dir: string;
let cached: string;
let plain: string;
const table = randn(mulberry32(77), VOCAB * D, 1);
const embedRows = async (ids: number[]) => {
  const out = new Float32Array(ids.length * D);
  ids.forEach((id, i) => out.set(table.subarray(id * D, (id + 1) * D), i * D));
  return out;
};

beforeAll(() => {
  // Shared by every test in this file, so not a per-test tmpDir().
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-gen-'));
  cached = path.join(dir, 'decoder_kv.onnx');
  plain = path.join(dir, 'decoder.onnx');
  writeModel(tinyTransformer({ layers: LAYERS, d: D, vocab: VOCAB, seed: 21, kvCache: true }).model, cached);
  writeModel(tinyTransformer({ layers: LAYERS, d: D, vocab: VOCAB, seed: 21 }).model, plain);
});

let STATES: StateSpec[];
let session: ort.InferenceSession;
beforeAll(async () => {
  STATES = decoderSignature(readModel(cached).graph).states;
  session = await ort.InferenceSession.create(cached, { executionProviders: ['cpu'] });
});
afterAll(async () => {
  await session?.release();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A decoder step over an in-process session (the pool does the same in its host). */
function sessionStep(s: () => ort.InferenceSession): DecoderStep {
  return async (feeds) => {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) inputs[k] = new ort.Tensor(t.type, t.data as never, t.dims);
    const out = await s().run(inputs);
    const result: Record<string, WireTensor> = {};
    for (const [k, t] of Object.entries(out))
      result[k] = { type: t.type as WireTensor['type'], dims: [...t.dims], data: t.data as Float32Array };
    return result;
  };
}
const inProcessStep = sessionStep(() => session);

/** Left-pads rows of token ids into a prefix batch. */
async function prefixOf(rows: number[][]) {
  const length = Math.max(...rows.map((r) => r.length));
  const embeds = new Float32Array(rows.length * length * D);
  const attentionMask = new Uint8Array(rows.length * length);
  for (let r = 0; r < rows.length; r++) {
    const pad = length - rows[r]!.length;
    embeds.set(await embedRows(rows[r]!), (r * length + pad) * D);
    attentionMask.fill(1, r * length + pad, (r + 1) * length);
  }
  return { embeds, batch: rows.length, length, width: D, attentionMask };
}

/** Greedy decoding by recomputing the whole sequence each step, without a cache. */
async function referenceGreedy(row: number[], n: number): Promise<number[]> {
  const seq = [...row];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await runModel(plain, { inputs_embeds: { dims: [1, seq.length, D], data: await embedRows(seq) } });
    const logits = res.logits!.data;
    const last = (seq.length - 1) * VOCAB;
    let best = 0;
    for (let v = 1; v < VOCAB; v++) if (logits[last + v]! > logits[last + best]!) best = v;
    out.push(best);
    seq.push(best);
  }
  return out;
}

const rows = [
  [3, 9, 1, 4],
  [7, 2],
  [5, 5, 8, 1, 0, 2],
];

describe('generation with a KV cache', () => {
  it('greedy decoding with the cache and left padding equals full recomputation per row', async () => {
    const result = await generate({
      step: inProcessStep,
      embed: embedRows,
      prefix: await prefixOf(rows),
      states: STATES,
      maxNewTokens: 6,
      eosTokenIds: [],
    });
    expect(result.steps).toBe(6);
    expect(result.finishReasons).toEqual(['length', 'length', 'length']);
    for (let r = 0; r < rows.length; r++) expect(result.tokens[r]).toEqual(await referenceGreedy(rows[r]!, 6));
  });

  it('stops a row at its end-of-sequence token and the batch when every row is done', async () => {
    const reference = await referenceGreedy(rows[0]!, 3);
    const eos = reference[1]!;
    const result = await generate({
      step: inProcessStep,
      embed: embedRows,
      prefix: await prefixOf([rows[0]!]),
      states: STATES,
      maxNewTokens: 10,
      eosTokenIds: [eos],
    });
    expect(result.tokens[0]).toEqual(reference.slice(0, reference.indexOf(eos) + 1));
    expect(result.finishReasons).toEqual(['eos']);
    expect(result.steps).toBe(reference.indexOf(eos) + 1);
  });

  it('seeded sampling is reproducible', async () => {
    const run = (seed: number) =>
      prefixOf(rows).then((prefix) =>
        generate({
          step: inProcessStep,
          embed: embedRows,
          prefix,
          states: STATES,
          maxNewTokens: 8,
          eosTokenIds: [],
          sampling: { temperature: 1.5, seed },
        }),
      );
    const a = await run(1);
    const b = await run(1);
    expect(a.tokens).toEqual(b.tokens);
    const others = await Promise.all([2, 3, 4].map(run));
    expect(others.some((o) => JSON.stringify(o.tokens) !== JSON.stringify(a.tokens))).toBe(true);
  });

  it('runs through the session pool (a child process) with the same tokens', async () => {
    const pool = new SessionPool({ hostEntry: sessionHostEntry, size: 1 });
    try {
      const handle = await pool.load(cached, 'cpu');
      const viaPool = await generate({
        step: (feeds) => pool.run(handle, feeds),
        embed: embedRows,
        prefix: await prefixOf(rows),
        states: STATES,
        maxNewTokens: 5,
        eosTokenIds: [],
      });
      const inProcess = await generate({
        step: inProcessStep,
        embed: embedRows,
        prefix: await prefixOf(rows),
        states: STATES,
        maxNewTokens: 5,
        eosTokenIds: [],
      });
      expect(viaPool.tokens).toEqual(inProcess.tokens);
    } finally {
      await pool.close();
    }
  });
});

describe('generation with a hybrid cache (conv state + KV cache)', () => {
  it('carries every past_* state and equals recomputation from empty states', async () => {
    const hybridFile = path.join(dir, 'hybrid.onnx');
    writeModel(tinyTransformer({ layers: 3, d: D, vocab: VOCAB, seed: 31, kvCache: true, convLayers: [0, 2] }).model, hybridFile);
    const signature = decoderSignature(readModel(hybridFile).graph);
    expect(signature.states.map((s) => s.input).sort()).toEqual([
      'past_conv.0',
      'past_conv.2',
      'past_key_values.1.key',
      'past_key_values.1.value',
    ]);
    expect(signature.states.find((s) => s.input === 'past_conv.0')!.dims).toEqual(['batch', D, 2]);
    const hybrid = await ort.InferenceSession.create(hybridFile, { executionProviders: ['cpu'] });
    try {
      const step = sessionStep(() => hybrid);
      const row = rows[2]!;
      const cachedRun = await generate({
        step,
        embed: embedRows,
        prefix: await prefixOf([row]),
        states: signature.states,
        maxNewTokens: 5,
        eosTokenIds: [],
      });
      // Reference: every step from scratch (zero conv state = causal zero padding, empty KV).
      const seq = [...row];
      for (let i = 0; i < 5; i++) {
        const once = await generate({
          step,
          embed: embedRows,
          prefix: await prefixOf([seq]),
          states: signature.states,
          maxNewTokens: 1,
          eosTokenIds: [],
        });
        seq.push(once.tokens[0]![0]!);
      }
      expect(cachedRun.tokens[0]).toEqual(seq.slice(row.length));
    } finally {
      await hybrid.release();
    }
  });
});
