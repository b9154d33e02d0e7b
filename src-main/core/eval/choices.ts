import type { StoredItem } from '../datasets/dataset-store.js';

const YES_NO = ['yes', 'no'];

/** The answer space a grader reads from: yes/no for yes/no questions, else the dataset's other text answers. */
export function choicesFor(item: StoredItem, textChoices: string[]): string[] {
  if (item.answer.type !== 'text') return [];
  if (YES_NO.includes(String(item.answer.value).toLowerCase())) return YES_NO;
  return textChoices.filter((c) => !YES_NO.includes(c.toLowerCase()));
}
