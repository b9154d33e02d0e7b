/**
 * Answer extraction on outputs written the way reasoning VLMs print them (extract-cases.ts): each row
 * is a raw output, the expected answer type, and the value a careful human grader reads from it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { describe, expect, it } from 'vitest';
import { lastBoxed, promptOpensThinking, splitThinking, stripChatTokens, stripLatex } from '../../src-main/core/eval/answer-text';
import { VlmPipeline } from '../../src-main/core/vlm/pipeline';
import { repoRoot } from '../helpers/tmp';
import { extractAnswer, isCorrect, numbersIn, type Extraction } from '../../src-main/core/eval/extract';
import { BASICS, GEMMA3, ISSUE_19, QWEN35, QWEN3_VL_THINKING, YN, type Case } from './extract-cases';

function graded(cases: Case[]): { right: number; failures: string[] } {
  const failures: string[] = [];
  for (const [raw, type, choices, expected, options] of cases) {
    const got: Extraction = extractAnswer(raw, type, choices, options);
    // Right as an evaluation counts it: the typed comparison, and null only where no answer was given.
    const ok = expected === null ? got.value === null : isCorrect({ type, value: expected }, got);
    if (!ok) failures.push(`${JSON.stringify(raw.slice(-120))} (${type}) -> ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  }
  return { right: cases.length - failures.length, failures };
}

describe('answer extraction', () => {
  it(`reads every one of ${BASICS.length} basic forms`, () => {
    expect(graded(BASICS).failures).toEqual([]);
  });

  it('reads the outputs issue 19 found wrong: \\frac, a glossed choice, a sign restated in words, an empty answer', () => {
    expect(graded(ISSUE_19).failures).toEqual([]);
  });

  it('reads at least 98% of the Qwen3-VL thinking, Qwen3.5 and Gemma-3 style outputs right', () => {
    const styles = { 'Qwen3-VL thinking': QWEN3_VL_THINKING, 'Qwen3.5': QWEN35, 'Gemma-3': GEMMA3 };
    const all = [...BASICS, ...ISSUE_19, ...Object.values(styles).flat()];
    expect(all.length).toBeGreaterThanOrEqual(150);
    const lines: string[] = [];
    for (const [style, cases] of Object.entries(styles)) {
      const { right } = graded(cases);
      lines.push(`${style}: ${right}/${cases.length}`);
    }
    const { right, failures } = graded(all);
    const share = right / all.length;
    console.log(`answer extraction: ${right}/${all.length} right (${(share * 100).toFixed(1)}%); ${lines.join(', ')}`);
    for (const f of failures) console.log(`  missed: ${f}`);
    expect(share).toBeGreaterThanOrEqual(0.98);
  });

  it('says which rule found the answer', () => {
    expect(extractAnswer('\\boxed{4}', 'integer').method).toBe('boxed');
    expect(extractAnswer('<answer>4</answer>', 'integer').method).toBe('answer-tag');
    expect(extractAnswer('Final answer: 7', 'integer').method).toBe('final-answer');
    expect(extractAnswer('so the answer is 2', 'integer').method).toBe('answer-is');
    expect(extractAnswer('**Answer:** 2', 'integer').method).toBe('answer-label');
    expect(extractAnswer('There are **3** circles. One is red and two are blue.', 'integer')).toEqual({ value: 3, method: 'bold' });
    expect(extractAnswer('I count 3 then 5', 'integer').method).toBe('last-number');
    expect(extractAnswer('It is a circle.', 'text', ['circle', 'square']).method).toBe('last-choice');
    expect(extractAnswer('nothing here', 'integer').method).toBe('none');
  });

  it('never reads an answer from inside the thinking, and says why there is none', () => {
    expect(extractAnswer('<think>\nThere are 3 circles.\n</think>\n\n', 'integer')).toEqual({ value: null, method: 'empty-after-think' });
    expect(extractAnswer('<think>\nThere are 3 circles.\n</think>\n<|im_end|>', 'integer')).toEqual({
      value: null,
      method: 'empty-after-think',
    });
    expect(extractAnswer('<think>\nThere are 3 circles, so', 'integer')).toEqual({ value: null, method: 'unfinished-think' });
    // A template that prefills <think>: the output has no opening tag.
    expect(extractAnswer('There are 3 circles, so', 'integer', [], { thinkingOpen: true })).toEqual({
      value: null,
      method: 'unfinished-think',
    });
    expect(extractAnswer('3 circles.\n</think>\n\nThere are 4 circles.', 'integer', [], { thinkingOpen: true })).toEqual({
      value: 4,
      method: 'last-number',
    });
    expect(extractAnswer('<think>\nyes? no.\n</think>\nYes.', 'text', YN).value).toBe('yes');
  });

  it('reads yes/no from answer words, not from determiners or adjectives', () => {
    const yn = (s: string) => extractAnswer(s, 'text', YN).value;
    expect(yn('I would say yes because the circle is on the left')).toBe('yes');
    expect(yn('The circle is left of the square and there is no other circle, so yes.')).toBe('yes');
    expect(yn('No it is not')).toBe('no');
    expect(yn('There is no circle')).toBe('no');
    expect(yn('Let me find the correct shape. It is left of it.')).toBeNull();
    expect(yn('The square is above the triangle.')).toBeNull(); // a bare statement: whether it affirms depends on the question
  });

  it('compares typed answers, with tolerance for floats only', () => {
    expect(isCorrect({ type: 'integer', value: 3 }, { value: 3, method: 'whole' })).toBe(true);
    expect(isCorrect({ type: 'integer', value: 3 }, { value: 3.5, method: 'whole' })).toBe(false);
    expect(isCorrect({ type: 'float', value: 0.333 }, { value: 1 / 3, method: 'whole' })).toBe(true);
    expect(isCorrect({ type: 'float', value: 0.375 }, { value: 0.33, method: 'whole' })).toBe(false);
    expect(isCorrect({ type: 'text', value: 'gray' }, { value: 'Grey.', method: 'whole' })).toBe(true);
    expect(isCorrect({ type: 'text', value: 'red' }, { value: null, method: 'none' })).toBe(false);
  });

  it('finds numbers in reading order, with their signs', () => {
    expect(numbersIn('2 circles and three squares, 50% red, 1/4 blue')).toEqual([2, 3, 0.5, 0.25]);
    expect(numbersIn('The difference is -1, i.e. one fewer')).toEqual([-1, 1]);
    expect(numbersIn('minus two, negative 3, and 5 minus 2 is 3')).toEqual([-2, -3, 5, 2, 3]);
    expect(numbersIn('3-1=2 and x = -4 (-5)')).toEqual([3, 1, 2, -4, -5]);
    expect(numbersIn('Qwen3-VL saw the 2nd circle; twenty-one; a single one; three quarters')).toEqual([21, 1, 1, 0.75]);
    expect(numbersIn('1,000 shapes; the list 3,4')).toEqual([1000, 3, 4]);
  });
});

describe('answer surface', () => {
  it('turns LaTeX into the text a reader sees', () => {
    expect(stripLatex('is \\frac{3}{8}.')).toBe('is 3/8.');
    expect(stripLatex('$\\dfrac{1}{3}$ or \\(\\tfrac{2}{5}\\) or \\[\\cfrac{1}{2}\\]').replace(/\s+/g, ' ').trim()).toBe(
      '1/3 or 2/5 or 1/2',
    );
    expect(stripLatex('\\frac{\\text{3}}{8}')).toBe('3/8');
    expect(stripLatex('\\frac{8-5}{8}')).toBe('(8-5)/(8)');
    expect(stripLatex('\\frac38')).toBe('3/8');
    expect(stripLatex('\\text{orange} and \\mathbf{37.5\\%}')).toBe('orange and 37.5%');
    expect(stripLatex('5 \\times 2 \\approx 10').replace(/\s+/g, ' ')).toBe('5 × 2 ≈ 10');
  });

  it('finds the last \\boxed{} with nested braces', () => {
    expect(lastBoxed('\\boxed{1} then \\boxed{\\frac{1}{3}}')).toBe('\\frac{1}{3}');
    expect(lastBoxed('\\boxed{\\text{red}')).toBeNull();
  });

  it('ends the turn at its end-of-turn token and removes other chat tokens', () => {
    expect(stripChatTokens('<start_of_turn>model\n3<end_of_turn>\n<start_of_turn>user\n5').trim()).toBe('3');
    expect(stripChatTokens('<|im_start|>assistant\nYes<|im_end|>\n<|im_start|>user\nNo').trim()).toBe('Yes');
    expect(stripChatTokens('<s> yes </s>').trim()).toBe('yes');
  });

  it('splits a think block from the answer', () => {
    expect(splitThinking('<think>a</think>b')).toEqual({ answer: 'b', thinking: 'closed' });
    expect(splitThinking('a</think>b')).toEqual({ answer: 'b', thinking: 'closed' });
    expect(splitThinking('<think>a')).toEqual({ answer: '', thinking: 'unfinished' });
    expect(splitThinking('a', true)).toEqual({ answer: '', thinking: 'unfinished' });
    expect(splitThinking('a')).toEqual({ answer: 'a', thinking: 'none' });
  });

  it('knows when the chat template opened <think> (the real Qwen3.5 template, thinking on and off)', () => {
    const jinja = path.join(repoRoot, '..', 'shared', 'fixtures', 'real-graphs', 'qwen3.5-0.8b', 'chat_template.jinja');
    const template = new Template(fs.readFileSync(jinja, 'utf8'));
    const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'How many circles?' }] }];
    const render = (thinking: boolean) => template.render({ messages, add_generation_prompt: true, enable_thinking: thinking });
    expect(render(true)).toMatch(/<think>\n$/);
    expect(promptOpensThinking(render(true))).toBe(true);
    expect(promptOpensThinking(render(false))).toBe(false); // '<think>\n\n</think>\n\n': closed, answer follows
    expect(promptOpensThinking('<|im_start|>assistant\n')).toBe(false);
    // The pipeline's options come from its own templated prompt (VlmPipeline.chatText), as evaluation,
    // experiments and the spliced evaluations call it.
    for (const thinking of [true, false]) {
      const vlm = Object.assign(Object.create(VlmPipeline.prototype) as object, {
        loaded: {
          tokenizer: {
            apply_chat_template: (m: typeof messages) =>
              template.render({ messages: m, add_generation_prompt: true, enable_thinking: thinking }),
          },
        },
      });
      const options = (vlm as unknown as VlmPipeline).extractOptions('How many circles?');
      expect(options).toEqual({ thinkingOpen: thinking });
      // Cut off while thinking: no answer (not the 3 fished from the thoughts); the closed template reads it.
      expect(extractAnswer('There are 3 circles, so', 'integer', [], options).value).toBe(thinking ? null : 3);
    }
  });
});
