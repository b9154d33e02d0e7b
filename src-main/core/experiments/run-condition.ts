/**
 * One experiment condition over every item, batch by batch, through the one edited decoder: the
 * activation shift at the edited prompt positions (the tap read with identity vs this condition's
 * inputs), the generated answer extracted and graded as the evaluation harness does, and the KL
 * divergence of the first answer token's distribution from the baseline's.
 */
import path from 'node:path';
import type { ExperimentSpec } from '../../contract/contract.js';
import type { StoredItem } from '../datasets/dataset-store.js';
import { choicesFor } from '../eval/choices.js';
import { extractAnswer, isCorrect } from '../eval/extract.js';
import { throwIfCancelled } from '../jobs/job-kind.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import type { VlmPipeline } from '../vlm/pipeline.js';
import type { Condition } from './conditions.js';
import { meanShift, promptMask, type EditFeeds } from './edit-inputs.js';
import type { StoredOutput } from './experiment-store.js';
import { klFromLogits } from './stats.js';

export interface ConditionRun {
  pool: PoolClient;
  signal: AbortSignal;
  vlm: VlmPipeline;
  /** The edited decoder, loaded, and its file (for generation). */
  session: SessionHandle;
  editedPath: string;
  tap: string;
  /** The tap's width. */
  d: number;
  feeds: EditFeeds;
  spec: Pick<ExperimentSpec, 'batchSize' | 'where' | 'maxNewTokens'>;
  items: StoredItem[];
  datasetPath: string;
  textChoices: string[];
  /** Each item's first-token logits under the baseline, filled by the baseline's run. */
  baselineLogits: Map<number, Float32Array>;
}

/** `c`'s outputs over every item; `control` is the outputs of the condition a random direction is sized by. */
export async function runCondition(
  r: ConditionRun,
  baseline: Condition,
  c: Condition,
  control: Map<number, StoredOutput> | null,
): Promise<StoredOutput[]> {
  const outputs: StoredOutput[] = [];
  for (let start = 0; start < r.items.length; start += r.spec.batchSize) {
    throwIfCancelled(r.signal);
    const batch = r.items.slice(start, start + r.spec.batchSize);
    const vlmItems = batch.map((it) => ({ image: path.join(r.datasetPath, it.image), prompt: it.question }));
    const prefix = await r.vlm.prepare(vlmItems);
    const mask = promptMask(prefix, r.spec.where);
    const norms = c.kind === 'random-direction' ? batch.map((it) => control!.get(it.id)?.shiftNorm ?? 0) : null;
    const tapOf = async (cond: Condition, n: number[] | null) =>
      (await r.pool.run(r.session, { ...r.vlm.prefillFeeds(prefix), ...r.feeds(cond, prefix.batch, prefix.length, mask, n) }, [r.tap]))[
        r.tap
      ]!.data as Float32Array;
    const x0 = await tapOf(baseline, null);
    const x1 = await tapOf(c, norms);
    const shift = meanShift(x0, x1, mask, batch.length, prefix.length, r.d);
    const generatedMask = new Float32Array(prefix.batch).fill(r.spec.where === 'generated' || r.spec.where === 'all' ? 1 : 0);
    const gen = await r.vlm.generate(vlmItems, {
      maxNewTokens: r.spec.maxNewTokens,
      returnFirstLogits: true,
      edit: {
        decoderPath: r.editedPath,
        feeds: (pre) => ({
          prefill: r.feeds(c, pre.batch, pre.length, promptMask(pre, r.spec.where), norms),
          step: r.feeds(c, pre.batch, 1, generatedMask, norms),
        }),
      },
    });
    const vocab = gen.result.firstLogits!.length / batch.length;
    batch.forEach((it, row) => {
      const logits = gen.result.firstLogits!.subarray(row * vocab, (row + 1) * vocab);
      if (c.kind === 'baseline') r.baselineLogits.set(it.id, Float32Array.from(logits));
      const extraction = extractAnswer(gen.outputs[row]!.text, it.answer.type, choicesFor(it, r.textChoices));
      outputs.push({
        itemId: it.id,
        condition: c.id,
        raw: gen.outputs[row]!.text,
        extracted: extraction.value === null ? null : String(extraction.value),
        correct: isCorrect(it.answer, extraction),
        shiftNorm: shift[row]!,
        kl: c.kind === 'baseline' ? 0 : klFromLogits(r.baselineLogits.get(it.id)!, logits),
      });
    });
  }
  return outputs;
}
