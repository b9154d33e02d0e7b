/**
 * The surface of a model's output, peeled before any answer is read from it. Reasoning VLMs wrap their
 * answers in chat tokens, think blocks, markdown and LaTeX; each function here removes one layer and
 * decides nothing about which value is the answer (extract.ts does that).
 *
 *   chat tokens   the turn ends at the first end-of-turn token (<|im_end|>, <end_of_turn>, <|endoftext|>,
 *                 <eos>, </s>, <|eot_id|>): text after it is a turn the model invented, not its answer.
 *                 Other tokens (<|im_start|>assistant, <start_of_turn>model, <s>, <bos>) are removed.
 *   think block   see splitThinking: the answer is what follows the last </think>, never the thinking.
 *   markdown      bold / italic markers, headings, bullets, list numbers, quotes, tables, code fences.
 *   LaTeX         $…$, $$…$$, \(…\), \[…\] unwrapped; \frac{a}{b}, \dfrac, \tfrac, \cfrac -> a/b;
 *                 \text{x}, \mathrm{x}, \textbf{x}, \boxed{x} ... -> x; \% -> %; \times, \cdot -> ×;
 *                 \le, \approx, \to ... -> their symbols; any other command is dropped.
 */

const END_OF_TURN = /<\|im_end\|>|<\|endoftext\|>|<\|eot_id\|>|<\|end\|>|<end_of_turn>|<eos>|<\/s>/i;
const ROLE_TOKENS = /<\|im_start\|>\s*(?:assistant|user|system)?|<start_of_turn>\s*(?:model|user)?/gi;
const OTHER_TOKENS = /<\|[a-z0-9_]+\|>|<(?:s|bos|pad|unk)>/gi;

/** Chat-template tokens removed; the turn cut at its first end-of-turn token. */
export function stripChatTokens(raw: string): string {
  const end = raw.search(END_OF_TURN);
  const turn = end >= 0 ? raw.slice(0, end) : raw;
  return turn.replace(ROLE_TOKENS, ' ').replace(OTHER_TOKENS, ' ');
}

export interface ThinkSplit {
  /** The text after the thinking (the whole output when there was none). */
  answer: string;
  /** none: no think block; closed: </think> then the answer; unfinished: <think> never closed. */
  thinking: 'none' | 'closed' | 'unfinished';
}

/**
 * The documented rule for think blocks: the answer is read only from the text after the last
 * </think>. Qwen3-VL / Qwen3.5 chat templates often put the opening <think> into the prompt, so a
 * closing tag alone also ends a think block; with `thinkingOpen` (the prompt itself ended in <think>) an
 * output without </think> is all thinking. A block that never closes (the token limit cut the
 * thinking) or nothing after it is *no answer*, never a number fished out of the thinking: thoughts
 * hold hypotheses and recounts, and crediting their last number would hide a too-small token budget
 * (the seeds' 34% -> 66% study) behind lucky guesses. The method says which of the two happened.
 */
export function splitThinking(text: string, thinkingOpen = false): ThinkSplit {
  const close = text.toLowerCase().lastIndexOf('</think>');
  if (close >= 0) return { answer: text.slice(close + '</think>'.length), thinking: 'closed' };
  if (thinkingOpen || /<think>/i.test(text)) return { answer: '', thinking: 'unfinished' };
  return { answer: text, thinking: 'none' };
}

/**
 * Whether a chat-templated prompt ends inside a think block: its generation prompt opened <think>
 * (Qwen3-VL Thinking, Qwen3.5 with thinking on) and nothing closed it. Generated text then starts in
 * the thinking, and extraction must be told (`thinkingOpen`).
 */
export function promptOpensThinking(templated: string): boolean {
  const lower = templated.toLowerCase();
  const open = lower.lastIndexOf('<think>');
  return open >= 0 && lower.indexOf('</think>', open) < 0;
}

