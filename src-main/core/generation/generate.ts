/**
 * Autoregressive generation over a decoder graph with the onnx-community signature
 * (inputs_embeds, attention_mask, past_key_values.{L}.key/value -> logits, present.{L}.key/value).
 * The caller supplies the step (an ORT session in a pool process, or in-process in tests) and the
 * token embedding, so the same loop serves every model family whose prefix (image features merged
 * into text embeddings) is built elsewhere. Rows are left-padded; padded positions are masked.
 */
import { mulberry32 } from '../util/random.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import { emptyStates, type StateSpec } from './decoder-states.js';

export type DecoderStep = (feeds: Record<string, WireTensor>) => Promise<Record<string, WireTensor>>;

export interface GenerateOptions {
  step: DecoderStep;
  /** Embeddings of one token per row, row-major [rows, d]. */
  embed: (tokenIds: number[]) => Promise<Float32Array>;
  prefix: { embeds: Float32Array; batch: number; length: number; width: number; attentionMask: Uint8Array };
  /** The decoder's carried state (KV caches, conv/recurrent states): see decoder-states.ts. */
  states: StateSpec[];
  maxNewTokens: number;
  eosTokenIds: number[];
  /** Greedy when absent. */
  sampling?: { temperature: number; topK?: number; seed: number };
  /** Feed position_ids (Llama-style decoders): cumulative count of attended positions, from 0. */
  positionIds?: boolean;
  /**
   * M-RoPE (Qwen): the prompt's [3, batch, length] positions, and each row's first generated
   * position; every generated token then advances all three rows by one (see vlm/mrope.ts).
   */
  mrope?: { ids: BigInt64Array; next: number[] };
  /** Keep generating past end-of-sequence tokens (fixed-length outputs, benchmarks). */
  ignoreEos?: boolean;
  /**
   * Inputs an edited decoder adds (SAE edit controls, steering vectors): `prefill` for the prompt
   * pass, `step` for each generated token (position masks and per-position vectors differ in length).
   */
  extraFeeds?: { prefill: Record<string, WireTensor>; step: Record<string, WireTensor> };
  /** Return each row's next-token logits after the prompt (the first answer token's distribution). */
  returnFirstLogits?: boolean;
}

export interface GenerateResult {
  tokens: number[][];
  finishReasons: Array<'eos' | 'length'>;
  steps: number;
  /** [batch, vocab] row-major, when asked for. */
  firstLogits?: Float32Array;
}

function pick(
  logits: Float32Array,
  offset: number,
  vocab: number,
  rand: (() => number) | null,
  sampling: GenerateOptions['sampling'],
): number {
  if (!rand || !sampling) {
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[offset + v]! > logits[offset + best]!) best = v;
    return best;
  }
  const ids = Array.from({ length: vocab }, (_, v) => v).sort((a, b) => logits[offset + b]! - logits[offset + a]!);
  const kept = ids.slice(0, sampling.topK ?? vocab);
  const max = logits[offset + kept[0]!]!;
  const weights = kept.map((v) => Math.exp((logits[offset + v]! - max) / Math.max(sampling.temperature, 1e-6)));
  const total = weights.reduce((a, b) => a + b, 0);
  let r = rand() * total;
  for (let i = 0; i < kept.length; i++) {
    r -= weights[i]!;
    if (r <= 0) return kept[i]!;
  }
  return kept[kept.length - 1]!;
}

/**
 * Position ids for left-padded rows: a row's first real token is position 0; padded slots get 0
 * (they are masked anyway). Also returns each row's last position, where generation continues.
 */
export function positionsFromMask(mask: Uint8Array, batch: number, length: number): { positions: BigInt64Array; last: number[] } {
  const last = new Array<number>(batch).fill(-1);
  const positions = new BigInt64Array(batch * length);
  for (let row = 0; row < batch; row++) {
    for (let i = 0; i < length; i++) {
      if (mask[row * length + i]) last[row]! += 1;
      positions[row * length + i] = BigInt(Math.max(0, last[row]!));
    }
  }
  return { positions, last };
}

