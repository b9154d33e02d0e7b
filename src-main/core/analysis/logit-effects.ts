/**
 * Logit effects of SAE features: each decoder direction through the model's own final norm and
 * unembedding (a sliced copy of its decoder graph), and the tokens it most promotes and suppresses.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JobContext } from '../jobs/job-kind.js';
import { componentGraph } from '../model/graph-files.js';
import { writeUnembedGraph } from '../onnx/edited-graph.js';
import { DataType } from '../onnx/schema.js';
import type { SaeWeights } from '../onnx/surgery.js';
import type { Device } from '../runtime/pool-protocol.js';
import { floatToHalf } from '../util/half.js';
import { layoutOf } from '../store/layout.js';

export interface LogitEffect {
  promoted: Array<{ id: number; value: number }>;
  suppressed: Array<{ id: number; value: number }>;
}

/** The tokenizer's special tokens (`special: true` in tokenizer.json's added_tokens), as id and text. */
function specialTokens(modelFolder: string): Array<{ id: number; content: string }> {
  try {
    const file = JSON.parse(fs.readFileSync(path.join(modelFolder, 'tokenizer.json'), 'utf8')) as {
      added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
    };
    return (file.added_tokens ?? []).filter((t) => t.special).map((t) => ({ id: t.id, content: t.content }));
  } catch {
    return []; // No readable tokenizer (a synthetic harvest, a moved model): nothing is known to be special.
  }
}

export const specialTokenIds = (modelFolder: string) => new Set(specialTokens(modelFolder).map((t) => t.id));
export const specialTokenStrings = (modelFolder: string) => new Set(specialTokens(modelFolder).map((t) => t.content));

/**
 * Stored logit effects without the model's special tokens (`</s>`, `<image>`, padding): a direction
 * that raises end-of-sequence says little about a feature, and analyses made before special tokens
 * were excluded at the source still hold them.
 */
export function withoutSpecialTokens<T extends { promoted: Array<{ token: string }>; suppressed: Array<{ token: string }> }>(
  logits: T,
  specials: Set<string>,
): T {
  const keep = (t: { token: string }) => !specials.has(t.token.trim());
  return { ...logits, promoted: logits.promoted.filter(keep), suppressed: logits.suppressed.filter(keep) };
}

/** The n largest and n smallest entries of one row, leaving out the token ids in `exclude`. */
export function extremes(row: Float32Array, n: number, exclude: Set<number> = new Set()): LogitEffect {
  const order = Array.from(row.keys())
    .filter((id) => !exclude.has(id))
    .sort((a, b) => row[b]! - row[a]!);
  return {
    promoted: order.slice(0, n).map((id) => ({ id, value: row[id]! })),
    suppressed: order
      .slice(-n)
      .reverse()
      .map((id) => ({ id, value: row[id]! })),
  };
}

export async function logitEffects(
  ctx: Pick<JobContext<unknown>, 'pool' | 'workspaceDir' | 'signal'>,
  modelFolder: string,
  sae: SaeWeights,
  n: number,
  device: Device,
): Promise<LogitEffect[] | null> {
  let graph: { path: string; inputType: number };
  try {
    graph = writeUnembedGraph(
      componentGraph(path.join(modelFolder, 'onnx'), 'decoder_model_merged') ?? path.join(modelFolder, 'onnx', 'decoder_model_merged.onnx'),
      {
        cacheDir: layoutOf(ctx.workspaceDir).graphCache,
      },
    );
  } catch {
    return null; // An export whose logits cannot be sliced from the stream: the page says logit effects are unavailable.
  }
  const session = await ctx.pool.load(graph.path, device);
  const exclude = specialTokenIds(modelFolder);
  const d = sae.dIn;
  const perCall = 256;
  const effects: LogitEffect[] = [];
  for (let start = 0; start < sae.dSae; start += perCall) {
    if (ctx.signal.aborted) throw new Error('cancelled');
    const count = Math.min(perCall, sae.dSae - start);
    const dirs = sae.W_dec.subarray(start * d, (start + count) * d);
    const feed =
      graph.inputType === DataType.FLOAT16
        ? { type: 'float16' as const, dims: [1, count, d], data: floatToHalf(dirs) }
        : { type: 'float32' as const, dims: [1, count, d], data: dirs };
    const out = await ctx.pool.run(session, { [session.inputNames[0]!]: feed });
    const logits = out.logits!;
    const vocab = logits.dims[2]!;
    const values = logits.data instanceof Float32Array ? logits.data : Float32Array.from(logits.data as unknown as ArrayLike<number>);
    for (let i = 0; i < count; i++) effects.push(extremes(values.subarray(i * vocab, (i + 1) * vocab), n, exclude));
  }
  return effects;
}
