/**
 * One experiment condition over every item, batch by batch, through the one edited graph (the
 * decoder's; for a vision-tower tap the vision encoder's, see vision-edit.ts): the
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
import type { VlmItem, VlmPipeline } from '../vlm/pipeline.js';
import type { Condition } from './conditions.js';
import { meanShift, promptMask, type EditFeeds, type PositionFeeds } from './edit-inputs.js';
import { editVisionTower, type VisionTap } from './vision-edit.js';
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
  /** A vision-tower tap: the edited graph is the vision encoder's (vision-edit.ts); null for a decoder tap. */
  vision: { tap: VisionTap; at: PositionFeeds; byId: Map<string, Condition> } | null;
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
    const norms = c.kind === 'random-direction' ? batch.map((it) => control!.get(it.id)?.shiftNorm ?? 0) : null;
    const { shift, gen } = r.vision
      ? await visionBatch(r, r.vision, vlmItems, c, norms)
      : await decoderBatch(r, vlmItems, baseline, c, norms);
    const vocab = gen.result.firstLogits!.length / batch.length;
    batch.forEach((it, row) => {
      const logits = gen.result.firstLogits!.subarray(row * vocab, (row + 1) * vocab);
      if (c.kind === 'baseline') r.baselineLogits.set(it.id, Float32Array.from(logits));
      const extraction = extractAnswer(
        gen.outputs[row]!.text,
        it.answer.type,
        choicesFor(it, r.textChoices),
        r.vlm.extractOptions(vlmItems[row]!.prompt),
      );
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

type Generated = Awaited<ReturnType<VlmPipeline['generate']>>;

/** A decoder tap: the shift at the edited prompt positions, then generation through the edited decoder. */
async function decoderBatch(
  r: ConditionRun,
  vlmItems: VlmItem[],
  baseline: Condition,
  c: Condition,
  norms: number[] | null,
): Promise<{ shift: number[]; gen: Generated }> {
  const prefix = await r.vlm.prepare(vlmItems);
  const mask = promptMask(prefix, r.spec.where);
  const tapOf = async (cond: Condition, n: number[] | null) =>
    (await r.pool.run(r.session, { ...r.vlm.prefillFeeds(prefix), ...r.feeds(cond, prefix.batch, prefix.length, mask, n) }, [r.tap]))[
      r.tap
    ]!.data as Float32Array;
  const x0 = await tapOf(baseline, null);
  const x1 = await tapOf(c, norms);
  const shift = meanShift(x0, x1, mask, vlmItems.length, prefix.length, r.d);
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
  return { shift, gen };
}

/** A vision-tower tap: the edited vision graph makes the image features the (unedited) decoder reads. */
async function visionBatch(
  r: ConditionRun,
  v: NonNullable<ConditionRun['vision']>,
  vlmItems: VlmItem[],
  c: Condition,
  norms: number[] | null,
): Promise<{ shift: number[]; gen: Generated }> {
  // The features whose firing picks the patches: a random direction goes where its intervention's fire.
  const firing = c.kind === 'random-direction' ? v.byId.get(c.controlFor!)!.features : c.features;
  const { shift, batchFeeds } = await editVisionTower(r.pool, r.vlm, r.session, vlmItems, v.tap, v.at, c, firing, norms);
  const gen = await r.vlm.generate(vlmItems, {
    maxNewTokens: r.spec.maxNewTokens,
    returnFirstLogits: true,
    visionEdit: { visionPath: r.editedPath, feeds: () => batchFeeds },
  });
  return { shift, gen };
}
