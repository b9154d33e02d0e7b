/**
 * Numbers in answer text, in reading order: digits (1,000 / 3.5 / .25), fractions (3/8), percentages
 * (50%, 37.5 percent), number words (twenty-one, three quarters, a half) and signs (-1, minus two,
 * negative one). LaTeX has already been turned into plain text (\frac{3}{8} reads as 3/8).
 *
 * Which of them is the answer:
 *   an answer segment ("Answer: ...", "the answer is ...")  the first number of its first clause, or the
 *                                         result of an equation there ("Answer: 5 - 2 = 3" is 3; an
 *                                         approximation is not a result: "2/7 ≈ 0.286" is 2/7);
 *   the whole output                      the last number, except: a positive number restating the
 *                                         magnitude of the negative number just before it is that
 *                                         number ("-1, i.e. one fewer circle" is -1); a total followed by
 *                                         its breakdown is the total ("3 circles: one red, one blue and
 *                                         one green" is 3); tally lines ("Circles: 5") count only when no
 *                                         other line states a number;
 *   both                                  parenthetical asides without an equation are skipped first
 *                                         ("5 (3 circles + 2 squares)" is 5); if nothing is left, they count.
 * Proportions: for floats "3 out of 8" / "1 in 4" read as 3/8 / 1/4; for integers the "out of 8"
 * denominator is skipped ("3 out of 8 shapes are red" is 3).
 */

export interface NumberToken {
  at: number;
  end: number;
  value: number;
  /** Written as words ("one"), not digits. */
  spelled: boolean;
}

