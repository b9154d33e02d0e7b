/**
 * Prompts for the explainer, detection scorer and simulator, and strict parsers of their replies.
 * They follow Delphi's formats: examples numbered, the token a feature fires on marked <<like this>>,
 * the explanation on a last line "[EXPLANATION]: …", the scorers' verdicts as one JSON list in example
 * order. A reply that does not parse is refused with the reason (a guess would be a silently wrong score).
 * Image examples are described in words; a multimodal endpoint also gets, per example, a crop around
 * the patch and a heatmap of the feature over the image (`images`, attached by the caller).
 */
import type { FeatureExample } from '../../contract/contract.js';
import { OcularError } from '../errors.js';
import type { ChatMessage, ContentPart } from './chat-client.js';

/** Bumped when any prompt changes: stored with each explanation as provenance. */
export const PROMPT_VERSION = 'ocular-autointerp-1';

export type PromptExample = Pick<FeatureExample, 'modality' | 'context' | 'question' | 'patchRow' | 'patchCol' | 'heatmap'>;
/** Per example, the image parts a multimodal endpoint sees (crop, heatmap), or none. */
export type ExampleImages = Array<ContentPart[]>;

const clean = (t: string) => t.replace(/[\r\n]+/g, ' ');

/** One example in words: its text with the token marked, or which patch of which image. */
export function describeExample(e: PromptExample, showActivations: boolean): string {
  if (e.modality === 'image') {
    const grid = e.heatmap ? ` of a ${e.heatmap.rows}x${e.heatmap.cols} grid` : '';
    return `Image patch at row ${e.patchRow ?? '?'}, column ${e.patchCol ?? '?'}${grid}, in an image the model was asked: "${clean(e.question)}"`;
  }
  const max = Math.max(0, ...e.context.map((t) => t.activation));
  const text = e.context
    .map((t) => {
      const mark = t.at || (showActivations && t.activation > 0);
      if (!mark) return clean(t.token);
      const value = showActivations ? ` (${Math.round((10 * t.activation) / (max || 1))})` : '';
      return `<<${clean(t.token)}>>${value}`;
    })
    .join('');
  return `Text: ${text}`;
}

function withImages(
  text: string,
  examples: readonly PromptExample[],
  images: ExampleImages | null,
  intro: (i: number) => string,
): ContentPart[] {
  const parts: ContentPart[] = [{ type: 'text', text }];
  if (images)
    examples.forEach((_, i) => {
      if (images[i]?.length) parts.push({ type: 'text', text: intro(i) }, ...images[i]!);
    });
  return parts;
}

const EXPLAINER_SYSTEM = `You are a meticulous AI researcher investigating features of a vision-language model's sparse autoencoder.
You will see examples on which one feature fires strongly: text tokens (the token is marked <<like this>>, with the feature's activation from 0 to 10 after it) and image patches (described by position; if images are attached, a crop around the patch and a heatmap of the feature over the image, brighter red where it fires more).
Find what the examples have in common and explain in one short sentence what the feature detects. Be concise and specific; do not list examples.
The last line of your reply must be: [EXPLANATION]: <your explanation>`;

export function explainerMessages(examples: readonly PromptExample[], images: ExampleImages | null): ChatMessage[] {
  const body = examples.map((e, i) => `Example ${i + 1}: ${describeExample(e, true)}`).join('\n');
  return [
    { role: 'system', content: EXPLAINER_SYSTEM },
    { role: 'user', content: withImages(body, examples, images, (i) => `Images of example ${i + 1}:`) },
  ];
}

export function parseExplanation(reply: string): string {
  const matches = [...reply.matchAll(/\[EXPLANATION\]\s*:\s*(.+)/gi)];
  const text = matches
    .at(-1)?.[1]
    ?.trim()
    .replace(/^["']|["']$/g, '');
  if (!text) throw new OcularError('internal', 'The explainer did not end its reply with an "[EXPLANATION]: …" line.');
  return text.slice(0, 500);
}

const DETECTION_SYSTEM = `You are an intelligent and meticulous linguistics and vision researcher.
You will be given an explanation of a feature of a vision-language model, and examples: text (the token in question marked <<like this>>) or image patches (described by position; if images are attached, a crop around the patch).
For each example, decide whether the feature, as explained, fires on the marked token or patch: 1 if it does, 0 if it does not.
Reply with one JSON list of 0s and 1s, one per example in order, and nothing else, e.g. [1, 0, 0, 1].`;

const SIMULATION_SYSTEM = `You are simulating a feature of a vision-language model from its explanation.
You will be given the explanation and examples: text (the token in question marked <<like this>>) or image patches (described by position; if images are attached, a crop around the patch).
For each example, predict how strongly the feature fires on the marked token or patch, as a whole number from 0 (not at all) to 10 (as strongly as it ever does).
Reply with one JSON list of integers, one per example in order, and nothing else, e.g. [0, 7, 10, 0].`;

function scorerMessages(
  system: string,
  explanation: string,
  examples: readonly PromptExample[],
  images: ExampleImages | null,
): ChatMessage[] {
  const body = `Explanation: ${explanation}\n\n${examples.map((e, i) => `Example ${i + 1}: ${describeExample(e, false)}`).join('\n')}`;
  return [
    { role: 'system', content: system },
    { role: 'user', content: withImages(body, examples, images, (i) => `Image of example ${i + 1}:`) },
  ];
}

export const detectionMessages = (explanation: string, examples: readonly PromptExample[], images: ExampleImages | null) =>
  scorerMessages(DETECTION_SYSTEM, explanation, examples, images);
export const simulationMessages = (explanation: string, examples: readonly PromptExample[], images: ExampleImages | null) =>
  scorerMessages(SIMULATION_SYSTEM, explanation, examples, images);

/** The last JSON list of numbers in a reply, which must have `n` entries, each allowed by `ok`. */
function parseList(reply: string, n: number, what: string, ok: (v: number) => boolean): number[] {
  const lists = [...reply.matchAll(/\[[^[\]]*\]/g)];
  for (const m of lists.reverse()) {
    let v: unknown;
    try {
      v = JSON.parse(m[0]);
    } catch {
      continue;
    }
    if (!Array.isArray(v)) continue;
    if (v.length !== n || !v.every((x) => typeof x === 'number' && ok(x)))
      throw new OcularError('internal', `The ${what} replied ${m[0].slice(0, 80)}, not a list of ${n} allowed values.`);
    return v as number[];
  }
  throw new OcularError('internal', `The ${what} reply holds no JSON list: "${reply.slice(0, 80).replace(/\s+/g, ' ')}"`);
}

export const parseDetection = (reply: string, n: number): boolean[] =>
  parseList(reply, n, 'detection scorer', (x) => x === 0 || x === 1).map((x) => x === 1);
export const parseSimulation = (reply: string, n: number): number[] =>
  parseList(reply, n, 'simulator', (x) => Number.isInteger(x) && x >= 0 && x <= 10);
