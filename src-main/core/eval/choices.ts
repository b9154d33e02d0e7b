import type { StoredItem } from '../datasets/dataset-store.js';
import { extractAnswer, isCorrect, type ExtractOptions } from './extract.js';

const YES_NO = ['yes', 'no'];

/** The answer space a grader reads from: yes/no for yes/no questions, else the dataset's other text answers. */
export function choicesFor(item: StoredItem, textChoices: string[]): string[] {
  if (item.answer.type !== 'text') return [];
  if (YES_NO.includes(String(item.answer.value).toLowerCase())) return YES_NO;
  return textChoices.filter((c) => !YES_NO.includes(c.toLowerCase()));
}

/**
 * How many of `texts` (one generated output per item of `batch`) the harness grades correct;
 * `options` as the prompts were templated (VlmPipeline.extractOptions).
 */
export function countCorrect(batch: StoredItem[], texts: string[], textChoices: string[], options: ExtractOptions = {}): number {
  return texts.filter((text, i) =>
    isCorrect(batch[i]!.answer, extractAnswer(text, batch[i]!.answer.type, choicesFor(batch[i]!, textChoices), options)),
  ).length;
}