export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  const { batch, length, width } = options.prefix;
  const rand = options.sampling ? mulberry32(options.sampling.seed) : null;
  const eos = new Set(options.eosTokenIds);
  const tokens: number[][] = Array.from({ length: batch }, () => []);
  const finish: Array<'eos' | 'length' | null> = Array.from({ length: batch }, () => null);

  let past: Record<string, WireTensor> = emptyStates(options.states, batch);
  // Typed throughout: the mask grows by one column per step, and at real context lengths a plain
  // array of BigInts rebuilt per step costs milliseconds.
  let mask = BigInt64Array.from(options.prefix.attentionMask, (m) => BigInt(m));
  let total = length;
  let inputs: WireTensor = { type: 'float32', dims: [batch, length, width], data: options.prefix.embeds };
  let steps = 0;
  let firstLogits: Float32Array | undefined;
  const { positions: firstPositions, last: lastPosition } = positionsFromMask(options.prefix.attentionMask, batch, length);
  let positions = firstPositions;
  let positionFeed = (): WireTensor =>
    options.mrope
      ? { type: 'int64', dims: [3, batch, length], data: options.mrope.ids }
      : { type: 'int64', dims: [batch, length], data: positions };

  while (steps < options.maxNewTokens) {
    const feeds: Record<string, WireTensor> = {
      inputs_embeds: inputs,
      attention_mask: { type: 'int64', dims: [batch, total], data: mask },
      ...past,
    };
    if (options.positionIds) feeds.position_ids = positionFeed();
    if (options.extraFeeds) Object.assign(feeds, steps === 0 ? options.extraFeeds.prefill : options.extraFeeds.step);
    const out = await options.step(feeds);
    const logits = out.logits;
    if (!logits) throw new Error('The decoder returned no logits output.');
    const [, seq, vocab] = logits.dims as [number, number, number];
    if (steps === 0 && options.returnFirstLogits) {
      firstLogits = new Float32Array(batch * vocab);
      for (let row = 0; row < batch; row++)
        firstLogits.set((logits.data as Float32Array).subarray((row * seq + seq - 1) * vocab, (row * seq + seq) * vocab), row * vocab);
    }
    const next: number[] = [];
    for (let row = 0; row < batch; row++) {
      if (finish[row] !== null) {
        next.push(options.eosTokenIds[0] ?? 0);
        continue;
      }
      const token = pick(logits.data as Float32Array, (row * seq + seq - 1) * vocab, vocab, rand, options.sampling);
      tokens[row]!.push(token);
      next.push(token);
      if (eos.has(token) && !options.ignoreEos) finish[row] = 'eos';
    }
    steps++;
    if (steps >= options.maxNewTokens || finish.every((f) => f !== null)) break;
    past = {};
    for (const state of options.states) {
      const present = out[state.output];
      if (!present) throw new Error(`The decoder returned no ${state.output} output.`);
      past[state.input] = present;
    }
    // Append one position per row (finished rows keep attending, their outputs are ignored).
    const grown = new BigInt64Array(batch * (total + 1));
    for (let row = 0; row < batch; row++) {
      grown.set(mask.subarray(row * total, (row + 1) * total), row * (total + 1));
      grown[row * (total + 1) + total] = 1n;
    }
    mask = grown;
    total += 1;
    positions = BigInt64Array.from(lastPosition.map((p, row) => BigInt((lastPosition[row] = p + 1))));
    const step = steps - 1;
    positionFeed = () =>
      options.mrope
        ? {
            type: 'int64',
            dims: [3, batch, 1],
            data: BigInt64Array.from({ length: 3 * batch }, (_, i) => BigInt(options.mrope!.next[i % batch]! + step)),
          }
        : { type: 'int64', dims: [batch, 1], data: positions };
    inputs = { type: 'float32', dims: [batch, 1, width], data: await options.embed(next) };
  }
  return { tokens, finishReasons: finish.map((f) => f ?? 'length'), steps, ...(firstLogits ? { firstLogits } : {}) };
}
