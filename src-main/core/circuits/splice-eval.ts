/**
 * Spliced evaluation over named modes, for the replacement-model check (every MLP replaced by its
 * transcoder at once); sae-eval's per-batch steps for one SAE are sae/splice-eval.ts, whose scored
 * tokens this uses. One edited decoder graph; each *mode* is a set of inputs
 * to its edits (clean = identity inputs, so bit-identical to the model). Over dataset items with their
 * reference answers appended (teacher forcing) it sums next-token cross-entropy per mode on the
 * scored tokens; optionally it generates answers clean and under one mode and grades both.
 */
import path from 'node:path';
import type { StoredItem } from '../datasets/dataset-store.js';
import { countCorrect } from '../eval/choices.js';
import { throwIfCancelled } from '../jobs/job-kind.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import { scoredTokens } from '../sae/splice-eval.js';
import { crossEntropySum } from '../sae/splice-metrics.js';
import type { PromptLayout, VlmPipeline } from '../vlm/pipeline.js';

/** The edit inputs of one mode over `batch` x `length` positions; `mask` (attention mask) says where edits apply. */
export type ModeFeeds = (batch: number, length: number, mask?: Uint8Array) => Record<string, WireTensor>;

export interface SpliceEvalOptions<M extends string> {
  vlm: VlmPipeline;
  pool: PoolClient;
  /** The edited decoder, loaded beside the token embedding (so generation under an edit needs no reload). */
  session: SessionHandle;
  editedPath: string;
  datasetDir: string;
  items: StoredItem[];
  textChoices: string[];
  batchSize: number;
  scoreTokens: 'answer' | 'text';
  modes: Record<M, ModeFeeds>;
  /** Generate and grade answers clean and under this mode (null: cross-entropy only). */
  accuracyMode: M | null;
  maxNewTokens: number;
  signal: AbortSignal;
  progress: (fraction: number, message: string) => void;
}

export interface SpliceEvalResult<M extends string> {
  items: number;
  /** Scored next-token targets. */
  tokens: number;
  /** Mean cross-entropy (nats per target) per mode. */
  ce: Record<M, number>;
  accuracyClean: number | null;
  accuracyEdited: number | null;
}

export async function spliceEvaluate<M extends string>(o: SpliceEvalOptions<M>): Promise<SpliceEvalResult<M>> {
  const modes = Object.keys(o.modes) as M[];
  const ce = Object.fromEntries(modes.map((m) => [m, 0])) as Record<M, number>;
  let targets = 0;
  let correctClean = 0;
  let correctEdited = 0;
  const steps = Math.ceil(o.items.length / o.batchSize) * (o.accuracyMode ? 2 : 1);
  let done = 0;
  for (let start = 0; start < o.items.length; start += o.batchSize) {
    throwIfCancelled(o.signal);
    const batch = o.items.slice(start, start + o.batchSize);
    const vlmItems = batch.map((it) => ({ image: path.join(o.datasetDir, it.image), prompt: it.question }));
    const prompt = await o.vlm.prepare(vlmItems);
    const answers = batch.map((it) => o.vlm.tokenize(String(it.answer.value)));
    const { prefix } = await o.vlm.appendTokens(prompt, answers);
    const batchTargets = scoredTokens(prompt, answers, o.scoreTokens);
    targets += batchTargets.length;
    for (const mode of modes) {
      const feeds = o.modes[mode](prefix.batch, prefix.length, prefix.attentionMask);
      const out = await o.pool.run(o.session, { ...o.vlm.prefillFeeds(prefix), ...feeds }, ['logits']);
      const logits = out.logits!;
      ce[mode] += crossEntropySum(logits.data as Float32Array, prefix.length, logits.dims[2]!, batchTargets);
    }
    const upTo = Math.min(start + o.batchSize, o.items.length);
    o.progress(++done / steps, `cross-entropy: ${upTo} of ${o.items.length} items`);

    if (o.accuracyMode) {
      const modeFeeds = o.modes[o.accuracyMode];
      const grade = (texts: string[]) => countCorrect(batch, texts, o.textChoices, o.vlm.extractOptions(vlmItems[0]!.prompt));
      const clean = await o.vlm.generate(vlmItems, { maxNewTokens: o.maxNewTokens });
      const edited = await o.vlm.generate(vlmItems, {
        maxNewTokens: o.maxNewTokens,
        edit: {
          decoderPath: o.editedPath,
          feeds: (pre: PromptLayout) => ({ prefill: modeFeeds(pre.batch, pre.length, pre.attentionMask), step: modeFeeds(pre.batch, 1) }),
        },
      });
      correctClean += grade(clean.outputs.map((x) => x.text));
      correctEdited += grade(edited.outputs.map((x) => x.text));
      o.progress(++done / steps, `accuracy: ${upTo} of ${o.items.length} items`);
    }
  }
  const mean = Object.fromEntries(modes.map((m) => [m, targets > 0 ? ce[m] / targets : NaN])) as Record<M, number>;
  return {
    items: o.items.length,
    tokens: targets,
    ce: mean,
    accuracyClean: o.accuracyMode ? correctClean / o.items.length : null,
    accuracyEdited: o.accuracyMode ? correctEdited / o.items.length : null,
  };
}
