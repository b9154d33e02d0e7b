/**
 * Spliced-in evaluation of an SAE, per batch: the decoder tap replaced by the SAE's reconstruction
 * (graph surgery, error term dropped) or zero-ablated, next-token cross-entropy summed over scored
 * tokens in each mode, and benchmark accuracy of generated answers with and without the splice.
 * The metrics (splice-metrics.ts) come from the sums over every batch.
 */
import type { SaeEvaluation } from '../../contract/contract.js';
import type { StoredItem } from '../datasets/dataset-store.js';
import { countCorrect } from '../eval/choices.js';
import { saeIdentityInputs } from '../onnx/surgery.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import type { PreparedPrefix, PromptLayout, VlmItem, VlmPipeline } from '../vlm/pipeline.js';
import { crossEntropySum, lossRecovered } from './splice-metrics.js';

export type Mode = 'clean' | 'spliced' | 'zero';
export const MODES = ['clean', 'spliced', 'zero'] as const;

/** The SAE edit's inputs for a mode, over `batch` x `length` positions (mask: where it applies). */
export function spliceFeeds(dSae: number, batch: number, length: number, mode: Mode, mask?: Uint8Array): Record<string, WireTensor> {
  const feeds = saeIdentityInputs('s', dSae, batch, length);
  if (mask) feeds['sae.s.position_mask']!.data.set(mask);
  if (mode === 'spliced') feeds['sae.s.keep_error']!.data.fill(0);
  if (mode === 'zero') feeds['sae.s.output_scale']!.data.fill(0);
  return feeds;
}

export type Target = { row: number; position: number; token: number };

/** Scored tokens: the answer's tokens, or every next token that is text (prompt text after the image, then the answer). */
export function scoredTokens(prompt: PromptLayout, answers: number[][], scoreTokens: 'answer' | 'text'): Target[] {
  const targets: Target[] = [];
  for (let r = 0; r < prompt.batch; r++) {
    if (scoreTokens === 'answer') {
      answers[r]!.forEach((token, i) => targets.push({ row: r, position: prompt.length - 1 + i, token }));
      continue;
    }
    const row = [
      ...prompt.tokens[r]!.map((t) => ({ modality: t.modality, tokenId: t.tokenId })),
      ...answers[r]!.map((tokenId) => ({ modality: 'text', tokenId })),
    ];
    for (let i = 0; i + 1 < row.length; i++) {
      if (row[i]!.modality === 'pad' || row[i + 1]!.modality !== 'text' || row[i + 1]!.tokenId === null) continue;
      targets.push({ row: r, position: i, token: row[i + 1]!.tokenId! });
    }
  }
  return targets;
}

/** Summed cross-entropy of the targets in each mode, through the edited decoder. */
export async function crossEntropyByMode(
  pool: PoolClient,
  session: SessionHandle,
  vlm: VlmPipeline,
  prefix: PreparedPrefix,
  dSae: number,
  targets: Target[],
): Promise<Record<Mode, number>> {
  const ce: Record<Mode, number> = { clean: 0, spliced: 0, zero: 0 };
  for (const mode of MODES) {
    const feeds = { ...vlm.prefillFeeds(prefix), ...spliceFeeds(dSae, prefix.batch, prefix.length, mode, prefix.attentionMask) };
    const logits = (await pool.run(session, feeds, ['logits'])).logits!;
    ce[mode] += crossEntropySum(logits.data as Float32Array, prefix.length, logits.dims[2]!, targets);
  }
  return ce;
}

/** Correct generated answers of a batch without and with the splice. */
export async function accuracyPair(
  vlm: VlmPipeline,
  vlmItems: VlmItem[],
  batch: StoredItem[],
  edited: { path: string; dSae: number },
  textChoices: string[],
  maxNewTokens: number,
): Promise<{ clean: number; spliced: number }> {
  const grade = (texts: string[]) => countCorrect(batch, texts, textChoices, vlm.extractOptions(vlmItems[0]!.prompt));
  const clean = await vlm.generate(vlmItems, { maxNewTokens });
  const spliced = await vlm.generate(vlmItems, {
    maxNewTokens,
    edit: {
      decoderPath: edited.path,
      feeds: (pre: PromptLayout) => ({
        prefill: spliceFeeds(edited.dSae, pre.batch, pre.length, 'spliced', pre.attentionMask),
        step: spliceFeeds(edited.dSae, pre.batch, 1, 'spliced'),
      }),
    },
  });
  return { clean: grade(clean.outputs.map((o) => o.text)), spliced: grade(spliced.outputs.map((o) => o.text)) };
}

/** The evaluation from the sums over every batch (accuracy null when it was not measured). */
export function spliceEvaluation(
  items: number,
  tokens: number,
  ce: Record<Mode, number>,
  correct: { clean: number; spliced: number } | null,
): SaeEvaluation {
  const mean = (m: Mode) => ce[m] / tokens;
  return {
    items,
    tokens,
    ceClean: mean('clean'),
    ceSpliced: mean('spliced'),
    ceZeroAblated: mean('zero'),
    ceIncrease: mean('spliced') - mean('clean'),
    ceLossRecovered: lossRecovered(mean('clean'), mean('spliced'), mean('zero')),
    accuracyClean: correct ? correct.clean / items : null,
    accuracySpliced: correct ? correct.spliced / items : null,
    accuracyChange: correct ? (correct.spliced - correct.clean) / items : null,
  };
}
