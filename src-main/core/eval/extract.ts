/**
 * Answer extraction: turn a model's free-form output into a typed answer. Studies of reasoning VLMs
 * found scores doubling between strict parsing and robust extraction on the same outputs (34% -> 66%),
 * so this is forgiving about form and strict about content. The rules, in order:
 *
 *   1. surface      chat tokens, markdown, typographic signs removed (answer-text.ts); the turn ends at
 *                   its first end-of-turn token.
 *   2. think block  only the text after the last </think> can answer. A think block that never closed
 *                   is no answer ('unfinished-think'), and so is nothing after it ('empty-after-think'):
 *                   never a number taken from the thinking (see splitThinking for why).
 *   3. segment      the answer segment, first found wins: <answer>…</answer> ('answer-tag'), the last
 *                   \boxed{…} ('boxed'), "final answer: …" ('final-answer'), "the answer is …"
 *                   ('answer-is'), a line "Answer: …" ('answer-label'), the sentences where the model
 *                   bolded a value ('bold'); otherwise the whole output ('last-number', 'last-choice',
 *                   or 'whole' for free text), less a trailing "Explanation:" section. LaTeX becomes
 *                   plain text here (\frac{3}{8} -> 3/8, \text{red} -> red).
 *   4. value        read by type: numbers (answer-numbers.ts: first stated in a segment, last in the
 *                   whole output, signs kept), yes/no (readYesNo), one of the known choices (readChoice),
 *                   or the normalised text.
 * Each extraction says which rule found it, so a reviewer can audit the numbers.
 */
import { lastBoxed, normalizeTypography, splitThinking, stripChatTokens, stripLatex, stripMarkdown } from './answer-text.js';
import { readNumber } from './answer-numbers.js';

export { numbersIn } from './answer-numbers.js';

export type AnswerType = 'integer' | 'float' | 'text';
export type Method =
  | 'answer-tag'
  | 'boxed'
  | 'final-answer'
  | 'answer-is'
  | 'answer-label'
  | 'bold'
  | 'whole'
  | 'last-number'
  | 'last-choice'
  | 'unfinished-think'
  | 'empty-after-think'
  | 'none';

export interface Extraction {
  value: number | string | null;
  method: Method;
}

export interface ExpectedAnswer {
  type: AnswerType;
  value: number | string;
}

type SegmentRule = 'answer-tag' | 'boxed' | 'final-answer' | 'answer-is' | 'answer-label' | 'bold' | 'whole';

interface Segment {
  text: string;
  rule: SegmentRule;
}

/** Labelled answer segments in priority order; each takes the last match (a corrected answer wins). */
const LABELS: Array<[SegmentRule, RegExp]> = [
  ['final-answer', /final answer\s*(?:is|:|=|-)?\s*:?\s*([^\n]+)/gi],
  ['answer-is', /\b(?:the )?answer (?:is|would be|will be|should be)\s*:?\s*([^\n]+)/gi],
  ['answer-label', /(?:^|\n)[ \t]*(?:short |correct |my )?answer\s*[:=-]\s*([^\n]+)/gi],
];

function lastMatch(text: string, re: RegExp): string | null {
  let last: string | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1]!;
  return last;
}

/**
 * A section that explains an answer already given ("The shape is a circle.\n\n**Reasoning:** ... unlike
 * a square"), as Gemma-3 prints them: the bold and whole-output rules read the text before it.
 */
