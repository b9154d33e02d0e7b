/**
 * Answer extraction: turn a model's free-form output into a typed answer. Studies of reasoning VLMs
 * found scores doubling between strict parsing and robust extraction on the same outputs, so this is
 * deliberately forgiving about form and strict about content:
 *   1. find the answer segment: \boxed{...}, "final answer: ...", "the answer is ...", "answer: ...";
 *      otherwise the whole output;
 *   2. read a value of the expected type from it: numbers (integers, decimals, fractions, percentages,
 *      number words), yes/no (with synonyms and negations), or one of the known text choices
 *      (case, punctuation, articles, plurals, units normalised);
 *   3. fall back to the last number (or last choice) in the whole output.
 * Each extraction says which rule found it, so a reviewer can audit the numbers.
 */
export type AnswerType = 'integer' | 'float' | 'text';
export type Method = 'boxed' | 'final-answer' | 'answer-is' | 'answer-label' | 'whole' | 'last-number' | 'last-choice' | 'none';

export interface Extraction {
  value: number | string | null;
  method: Method;
}

export interface ExpectedAnswer {
  type: AnswerType;
  value: number | string;
}

const SPECIAL_TOKENS = /<\|?[a-z_]+\|?>|<\/?s>|<end_of_turn>|<eos>/gi;

const SMALL: Record<string, number> = {
  zero: 0,
  none: 0,
  no: 0,
  one: 1,
  a: 1,
  an: 1,
  single: 1,
  two: 2,
  pair: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  dozen: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
};
const TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };
const ORDINAL_FRACTIONS: Record<string, number> = {
  half: 2,
  halves: 2,
  third: 3,
  thirds: 3,
  quarter: 4,
  quarters: 4,
  fourth: 4,
  fourths: 4,
  fifth: 5,
  fifths: 5,
  sixth: 6,
  sixths: 6,
  seventh: 7,
  sevenths: 7,
  eighth: 8,
  eighths: 8,
  ninth: 9,
  ninths: 9,
  tenth: 10,
  tenths: 10,
};

const YES = ['yes', 'yeah', 'yep', 'true', 'correct', 'affirmative', 'indeed', 'right'];
const NO = ['no', 'nope', 'false', 'incorrect', 'negative', 'not', "isn't", "aren't", "doesn't", 'none'];

const SYNONYMS: Record<string, string> = { grey: 'gray', violet: 'purple', rhombus: 'diamond', rectangle: 'square', ball: 'circle' };

