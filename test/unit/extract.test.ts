/**
 * Answer extraction on tricky outputs: each row is a raw model output, the expected answer type,
 * and the value a careful human grader would read from it.
 */
import { describe, expect, it } from 'vitest';
import { extractAnswer, isCorrect, numbersIn } from '../../src-main/core/eval/extract';

const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];
const SHAPES = ['circle', 'square', 'triangle', 'diamond'];
const YN = ['yes', 'no'];

type Case = [raw: string, type: 'integer' | 'float' | 'text', choices: string[], expected: number | string | null];

const CASES: Case[] = [
  // integers: plain, words, boxed, final-answer lines, reasoning with several numbers
  ['3', 'integer', [], 3],
  ['There are 3 circles.', 'integer', [], 3],
  ['three', 'integer', [], 3],
  ['There are three triangles in the image.', 'integer', [], 3],
  ['\\boxed{4}', 'integer', [], 4],
  ['I count 2 red and 3 blue shapes, so the total is \\boxed{5}.', 'integer', [], 5],
  ['Final answer: 7', 'integer', [], 7],
  ['Let me count: 1, 2, 3, 4.\nFinal Answer: 4', 'integer', [], 4],
  ['The answer is 2.', 'integer', [], 2],
  ['**Answer:** 6', 'integer', [], 6],
  ['There are 5 circles and 2 squares, so there are 3 more circles than squares.', 'integer', [], 3],
  ['Counting the shapes: first 1, then 2... I see 8 in total', 'integer', [], 8],
  ['twenty-one', 'integer', [], 21],
  ['There are twenty one dots.', 'integer', [], 21],
  ['There are no green shapes.', 'integer', [], 0],
  ['None.', 'integer', [], 0],
  ['zero', 'integer', [], 0],
  ['The answer is 3.0', 'integer', [], 3],
  ['1,000', 'integer', [], 1000],
  ['The answer is 12<|im_end|>', 'integer', [], 12],
  ['<think>2 circles, 1 square; 2 - 1 = 1</think> The answer is 1.', 'integer', [], 1],
  ['Answer: four', 'integer', [], 4],
  ['-2', 'integer', [], -2],
  // the bundled demo model's worked answers: counts first, the result last
  ['3 - 1 = 2', 'integer', [], 2],
  ['2 - 2 = 0', 'integer', [], 0],
  ['I am not sure.', 'integer', [], null],
  ['', 'integer', [], null],
  // floats: decimals, fractions, percentages, words, LaTeX
  ['0.375', 'float', [], 0.375],
  ['3/8', 'float', [], 0.375],
  ['The fraction is 3/8.', 'float', [], 0.375],
  ['\\boxed{\\frac{1}{3}}', 'float', [], 1 / 3],
  ['\\boxed{\\dfrac{2}{5}}', 'float', [], 0.4],
  ['50%', 'float', [], 0.5],
  ['About 37.5 percent of the shapes.', 'float', [], 0.375],
  ['one half', 'float', [], 0.5],
  ['a quarter of them', 'float', [], 0.25],
  ['three quarters', 'float', [], 0.75],
  ['.25', 'float', [], 0.25],
  ['2 out of 8 shapes are circles, which is 0.25.', 'float', [], 0.25],
  ['Final answer: 0.33', 'float', [], 0.33],
  ['3 / 8 = 0.375', 'float', [], 0.375],
  ['8 / 8 = 1', 'float', [], 1],
  ['3 / 7 =', 'float', [], 3 / 7],
  // yes/no
  ['yes', 'text', YN, 'yes'],
  ['Yes.', 'text', YN, 'yes'],
  ['No', 'text', YN, 'no'],
  ['No, it is not.', 'text', YN, 'no'],
  ['Yes, the red circle is to the left of the blue square.', 'text', YN, 'yes'],
  ['The red circle is not bigger than the square.', 'text', YN, 'no'],
  ['There is no purple triangle in the image.', 'text', YN, 'no'],
  ['There is a purple triangle.', 'text', YN, 'yes'],
  ['True', 'text', YN, 'yes'],
  ['false.', 'text', YN, 'no'],
  ['Answer: YES', 'text', YN, 'yes'],
  ['\\boxed{no}', 'text', YN, 'no'],
  ['Let me look. The triangle is above the circle... Final answer: no', 'text', YN, 'no'],
  ['<s> yes </s>', 'text', YN, 'yes'],
  ['Hmm.', 'text', YN, null],
  // colours and shapes among known choices
  ['red', 'text', COLORS, 'red'],
  ['Red.', 'text', COLORS, 'red'],
  ['The circle is blue.', 'text', COLORS, 'blue'],
  ['It is a green color.', 'text', COLORS, 'green'],
  ['The answer is purple', 'text', COLORS, 'purple'],
  ['violet', 'text', COLORS, 'purple'],
  ['The square is red and the circle is yellow.', 'text', COLORS, 'yellow'],
  ['\\boxed{\\text{orange}}', 'text', COLORS, 'orange'],
  ['triangle', 'text', SHAPES, 'triangle'],
  ['A triangle.', 'text', SHAPES, 'triangle'],
  ['There is a square in the top left.', 'text', SHAPES, 'square'],
  ['Triangles', 'text', SHAPES, 'triangle'],
  ['It looks like a rhombus.', 'text', SHAPES, 'diamond'],
  ['Final answer: circle', 'text', SHAPES, 'circle'],
  ['I cannot tell.', 'text', SHAPES, null],
];

describe('answer extraction', () => {
  it(`reads the intended answer from ${CASES.length} tricky outputs`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    const failures: string[] = [];
    for (const [raw, type, choices, expected] of CASES) {
      const got = extractAnswer(raw, type, choices).value;
      const ok =
        expected === null
          ? got === null
          : typeof expected === 'number'
            ? typeof got === 'number' && Math.abs(got - expected) < 1e-9
            : got === expected;
      if (!ok) failures.push(`${JSON.stringify(raw)} (${type}) -> ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
    }
    expect(failures).toEqual([]);
  });

  it('says which rule found the answer', () => {
    expect(extractAnswer('\\boxed{4}', 'integer').method).toBe('boxed');
    expect(extractAnswer('Final answer: 7', 'integer').method).toBe('final-answer');
    expect(extractAnswer('so the answer is 2', 'integer').method).toBe('answer-is');
    expect(extractAnswer('I count 3 then 5', 'integer').method).toBe('last-number');
    expect(extractAnswer('nothing here', 'integer').method).toBe('none');
  });

  it('compares typed answers, with tolerance for floats only', () => {
    expect(isCorrect({ type: 'integer', value: 3 }, { value: 3, method: 'whole' })).toBe(true);
    expect(isCorrect({ type: 'integer', value: 3 }, { value: 3.5, method: 'whole' })).toBe(false);
    expect(isCorrect({ type: 'float', value: 0.333 }, { value: 1 / 3, method: 'whole' })).toBe(true);
    expect(isCorrect({ type: 'float', value: 0.375 }, { value: 0.33, method: 'whole' })).toBe(false);
    expect(isCorrect({ type: 'text', value: 'gray' }, { value: 'Grey.', method: 'whole' })).toBe(true);
    expect(isCorrect({ type: 'text', value: 'red' }, { value: null, method: 'none' })).toBe(false);
  });

  it('finds numbers in reading order', () => {
    expect(numbersIn('2 circles and three squares, 50% red, 1/4 blue')).toEqual([2, 3, 0.5, 0.25]);
  });
});