const EXPLANATION = /\n[ \t*_#>-]*(?:explanation|reasoning|justification|rationale|note|why)[*_ \t]*:[\s\S]*$/i;

function withoutExplanation(markdown: string): string {
  const cut = markdown.replace(EXPLANATION, '');
  return /[a-z0-9]/i.test(cut) ? cut : markdown;
}

type Reader = (text: string, whole: boolean) => number | string | null;

const plain = (markdown: string) => stripLatex(stripMarkdown(markdown));
const BOLD = /\*\*([^*\n]+?)\*\*|__([^_\n]+?)__/g;
const SENTENCE_END = /(?<=[.!?](?:\*\*|__)?)\s+(?=[A-Z*_$\\(\d])/;

/**
 * The sentences in which the model bolded a value of the answer's type ("There are **3** circles. One
 * is red and two are blue." is 3), read as the whole output is; bold labels ending in ":" do not count.
 */
function boldSentences(markdown: string, read: Reader): string | null {
  const kept: string[] = [];
  for (const line of markdown.split('\n')) {
    for (const sentence of line.split(SENTENCE_END)) {
      const spans = [...sentence.matchAll(BOLD)].map((m) => (m[1] ?? m[2]!).trim()).filter((span) => !span.endsWith(':'));
      if (spans.some((span) => read(plain(span), true) !== null)) kept.push(sentence);
    }
  }
  return kept.length > 0 ? plain(kept.join('\n')) : null;
}

/** Answer segments in priority order; the whole output always comes last. */
function segments(markdown: string, read: Reader): Segment[] {
  const text = stripMarkdown(markdown);
  const out: Segment[] = [];
  const tag = lastMatch(text, /<answer>([\s\S]*?)<\/answer>/gi);
  if (tag !== null) out.push({ text: stripLatex(tag), rule: 'answer-tag' });
  const boxed = lastBoxed(text);
  if (boxed !== null) out.push({ text: stripLatex(boxed), rule: 'boxed' });
  const labelled = stripLatex(text);
  for (const [rule, re] of LABELS) {
    const found = lastMatch(labelled, re);
    if (found !== null) out.push({ text: found, rule });
  }
  const body = withoutExplanation(markdown.replace(/<\/?answer>/gi, ' '));
  const bold = boldSentences(body, read);
  if (bold !== null) out.push({ text: bold, rule: 'bold' });
  out.push({ text: plain(body), rule: 'whole' });
  return out;
}

// ---- yes / no ----

const YES = ['yes', 'yeah', 'yep', 'yup', 'true', 'correct', 'affirmative'];
const NEGATION = /\b(?:not|no|none|nothing|neither|never|cannot)\b|n't\b/i;
const EXISTENCE = /\bthere (?:is|are) (?:a|an|one|some|\d+|two|three|four|five|several|many)\b/i;
/**
 * Answer words: interjections anywhere; "no", "true", "correct" ... only where they end a clause or
 * open one ("no, ...", "no it isn't", "so, true."), so "there is no circle" or "the correct shape" is
 * not an answer word.
 */
const ANSWER_WORD =
  /\b(?:(yes|yeah|yep|yup|nope)|(no|true|false|correct|incorrect|affirmative)(?=\s*(?:[.,!?;:)\n]|$)|\s+(?:it|there|the|this|that|they|because|since|as|i|so|but|not)\b))/gi;

function answerWords(text: string): Array<'yes' | 'no'> {
  return [...text.matchAll(ANSWER_WORD)].map((m) => (YES.includes((m[1] ?? m[2])!.toLowerCase()) ? 'yes' : 'no'));
}

/**
 * Yes/no: an answer word the output starts with ("Yes, the circle ...", "**No.** ..."); else the answer
 * words it contains (ANSWER_WORD) — the last in the whole output (a conclusion), the first in a segment;
 * else the last sentence's cue: a negation is no, "there is a ..." is yes; else nothing. A bare
 * statement ("The square is above the triangle") is not read as yes: that needs the question.
 */
function readYesNo(segment: string, whole: boolean): string | null {
  const lead = /^[^a-z]*(yes|yeah|yep|yup|true|correct|affirmative|no|nope|false|incorrect)\b/i.exec(segment);
  if (lead) return YES.includes(lead[1]!.toLowerCase()) ? 'yes' : 'no';
  const words = answerWords(segment);
  if (words.length > 0) return whole ? words[words.length - 1]! : words[0]!;
  const sentences = segment.split(/[.!?\n]+/).filter((s) => /[a-z]/i.test(s));
  const last = sentences[sentences.length - 1] ?? '';
  if (NEGATION.test(last)) return 'no';
  if (EXISTENCE.test(last)) return 'yes';
  return null;
}

// ---- known choices ----

const FILLER = ['a', 'an', 'the', 'is', 'it', 'its', 'color', 'colour', 'colored', 'coloured', 'shape', 'shaped'];
const SYNONYMS: Record<string, string> = { grey: 'gray', violet: 'purple', rhombus: 'diamond', rectangle: 'square', ball: 'circle' };
const NEGATORS = [
  'not',
  'no',
  'nor',
  'neither',
  'never',
  'than',
  'unlike',
  'without',
  'instead',
  'cannot',
  "isn't",
  "aren't",
  "wasn't",
  "weren't",
  "doesn't",
  "don't",
];

function normalizeWord(w: string): string {
  const bare = SYNONYMS[w] ?? w;
  return bare.length > 3 && bare.endsWith('s') && !bare.endsWith('ss') ? (SYNONYMS[bare.slice(0, -1)] ?? bare.slice(0, -1)) : bare;
}

function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9./%'\- ]+/g, ' ')
    .split(/[\s-]+/)
    .filter(Boolean);
}