/** Markdown markers removed, line structure kept (answer labels are found at line starts). */
export function stripMarkdown(text: string): string {
  return text
    .replace(/```[a-z]*\n?/gi, '\n')
    .replace(/`/g, '')
    .replace(/^[ \t]*#{1,6}[ \t]*/gm, '')
    .replace(/^[ \t]*>[ \t]?/gm, '')
    .replace(/^[ \t]*[-*+•][ \t]+/gm, '')
    .replace(/^[ \t]*\d+[.)][ \t]+(?=[A-Za-z*_])/gm, '')
    .replace(/\*\*|__/g, '')
    .replace(/\*(?=\S)([^*\n]+?)\*/g, '$1')
    .replace(/(^|[^\w\\])_(?=\S)([^_\n]+?)_(?=\W|$)/g, '$1$2')
    .replace(/\|/g, ' ');
}

const LATEX_SYMBOLS: Array<[RegExp, string]> = [
  [/\\\\/g, '\n'],
  [/\\%/g, '%'],
  [/\\(?:times|cdot|ast)\b/g, ' × '],
  [/\\div\b/g, ' ÷ '],
  [/\\(?:approx|simeq|sim)\b/g, ' ≈ '],
  [/\\(?:neq|ne)\b/g, ' ≠ '],
  [/\\(?:leq|le)\b/g, ' ≤ '],
  [/\\(?:geq|ge)\b/g, ' ≥ '],
  [/\\(?:rightarrow|Rightarrow|implies|to|longrightarrow)\b/g, ' → '],
  [/\^\s*\{?\\circ\}?/g, '°'],
  [/\\(?:left|right|displaystyle)\b/g, ''],
  [/\\[{}]/g, ''],
  [/\\(?:quad|qquad)\b|\\[,;:! ]/g, ' '],
];

const TEXT_COMMANDS =
  'text|textbf|textit|textrm|textsf|texttt|mathrm|mathbf|mathit|mathsf|mathtt|operatorname|mbox|emph|underline|boxed|fbox';
const WRAPPED = new RegExp(`\\\\(?:${TEXT_COMMANDS})\\s*\\{([^{}]*)\\}`, 'g');
const FRACTION = /\\[dtc]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g;
const SHORT_FRACTION = /\\[dtc]?frac\s*(\d)\s*(\d)/g;
const PLAIN_NUMBER = /^\s*-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)\s*$/;

/** \frac{a}{b} as text numbersIn reads: a/b when both are plain numbers, (a)/(b) otherwise. */
function fraction(a: string, b: string): string {
  return PLAIN_NUMBER.test(a) && PLAIN_NUMBER.test(b) ? `${a.trim()}/${b.trim()}` : `(${a.trim()})/(${b.trim()})`;
}

/** LaTeX math turned into the plain text a reader sees; innermost commands first, so nesting works. */
export function stripLatex(text: string): string {
  let t = text.replace(/\$\$?|\\\(|\\\)|\\\[|\\\]/g, ' ');
  for (let before = ''; before !== t;) {
    before = t;
    t = t.replace(WRAPPED, '$1').replace(FRACTION, (_, a: string, b: string) => fraction(a, b));
  }
  t = t.replace(SHORT_FRACTION, '$1/$2');
  for (const [re, to] of LATEX_SYMBOLS) t = t.replace(re, to);
  return t.replace(/\\[a-zA-Z]+/g, ' ').replace(/[{}]/g, '');
}

/** Typographic characters as ASCII: curly quotes, the Unicode minus, dashes used as minus signs, odd spaces. */
export function normalizeTypography(text: string): string {
  return text
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\u2212/g, '-')
    .replace(/(^|[\s(=:])[\u2013\u2014](?=\d)/g, '$1-')
    .replace(/[\u00a0\u2009\u202f]/g, ' ');
}

/**
 * The text of the contents of the last \boxed{...}, with balanced braces (so \boxed{\frac{1}{3}}
 * and \boxed{\text{red}} are whole), or null when there is none.
 */
export function lastBoxed(text: string): string | null {
  const re = /\\(?:boxed|fbox)\s*\{/g;
  let last: string | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let depth = 1;
    let i = m.index + m[0].length;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    }
    if (depth === 0) last = text.slice(m.index + m[0].length, i - 1);
  }
  return last;
}