const UNITS: Record<string, number> = {
  zero: 0,
  one: 1,
  two: 2,
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
const DENOMINATORS: Record<string, number> = {
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

/**
 * Digits: a sign only where it cannot be a hyphen or a binary minus (not after a letter, digit or ")"),
 * no digits inside words ("Qwen3"), no ordinals ("2nd"); an optional /denominator and percent sign.
 */
const DIGITS =
  /(?:(?<![\w)])-)?(?<![\w.])(?:\d+(?:,\d+)*(?:\.\d+)?|\.\d+)(?!\d|st\b|nd\b|rd\b|th\b)(?:\s*\/\s*(\d+(?:\.\d+)?))?(\s*(?:%|per\s?cent\b))?/gi;
const THOUSANDS = /^-?\d{1,3}(,\d{3})+(\.\d+)?$/;

function digitTokens(text: string): NumberToken[] {
  const out: NumberToken[] = [];
  for (let m = DIGITS.exec(text); m; m = DIGITS.exec(text)) {
    const raw = m[0].replace(/\s*(?:\/.*|%|per\s?cent)$/i, '');
    if (raw.includes(',') && !THOUSANDS.test(raw)) {
      // "3,4" is a list, not a number: each part on its own.
      let at = m.index;
      for (const part of raw.split(',')) {
        if (part) out.push({ at, end: at + part.length, value: Number(part), spelled: false });
        at += part.length + 1;
      }
      continue;
    }
    let value = Number(raw.replace(/,/g, ''));
    if (m[1]) value /= Number(m[1]);
    if (m[2]) value /= 100;
    if (Number.isFinite(value)) out.push({ at: m.index, end: m.index + m[0].length, value, spelled: false });
  }
  return out;
}

/** Number words: "three", "twenty one", "twenty-one", "three quarters", "one half", "a quarter", "a single". */
function wordTokens(text: string): NumberToken[] {
  const words = [...text.matchAll(/[a-z]+/gi)].map((m) => ({ w: m[0].toLowerCase(), at: m.index, end: m.index + m[0].length }));
  const joined = (i: number) => i + 1 < words.length && /^[\s-]+$/.test(text.slice(words[i]!.end, words[i + 1]!.at));
  const out: NumberToken[] = [];
  for (let i = 0; i < words.length; i++) {
    const { w, at } = words[i]!;
    let value: number | null = null;
    let last = i;
    if (w in TENS) {
      value = TENS[w]!;
      const unit = joined(i) ? UNITS[words[i + 1]!.w] : undefined;
      if (unit !== undefined && unit > 0 && unit < 10) {
        value += unit;
        last = i + 1;
      }
    } else if (w in UNITS) value = UNITS[w]!;
    else if (w === 'a' && joined(i) && words[i + 1]!.w === 'single') {
      value = 1;
      last = i + 1;
    } else if ((w === 'a' || w === 'an') && joined(i) && words[i + 1]!.w in DENOMINATORS) value = 1;
    if (value === null) continue;
    const denominator = joined(last) ? DENOMINATORS[words[last + 1]!.w] : undefined;
    if (denominator !== undefined) {
      value /= denominator;
      last += 1;
    } else if ((w === 'a' || w === 'an') && last === i) continue;
    out.push({ at, end: words[last]!.end, value, spelled: true });
    i = last;
  }
  return out;
}

/** "minus two", "negative 1": a sign word before a number, unless "minus" follows a number (5 minus 2). */
function applySignWords(text: string, tokens: NumberToken[]): NumberToken[] {
  return tokens.map((t, i) => {
    const sign = /\b(negative|minus)\s+$/i.exec(text.slice(0, t.at));
    if (!sign || t.value < 0) return t;
    const previous = tokens[i - 1];
    const binary = sign[1]!.toLowerCase() === 'minus' && previous !== undefined && /^\s*$/.test(text.slice(previous.end, sign.index));
    return binary ? t : { ...t, at: sign.index, value: -t.value };
  });
}

/** Every number in `text`, in reading order. */
export function numberTokens(text: string): NumberToken[] {
  const digits = digitTokens(text);
  const words = wordTokens(text).filter((w) => !digits.some((d) => w.at < d.end && d.at < w.end));
  return applySignWords(
    text,
    [...digits, ...words].sort((a, b) => a.at - b.at),
  );
}

export function numbersIn(text: string): number[] {
  return numberTokens(text).map((t) => t.value);
}

const PROPORTION_GAP = /^\s+(?:out\s+of|of(?:\s+the)?|in)\s+$/i;
const DENOMINATOR_GAP = /^\s+(?:out\s+of|of\s+the)\s+$/i;

/** Numbers as the answer type reads them: proportions merged for floats, denominators dropped for integers. */
function typedTokens(text: string, type: 'integer' | 'float'): NumberToken[] {
  const tokens = numberTokens(text);
  const out: NumberToken[] = [];
  for (const t of tokens) {
    const prev = out[out.length - 1];
    const gap = prev ? text.slice(prev.end, t.at) : '';
    if (prev && type === 'float' && PROPORTION_GAP.test(gap) && Number.isInteger(t.value) && t.value > 0) {
      out[out.length - 1] = { ...prev, end: t.end, value: prev.value / t.value };
    } else if (!(prev && type === 'integer' && DENOMINATOR_GAP.test(gap))) out.push(t);
  }
  return out;
}

/** Parenthetical asides dropped, unless they hold an equation (its result may be the answer). */
function withoutAsides(text: string): string {
  return text.replace(/\([^()]*\)/g, (aside) => (/[=≈]/.test(aside) ? aside : ' '));
}

const CLAUSE_END = /[,;]\s|\.(?:\s|$)|\n|\s(?:because|since|as|so|which)\s/i;

/** In an answer segment: the first number of its first clause, or that clause's equation result. */
function firstStated(text: string, type: 'integer' | 'float'): number | null {
  const clause = text.split(CLAUSE_END)[0]!;
  const equals = clause.lastIndexOf('=');
  const result = equals >= 0 ? typedTokens(clause.slice(equals + 1), type)[0] : undefined;
  return (result ?? typedTokens(text, type)[0])?.value ?? null;
}

/**
 * A total followed by its breakdown: a number, then ":", "(" or a dash, then numbers that add up to it
 * ("3 circles: one red, one blue and one green" is 3). Without the delimiter a sum is not a breakdown
 * ("5 circles and 2 squares, so 3 more" is 3), nor is arithmetic ("3 – 1 = 2" is 2).
 */
function breakdownTotal(text: string, tokens: NumberToken[]): NumberToken | null {
  for (let i = 0; i + 2 < tokens.length; i++) {
    const total = tokens[i]!;
    const rest = tokens.slice(i + 1);
    if (total.value <= 0 || !/[:(\u2013\u2014]/.test(text.slice(total.end, rest[0]!.at)) || text.includes('=', total.end)) continue;
    if (Math.abs(rest.reduce((s, t) => s + t.value, 0) - total.value) < 1e-9) return total;
  }
  return null;
}

/**
 * In the whole output: the last number, except a breakdown's total (breakdownTotal) and a restated
 * magnitude: a positive number right after its own negative restates it ("-1, i.e. one fewer" is -1).
 */
function lastStated(text: string, tokens: NumberToken[]): number {
  const total = breakdownTotal(text, tokens);
  if (total) return total.value;
  const last = tokens[tokens.length - 1]!;
  const before = tokens[tokens.length - 2];
  return before && last.value > 0 && before.value === -last.value ? before.value : last.value;
}

/** A tally line: a label and a bare number ("Circles: 5", "* Total shapes: 8"). */
const TALLY = /^[ \t]*[A-Za-z][^:\n]{0,40}:[ \t]*-?[\d.,/]+%?[ \t.]*$/;

/**
 * Tally lines list the counts that go into an answer; when other lines state a number, the answer is
 * there ("There are 2 more circles than squares.\n- Circles: 5\n- Squares: 3" is 2).
 */
function withoutTallies(text: string): string {
  const lines = text.split('\n');
  const stated = lines.filter((l) => !TALLY.test(l));
  return stated.length < lines.length && numberTokens(stated.join('\n')).length > 0 ? stated.join('\n') : text;
}

/** The number an answer segment (or, with `whole`, the whole output) states, or null. */
export function readNumber(segment: string, type: 'integer' | 'float', whole: boolean): number | null {
  const base = whole ? withoutTallies(segment) : segment;
  for (const text of [withoutAsides(base), base]) {
    const tokens = typedTokens(text, type);
    if (tokens.length > 0) return whole ? lastStated(text, tokens) : firstStated(text, type);
  }
  if (type === 'integer' && /\b(?:none|no\s+\w+)\b/i.test(segment)) return 0;
  return null;
}