export function normalizeText(s: string): string {
  return words(s)
    .map((w) => w.replace(/[.']+$/, ''))
    .filter((w) => !FILLER.includes(w))
    .map(normalizeWord)
    .join(' ');
}

/**
 * Glosses that describe a named choice rather than answer: parentheses, "i.e. / e.g. / also called /
 * a.k.a." clauses, ", which …", ", like …", ", similar to …", ", resembling …", concessions
 * (", although …", ", while …") and dash asides. "a diamond (a rotated square)" asserts diamond.
 */
const GLOSSES = [
  /\([^()]*\)/g,
  /(?:,\s*|\s+)(?:i\.e\.|e\.g\.|that is|also (?:called|known as)|a\.k\.a\.|sometimes called|or rather)[^.;!?\n]*/gi,
  /,\s*(?:which|similar to|like|resembling|much like|although|though|even though|whereas|while)\b[^.;!?\n]*/gi,
  /\s[-\u2013\u2014]{1,2}\s[^.;!?\n\u2013\u2014]*(?:[-\u2013\u2014]{1,2}|(?=[.;!?\n]|$))/g,
];

function withoutGlosses(text: string): string {
  return GLOSSES.reduce((t, re) => t.replace(re, ' '), text);
}

interface ChoiceHit {
  at: number;
  value: string;
  negated: boolean;
}

/**
 * Where each choice is named, and whether it is negated: a negator ("not", "than", "instead of",
 * "isn't" ...) among the three words before it, within its clause (punctuation and "but" end the look-back).
 */
function choiceHits(text: string, choices: string[]): ChoiceHit[] {
  const stream = [...text.toLowerCase().matchAll(/[a-z0-9]+(?:'[a-z]+)?|[.,;:!?()\n]/g)]
    .map((m) => m[0])
    .filter((w) => !FILLER.includes(w))
    .map((w) => (/^[a-z0-9]/.test(w) ? normalizeWord(w) : '|'));
  const hits: ChoiceHit[] = [];
  for (const value of choices) {
    const target = normalizeText(value).split(' ').filter(Boolean);
    if (target.length === 0) continue;
    for (let i = 0; i + target.length <= stream.length; i++) {
      if (!target.every((w, j) => stream[i + j] === w)) continue;
      let negated = false;
      for (let j = i - 1; j >= Math.max(0, i - 3) && stream[j] !== '|' && stream[j] !== 'but'; j--)
        negated ||= NEGATORS.includes(stream[j]!);
      hits.push({ at: i, value, negated });
    }
  }
  return hits.sort((a, b) => a.at - b.at);
}

/**
 * A known choice: the one the text asserts — glosses skipped (then counted if nothing else names a
 * choice), negated mentions never — the first in a segment, the last in the whole output.
 */
function readChoice(segment: string, choices: string[], whole: boolean): string | null {
  for (const text of [withoutGlosses(segment), segment]) {
    const asserted = choiceHits(text, choices).filter((h) => !h.negated);
    if (asserted.length > 0) return (whole ? asserted[asserted.length - 1]! : asserted[0]!).value;
  }
  return null;
}

// ---- the pipeline ----

function wholeMethod(type: AnswerType, textChoices: string[]): Method {
  if (type !== 'text') return 'last-number';
  return textChoices.length > 0 ? 'last-choice' : 'whole';
}

export interface ExtractOptions {
  /**
   * The prompt ended inside a think block (a chat template that prefills <think>, as Qwen3-VL Thinking's
   * does): an output without </think> is then all thinking, cut off before it answered.
   */
  thinkingOpen?: boolean;
}

/**
 * Extract an answer of `type` from raw model output. `choices` lists the possible text answers
 * (yes/no is recognised without it).
 */
export function extractAnswer(raw: string, type: AnswerType, choices: string[] = [], options: ExtractOptions = {}): Extraction {
  const { answer, thinking } = splitThinking(normalizeTypography(stripChatTokens(raw)), options.thinkingOpen);
  if (thinking === 'unfinished') return { value: null, method: 'unfinished-think' };
  if (!/[a-z0-9]/i.test(plain(answer))) return { value: null, method: thinking === 'closed' ? 'empty-after-think' : 'none' };
  const isYesNo = choices.length > 0 && choices.every((c) => c === 'yes' || c === 'no');
  const textChoices = choices.filter((c) => isYesNo || (c !== 'yes' && c !== 'no'));
  const read: Reader = (text, whole) => {
    if (type === 'integer' || type === 'float') {
      const value = readNumber(text, type, whole);
      return value !== null && type === 'integer' && !Number.isInteger(value) ? Math.round(value * 1e6) / 1e6 : value;
    }
    if (isYesNo) return readYesNo(text.trim(), whole);
    if (textChoices.length > 0) return readChoice(text, textChoices, whole);
    return normalizeText(text) || null;
  };
  for (const seg of segments(answer.trim(), read)) {
    const whole = seg.rule === 'whole' || seg.rule === 'bold';
    const value = read(seg.text, whole);
    if (value !== null) return { value, method: seg.rule === 'whole' ? wholeMethod(type, textChoices) : seg.rule };
  }
  return { value: null, method: 'none' };
}

/** Typed comparison: exact for integers and text, tolerant for floats (1% relative or 0.01 absolute). */
export function isCorrect(expected: ExpectedAnswer, extracted: Extraction, tolerance = { relative: 0.01, absolute: 0.01 }): boolean {
  if (extracted.value === null) return false;
  if (expected.type === 'text') return normalizeText(String(extracted.value)) === normalizeText(String(expected.value));
  const got = Number(extracted.value);
  const want = Number(expected.value);
  if (!Number.isFinite(got)) return false;
  if (expected.type === 'integer') return got === want;
  return Math.abs(got - want) <= Math.max(tolerance.absolute, tolerance.relative * Math.abs(want));
}