function clean(raw: string): string {
  return raw
    .replace(SPECIAL_TOKENS, ' ')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\*\*|__|`/g, '')
    .trim();
}

/** The last \boxed{...}, allowing one level of nested braces. */
function boxed(text: string): string | null {
  const re = /\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}/g;
  let last: string | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1]!;
  return last === null
    ? null
    : last
        .replace(/\\text\{([^}]*)\}/g, '$1')
        .replace(/\\frac\{([^}]*)\}\{([^}]*)\}/g, '$1/$2')
        .replace(/\\dfrac\{([^}]*)\}\{([^}]*)\}/g, '$1/$2');
}

function lastMatch(text: string, re: RegExp): string | null {
  let last: string | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1]!;
  return last;
}

/** Answer segments in priority order, each with the rule that found it. */
function segments(text: string): Array<{ text: string; method: Method }> {
  const out: Array<{ text: string; method: Method }> = [];
  const b = boxed(text);
  if (b !== null) out.push({ text: b, method: 'boxed' });
  const final = lastMatch(text, /final answer\s*(?:is|:|=|-)?\s*:?\s*([^\n]+)/gi);
  if (final !== null) out.push({ text: final, method: 'final-answer' });
  const is = lastMatch(text, /\b(?:the )?answer (?:is|would be|will be|should be)\s*:?\s*([^\n]+)/gi);
  if (is !== null) out.push({ text: is, method: 'answer-is' });
  const label = lastMatch(text, /(?:^|\n)\s*answer\s*[:=-]\s*([^\n]+)/gi);
  if (label !== null) out.push({ text: label, method: 'answer-label' });
  out.push({ text, method: 'whole' });
  return out;
}

function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9./%'\- ]+/g, ' ')
    .split(/[\s-]+/)
    .filter(Boolean);
}

/** Numbers in reading order, from digits, fractions, percentages and number words. */
export function numbersIn(text: string): number[] {
  const found: Array<{ at: number; value: number }> = [];
  const digitRe = /(-?\d[\d,]*(?:\.\d+)?|-?\.\d+)\s*(?:\/\s*(\d+(?:\.\d+)?))?\s*(%|percent\b)?/gi;
  const covered: Array<[number, number]> = [];
  for (let m = digitRe.exec(text); m; m = digitRe.exec(text)) {
    const raw = m[1]!;
    if (/^-?\d{1,3}(,\d{3})+(\.\d+)?$/.test(raw) || !raw.includes(',')) {
      let value = Number(raw.replace(/,/g, ''));
      if (m[2]) value = value / Number(m[2]);
      if (m[3]) value = value / 100;
      if (Number.isFinite(value)) {
        found.push({ at: m.index, value });
        covered.push([m.index, m.index + m[0].length]);
      }
    } else {
      // "3,4" is a list, not a number: take each part.
      let offset = m.index;
      for (const part of raw.split(',')) {
        if (part) found.push({ at: offset, value: Number(part) });
        offset += part.length + 1;
      }
      covered.push([m.index, m.index + m[0].length]);
    }
  }
  // Number words, including "twenty one", "three quarters", "one half".
  const wordRe = /\b([a-z]+(?:[\s-][a-z]+)*)\b/gi;
  for (let m = wordRe.exec(text); m; m = wordRe.exec(text)) {
    const tokens = m[1]!.toLowerCase().split(/[\s-]+/);
    let base = m.index;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      const at = text.toLowerCase().indexOf(t, base);
      base = at + t.length;
      if (covered.some(([a, b]) => at >= a && at < b)) continue;
      let value: number | null = null;
      let used = 1;
      if (t in TENS) {
        value = TENS[t]!;
        const next = tokens[i + 1];
        if (next && next in SMALL && SMALL[next]! < 10 && SMALL[next]! > 0) {
          value += SMALL[next]!;
          used = 2;
        }
      } else if (t in SMALL && !['a', 'an', 'no', 'none', 'single', 'pair'].includes(t)) {
        value = SMALL[t]!;
      }
      if (value !== null) {
        const denom = tokens[i + used];
        if (denom && denom in ORDINAL_FRACTIONS) {
          value = value / ORDINAL_FRACTIONS[denom]!;
          used++;
        }
        found.push({ at, value });
        i += used - 1;
      } else if ((t === 'a' || t === 'an' || t === 'one') && tokens[i + 1] && tokens[i + 1]! in ORDINAL_FRACTIONS) {
        found.push({ at, value: 1 / ORDINAL_FRACTIONS[tokens[i + 1]!]! });
        i++;
      }
    }
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.value);
}

function readNumber(segment: string, type: 'integer' | 'float', fromEnd: boolean): number | null {
  const nums = numbersIn(segment);
  if (nums.length === 0) {
    if (type === 'integer' && /\b(?:none|no\s+\w+|zero)\b/i.test(segment)) return 0;
    return null;
  }
  return fromEnd ? nums[nums.length - 1]! : nums[0]!;
}

function readYesNo(segment: string, fromEnd: boolean): string | null {
  const ws = words(segment);
  const hits: Array<{ at: number; value: string }> = [];
  ws.forEach((w, i) => {
    const bare = w.replace(/[.']+$/, '');
    if (YES.includes(bare)) hits.push({ at: i, value: 'yes' });
    else if (NO.includes(bare)) hits.push({ at: i, value: 'no' });
  });
  if (hits.length === 0) {
    if (/\bthere (?:is|are) (?:a|an|one|some|\d+)\b/i.test(segment)) return 'yes';
    return null;
  }
  // "yes" followed directly by a negation ("yes, it is not") is rare; a leading answer word wins.
  return (fromEnd ? hits[hits.length - 1]! : hits[0]!).value;
}

export function normalizeText(s: string): string {
  return words(s)
    .map((w) => w.replace(/[.']+$/, ''))
    .filter((w) => !['a', 'an', 'the', 'is', 'it', 'its', 'color', 'colour', 'colored', 'shape', 'shaped'].includes(w))
    .map((w) => SYNONYMS[w] ?? w)
    .map((w) => (w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w))
    .join(' ');
}

function readChoice(segment: string, choices: string[], fromEnd: boolean): string | null {
  const norm = ` ${normalizeText(segment)} `;
  const hits: Array<{ at: number; value: string }> = [];
  for (const c of choices) {
    const n = normalizeText(c);
    if (!n) continue;
    let at = norm.indexOf(` ${n} `);
    while (at >= 0) {
      hits.push({ at, value: c });
      at = norm.indexOf(` ${n} `, at + 1);
    }
  }
  if (hits.length === 0) return null;
  hits.sort((a, b) => a.at - b.at);
  return (fromEnd ? hits[hits.length - 1]! : hits[0]!).value;
}

/**
 * Extract an answer of `type` from raw model output. `choices` lists the possible text answers
 * (yes/no is recognised without it).
 */
export function extractAnswer(raw: string, type: AnswerType, choices: string[] = []): Extraction {
  const text = clean(raw);
  if (!text) return { value: null, method: 'none' };
  const isYesNo = choices.length > 0 && choices.every((c) => c === 'yes' || c === 'no');
  const textChoices = choices.filter((c) => isYesNo || (c !== 'yes' && c !== 'no'));
  for (const seg of segments(text)) {
    const whole = seg.method === 'whole';
    let value: number | string | null;
    if (type === 'integer' || type === 'float') {
      // In the whole output the answer is most often the last number; in an answer segment, the first.
      value = readNumber(seg.text, type, whole);
      if (value !== null && type === 'integer' && !Number.isInteger(value)) value = Math.round(value * 1e6) / 1e6;
    } else if (isYesNo) {
      value = readYesNo(seg.text, false);
    } else if (textChoices.length > 0) {
      value = readChoice(seg.text, textChoices, whole);
    } else {
      value = normalizeText(seg.text) || null;
    }
    if (value !== null)
      return { value, method: whole ? (type === 'text' ? (textChoices.length ? 'last-choice' : 'whole') : 'last-number') : seg.method };
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
