/**
 * Outputs to extract answers from, written the way reasoning VLMs print them, each with the answer a
 * careful human grader reads from it (null: the output gives no answer). Questions are the benchmark's
 * (src-main/core/benchmark/tasks.ts): colour, shape, count, spatial, size, arithmetic, exists.
 *
 *   Qwen3-VL thinking   "Got it, let's see..." thinking that recounts, </think>, then a short answer,
 *                       often \boxed{}; the template may prefill <think>, so only </think> is printed.
 *   Qwen3.5             a think block, then markdown: "**Answer:** ...", bold values, LaTeX, <|im_end|>.
 *   Gemma-3             no thinking; markdown bullets ("*   **Circles:** 3"), bold answers, $\frac{}{}$,
 *                       "**Answer:** ... **Explanation:** ...", and a trailing <end_of_turn>.
 */

export type AnswerKind = 'integer' | 'float' | 'text';
export type Case = [
  raw: string,
  type: AnswerKind,
  choices: string[],
  expected: number | string | null,
  options?: { thinkingOpen: boolean },
];

export const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];
export const SHAPES = ['circle', 'square', 'triangle', 'diamond'];
export const YN = ['yes', 'no'];

/** The original table: simple forms every extractor must read. */
export const BASICS: Case[] = [
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

/** The three outputs issue 19 found read wrong, and the empty answer after a think block. */
export const ISSUE_19: Case[] = [
  ['The fraction of circles is \\frac{3}{8}.', 'float', [], 0.375],
  ['The shape in the top right is a diamond (a rotated square).', 'text', SHAPES, 'diamond'],
  ['The difference is -1, i.e. there is one fewer circle than squares.', 'integer', [], -1],
  ['<think>\nThere are 3 circles and 5 squares, so 3/8 are circles.\n</think>\n\n', 'float', [], null],
];

export const QWEN3_VL_THINKING: Case[] = [
  [
    `Got it, let's see. The question is asking how many circles there are. Let me look at the image. There's a red circle at the top left, a blue circle in the middle... wait, is that a circle or a diamond? No, it's a circle. And a green circle at the bottom. So that's 3 circles. Wait, let me check again. Top left: red circle. Middle: blue circle. Bottom right: green circle. Yes, 3.
</think>

There are 3 circles in the image.`,
    'integer',
    [],
    3,
  ],
  [
    `Got it, let's count the red shapes. First, the red square on the left. Then the red triangle near the center. Is there another red one? The shape at the bottom is orange, not red. So 2 red shapes. Hmm, maybe 4? No, the others are blue and yellow.
</think>

To determine the number of red shapes, we identify each shape colored red:
1. A red square on the left.
2. A red triangle near the center.

Thus, the number of red shapes is $\\boxed{2}$.`,
    'integer',
    [],
    2,
  ],
  [
    `<think>
Okay, let's see. How many more circles than triangles are there? Count circles: 1, 2, 3, 4, 5. Triangles: 1, 2. So 5 - 2 = 3.
</think>

There are 5 circles and 2 triangles, so there are $5 - 2 = 3$ more circles than triangles.

$\\boxed{3}$`,
    'integer',
    [],
    3,
  ],
  [
    `So, let's look at the image. The purple diamond is at (120, 80) and the yellow square is at (300, 200). The question is whether the purple diamond is left of the yellow square. 120 < 300, so yes.
</think>

Yes`,
    'text',
    YN,
    'yes',
  ],
  [
    `Got it, let's check if there's an orange triangle. I see a blue triangle, an orange circle, a green square. Wait, the orange one is a circle, not a triangle. So no orange triangle.
</think>

No, there is no orange triangle in the image. The only orange shape is a circle.`,
    'text',
    YN,
    'no',
  ],
  [
    `Got it, let's figure out what shape is in the bottom left. Looking at the bottom left quadrant, there's a yellow shape with four equal sides, rotated 45 degrees. That's a diamond, not a square.
</think>

The shape in the bottom left is a **diamond**.`,
    'text',
    SHAPES,
    'diamond',
  ],
  [
    `Got it, let's find the color of the triangle. The triangle is in the upper right. Its fill is green. Wait, could it be blue? No, it's clearly green.
</think>

The triangle is green.`,
    'text',
    COLORS,
    'green',
  ],
  [
    `Got it, let's find the fraction of the shapes that are squares. Total shapes: let's count. Red square, blue circle, green square, yellow triangle, purple square, orange diamond, red circle, blue triangle. That's 8 shapes. Squares: red, green, purple, so 3. So 3/8.
</think>

The fraction of the shapes that are squares is $\\frac{3}{8}$.`,
    'float',
    [],
    0.375,
  ],
  [
    `Okay, let's count. Squares: 2. Circles: 4. The question asks how many more circles than squares: 4 - 2 = 2.
</think>

\\boxed{2}`,
    'integer',
    [],
    2,
  ],
  [
    `Got it, let's see. Is the large blue circle bigger than the small red square? The blue circle has a diameter of about 60 pixels, the red square is about 25 pixels wide. So the circle is bigger.
</think>

Yes, the large blue circle is bigger than the small red square.`,
    'text',
    YN,
    'yes',
  ],
  [
    `Got it, let's count the triangles. There's one at the top, one at the bottom left, and... wait, the third one at the right is actually a diamond. So 2 triangles. Hmm, let me recount the whole image: circle, triangle, diamond, triangle, square, circle, circle. That's 2 triangles and 7 shapes total.
</think>

There are two triangles.`,
    'integer',
    [],
    2,
  ],
  [
    `Got it, let's see. The question is "What fraction of the shapes are circles?" Count all shapes: 6. Circles: 2. So 2/6 = 1/3 ≈ 0.333.
</think>

The fraction is $\\dfrac{1}{3}$ (approximately 0.333).`,
    'float',
    [],
    1 / 3,
  ],
  [
    `Got it, let's see. The question asks whether the green square is above the orange diamond. The green square's center is at y=300, the diamond's at y=120. In image coordinates, smaller y is higher, so the diamond is above the square. So the green square is not above the orange diamond.
</think>

No.`,
    'text',
    YN,
    'no',
  ],
  [
    `Got it, let's count the blue shapes. Blue circle (top), blue square (left), blue triangle (bottom), blue diamond (right). That's 4. Wait, is the one at the right blue or purple? It looks purple. So 3 blue shapes.
</think>

**Answer:** 3`,
    'integer',
    [],
    3,
  ],
  [
    `Got it, let's find how many more squares than diamonds. Squares: 3. Diamonds: 3. So 3 - 3 = 0.
</think>

There are the same number of squares and diamonds, so there are $\\boxed{0}$ more squares than diamonds.`,
    'integer',
    [],
    0,
  ],
  [
    `Got it, let's check the shapes. There's a red circle, a blue square, and a yellow triangle. The question is "Is there a purple diamond?" I don't see any purple shapes. Wait, let me look again... the shape at the bottom could be`,
    'text',
    YN,
    null,
  ],
  [
    `Got it, let's count the circles: red, green, blue, yellow... that's 4, but the yellow one might be a diamond. Let me zoom in. If it's a diamond then 3. Hmm, the edges look curved, so 4. But wait`,
    'integer',
    [],
    null,
    { thinkingOpen: true },
  ],
  [
    `Got it, let's see. What color is the diamond? The diamond is in the center. It's orange. Hmm, or is it yellow? The color looks like RGB(255, 165, 0), which is orange.
</think>

The diamond is orange.<|im_end|>`,
    'text',
    COLORS,
    'orange',
  ],
  [
    `Got it, so the shape in the top right. Let's look: it's a triangle pointing up, colored blue.
</think>

Triangle`,
    'text',
    SHAPES,
    'triangle',
  ],
  [
    `Got it, let's compute the fraction of triangles. There are 2 triangles out of 5 shapes. 2/5 = 0.4.
</think>

$\\boxed{0.4}$`,
    'float',
    [],
    0.4,
  ],
  [
    `Got it, let's see. How many yellow shapes? Yellow circle, yellow square. So 2.
</think>

There are 2 yellow shapes in the image (a circle and a square).`,
    'integer',
    [],
    2,
  ],
  [
    `Got it, let's count the purple triangles. There's a purple triangle on the left and another on the right. And a purple circle, which doesn't count. So 2.
</think>

$$\\boxed{2}$$`,
    'integer',
    [],
    2,
  ],
  [
    `Got it, the question is: Is the small green circle bigger than the large red triangle? The green circle is small, about 20 px. The red triangle is large, about 70 px. So no.
</think>

No, the small green circle is smaller than the large red triangle.`,
    'text',
    YN,
    'no',
  ],
  [
    `Got it, let's see. There are 4 squares and 5 circles. The question asks how many more squares than circles. 4 - 5 = -1.
</think>

The difference is -1, i.e. there is one fewer square than circles.`,
    'integer',
    [],
    -1,
  ],
  [
    `Got it, the shape at the bottom right. It has four sides, all equal, with corners pointing up, down, left and right. That's a diamond, which is a square rotated by 45 degrees.
</think>

The shape is a diamond, which is essentially a square rotated 45°.`,
    'text',
    SHAPES,
    'diamond',
  ],
  [
    `Got it, let's determine the colour of the circle. The circle at the top is purple. Wait, maybe it's blue? No, it's more violet.
</think>

\\boxed{\\text{purple}}`,
    'text',
    COLORS,
    'purple',
  ],
  [
    `Got it, we need the fraction of shapes that are diamonds. Total shapes: 4. Diamonds: 1. So 1/4.
</think>

One quarter of the shapes are diamonds: $\\frac{1}{4} = 0.25$.`,
    'float',
    [],
    0.25,
  ],
  [
    `Got it, let me check whether there's a red square. I see a red circle at the top and a blue square at the bottom. No red square.
</think>

There is no red square.`,
    'text',
    YN,
    'no',
  ],
  [
    `Got it, count the green shapes: green triangle, green circle, green diamond, green square, green circle. 5.
</think>

5`,
    'integer',
    [],
    5,
  ],
  [
    `Got it, let's see. Is the yellow triangle right of the blue diamond? The yellow triangle is at x=50, the blue diamond at x=250. So the triangle is to the left, not the right.
</think>

No. The yellow triangle is to the left of the blue diamond.`,
    'text',
    YN,
    'no',
  ],
  [
    `Got it, the question asks about the shape in the top left. It is round. So circle.
</think>

The shape in the top left is a circle, not a square.`,
    'text',
    SHAPES,
    'circle',
  ],
  [
    `Got it, how many circles? I see 1 circle. Just one.
</think>

There is only one circle.`,
    'integer',
    [],
    1,
  ],
  [
    `Got it, let's count all squares: there are 6 shapes, of which 3 are squares.
</think>

3 out of 6 shapes are squares, so the fraction is \\(\\frac{1}{2}\\).`,
    'float',
    [],
    0.5,
  ],
  [
    `Got it, let's see. Is there a blue circle? Yes, at the bottom right.
</think>

Yes, there is a blue circle in the bottom right corner.`,
    'text',
    YN,
    'yes',
  ],
  [
    `Got it, the triangle's color. The triangle is filled with a gray-ish... no, it's red. Red with a dark outline.
</think>

Red`,
    'text',
    COLORS,
    'red',
  ],
  [
    `Got it, we need to count the orange squares. There's one orange square at the top and one at the left. Also an orange circle. So 2 orange squares.
</think>

There are **2** orange squares.`,
    'integer',
    [],
    2,
  ],
  [
    `Got it, so the question asks what fraction of the shapes are triangles. Let's count: 7 shapes in total, 2 triangles. 2/7 ≈ 0.286.
</think>

The answer is $\\frac{2}{7} \\approx 0.286$.`,
    'float',
    [],
    2 / 7,
  ],
  [
    `Got it, how many more diamonds than circles. Diamonds: 4. Circles: 1. 4 - 1 = 3.
</think>

There are 4 diamonds and 1 circle. 4 − 1 = 3, so there are **three** more diamonds than circles.`,
    'integer',
    [],
    3,
  ],
  [
    `Got it, let's see. Is the red triangle below the green circle? The red triangle's y is 400, green circle's y is 100. Larger y is lower. So yes, below.
</think>

Yes.<|im_end|>`,
    'text',
    YN,
    'yes',
  ],
  [
    `Got it, let me think about the colour of the square. It's a bright yellow.
</think>
`,
    'text',
    COLORS,
    null,
  ],
  [
    `Got it, let's count the circles. Red circle top-left, blue circle center, green circle bottom-right. 3 circles.
</think>

There are 3 circles in the image: one red, one blue, and one green.`,
    'integer',
    [],
    3,
  ],
  [
    `Got it, let's see. The question is whether the orange circle is right of the purple square. The orange circle is at x≈400, the purple square at x≈100. So yes.
</think>

The orange circle is to the right of the purple square, so the answer is yes.`,
    'text',
    YN,
    'yes',
  ],
  [
    `Got it, so what fraction of the shapes are diamonds? 2 diamonds, 6 shapes total. 2/6 = 1/3.
</think>

Final Answer: The final answer is $\\boxed{\\frac{1}{3}}$`,
    'float',
    [],
    1 / 3,
  ],
  [
    `Got it, let's count the yellow shapes. Yellow circle at top, yellow square at left, yellow diamond at bottom, yellow triangle at right. 4.
</think>

Counting the yellow shapes: the circle (1), the square (2), the diamond (3) and the triangle (4).

So there are 4 yellow shapes.`,
    'integer',
    [],
    4,
  ],
  [
    `Got it, is there a purple circle? Let's check all shapes: red square, blue circle, purple triangle, green diamond. The purple shape is a triangle. So no purple circle.
</think>

Looking at the image, the only purple shape is a triangle. Therefore, there is no purple circle.`,
    'text',
    YN,
    'no',
  ],
  [
    `Got it, the color of the square. It's at the bottom and it's blue-ish, but compared with the blue circle it's clearly purple.
</think>

The square is purple (it is darker than the blue circle).`,
    'text',
    COLORS,
    'purple',
  ],
  [
    `Got it, how many more circles than diamonds? Circles: 6, diamonds: 2. 6 - 2 = 4.
</think>

**Step 1:** Count the circles: 6.
**Step 2:** Count the diamonds: 2.
**Step 3:** Subtract: 6 - 2 = 4.

There are $\\boxed{4}$ more circles than diamonds.`,
    'integer',
    [],
    4,
  ],
  [
    `Got it, let's check the sizes. The small yellow triangle is about 20 px, the large blue square about 80 px. Is the small yellow triangle bigger than the large blue square? No.
</think>

No, it is not. The large blue square is much bigger than the small yellow triangle.`,
    'text',
    YN,
    'no',
  ],
  [
    `Got it, the shape in the top right. It has three sides... wait, four sides. It's a square tilted by 45 degrees. In this benchmark that's a diamond.
</think>

The shape in the top right is a diamond.`,
    'text',
    SHAPES,
    'diamond',
  ],
  [
    `Got it, let's count. Squares: 1, 2, 3, 4, 5, 6, 7, 8. So 8 squares. Hmm, that seems like a lot. Let me recount: 1, 2, 3, 4, 5, 6. 6 squares.
</think>

\\boxed{6}<|im_end|>`,
    'integer',
    [],
    6,
  ],
  [
    `Got it, let's count. Circle, square, circle, triangle. So 2 circles among 4 shapes.
</think>

The image contains four shapes. Among them, two are circles.`,
    'integer',
    [],
    2,
  ],
  [
    `Got it, squares minus circles: 3 - 1 = 2.
</think>

There is one circle and there are three squares, so the squares outnumber the circles by two.`,
    'integer',
    [],
    2,
  ],
  [
    `Got it, compare the sizes: the small red square vs. the large yellow circle. The circle is clearly larger.
</think>

No. The large yellow circle is bigger.`,
    'text',
    YN,
    'no',
  ],
  [
    `Got it, is the red square above the blue triangle? Red square y=80, blue triangle y=260. Yes.
</think>

The red square is above the blue triangle.`,
    'text',
    YN,
    'yes',
  ],
  [
    `Got it, fraction of circles: 3 of 5 = 0.6.
</think>

The fraction is 0.6.`,
    'float',
    [],
    0.6,
  ],
  [
    `Got it, 5 circles out of 8 shapes.
</think>

$\\frac{5}{8}$`,
    'float',
    [],
    0.625,
  ],
  [
    `Got it, the shape in the top-left corner: three corners, yellow fill.
</think>

The shape in the top-left corner is a yellow triangle.`,
    'text',
    SHAPES,
    'triangle',
  ],
  [
    `Got it, the colour of the diamond is green.
</think>

The answer is: **green**.`,
    'text',
    COLORS,
    'green',
  ],
  [
    `Got it, count the diamonds: 1, 2, 3, 4, 5. So \\boxed{5}. Wait, the fifth one is a square. Recount: 4.
</think>

There are 4 diamonds.`,
    'integer',
    [],
    4,
  ],
  [
    `Got it, 6 shapes, 2 triangles.
</think>

I count **6** shapes in total, of which **2** are triangles, giving a fraction of $\\frac{2}{6} = \\frac{1}{3}$.`,
    'float',
    [],
    1 / 3,
  ],
  [
    `<think>
Let me count the shapes one by one. Top row: 1, 2, 3`,
    'integer',
    [],
    null,
  ],
];

export const QWEN35: Case[] = [
  [
    `<think>
I need to count the triangles. I see one in the top-left, one in the center and one at the bottom. That makes 3. Let me double check: top-left triangle (red), center triangle (blue), bottom triangle (green). Yes, 3.
</think>

**Answer: 3**

There are three triangles in the image: a red one in the top-left, a blue one in the center, and a green one at the bottom.<|im_end|>`,
    'integer',
    [],
    3,
  ],
  [
    `<think>
The user asks whether the blue square is to the right of the red circle. The blue square is on the left side of the image and the red circle is on the right side. So the answer is no.
</think>

**No.** The blue square is on the **left** side of the image, while the red circle is on the right.<|im_end|>`,
    'text',
    YN,
    'no',
  ],
  [
    `<think>
Shapes: circle, square, circle, triangle, circle, diamond. Circles = 3, total = 6, so 3/6 = 1/2.
</think>

The fraction of shapes that are circles is:

$$\\frac{3}{6} = \\frac{1}{2} = 0.5$$

**Answer:** $\\tfrac{1}{2}$<|im_end|>`,
    'float',
    [],
    0.5,
  ],
  [
    `<think>
The shape in the bottom-right quadrant has four equal sides and is tilted 45°, so it is a diamond (a rotated square).
</think>

The shape in the bottom-right is a **diamond** (a square rotated by 45°).<|im_end|>`,
    'text',
    SHAPES,
    'diamond',
  ],
  [
    `<think>
What color is the circle? There's only one circle, at the top. It is yellow.
</think>

**Answer:** Yellow<|im_end|>`,
    'text',
    COLORS,
    'yellow',
  ],
  [
    `<think>
Count red shapes. Red circle, red square, red diamond. 3. But is the diamond red or orange? It's red.
</think>

### Answer
There are **3** red shapes.<|im_end|>`,
    'integer',
    [],
    3,
  ],
  [
    `<think>
How many more squares than triangles? Squares: 5, triangles: 1. 5 - 1 = 4.
</think>

- Squares: 5
- Triangles: 1

**Difference:** 5 − 1 = **4**<|im_end|>`,
    'integer',
    [],
    4,
  ],
  [
    `<think>
Is there a green diamond? I see a green circle and a purple diamond, but no green diamond.
</think>

**Answer:** No — there is a green circle and a purple diamond, but no green diamond.<|im_end|>`,
    'text',
    YN,
    'no',
  ],
  [
    `<think>
Is the large orange square bigger than the small yellow circle? Yes, obviously the large square is bigger.
</think>

**Yes**, the large orange square is bigger than the small yellow circle.<|im_end|>`,
    'text',
    YN,
    'yes',
  ],
  [
    `<think>
Fraction of diamonds: 2 diamonds among 8 shapes = 2/8 = 0.25.
</think>

**Answer:** $\\frac{2}{8} = \\frac{1}{4} = 0.25$<|im_end|>`,
    'float',
    [],
    0.25,
  ],
  [
    `<think>
The triangle is blue.
</think>

The triangle is **blue**.<|im_end|>`,
    'text',
    COLORS,
    'blue',
  ],
  [
    `<think>
Let me count the circles: one at top-left (red), one at center (blue). Two circles.
</think>

**Answer:** 2 circles<|im_end|>`,
    'integer',
    [],
    2,
  ],
  [
    `<think>
Shape in the top-left: three vertices, so a triangle.
</think>

**Triangle**<|im_end|>`,
    'text',
    SHAPES,
    'triangle',
  ],
  [
    `<think>
How many blue circles? There's one blue circle on the left and one blue square. So 1 blue circle.
</think>

There is **1** blue circle (the other blue shape is a square).<|im_end|>`,
    'integer',
    [],
    1,
  ],
  [
    `<think>
Is the purple triangle above the green square? Purple triangle y=50, green square y=350. Yes, above.
</think>

Yes<|im_end|>`,
    'text',
    YN,
    'yes',
  ],
  [
    `<think>
Circles 2, squares 4. How many more circles than squares? 2 - 4 = -2. The circles are fewer, so the difference is negative.
</think>

**Answer:** −2 (there are two fewer circles than squares)<|im_end|>`,
    'integer',
    [],
    -2,
  ],
  [
    `<think>
The fraction of squares: 3 squares of 5 shapes.
</think>

$\\boxed{\\dfrac{3}{5}}$<|im_end|>`,
    'float',
    [],
    0.6,
  ],
  [
    `<think>
What shape is in the bottom left? It's round.
</think>

It's a **circle**.<|im_end|>`,
    'text',
    SHAPES,
    'circle',
  ],
  [
    `<think>
Colour of the square: it looks grey at first, but it's actually a dull green.
</think>

**Green**<|im_end|>`,
    'text',
    COLORS,
    'green',
  ],
  [
    `<think>
Count purple shapes: purple circle, purple triangle, purple square, purple diamond. 4.
</think>

| Shape | Colour |
|---|---|
| circle | purple |
| triangle | purple |
| square | purple |
| diamond | purple |

**Total purple shapes: 4**<|im_end|>`,
    'integer',
    [],
    4,
  ],
  [
    `<think>
Is there a yellow circle? Let me scan: red square, blue triangle, yellow circle (bottom). Yes.
</think>

**Answer:** Yes, there is a yellow circle at the bottom of the image.<|im_end|>`,
    'text',
    YN,
    'yes',
  ],
  [
    `<think>
Fraction of triangles: 1 triangle, 3 shapes. One third.
</think>

**One third** of the shapes are triangles (\\(\\frac{1}{3}\\)).<|im_end|>`,
    'float',
    [],
    1 / 3,
  ],
  [
    `<think>
Count the squares. I see a red square, a blue square... and possibly a third one hidden behind the circle? Let me look at the overlapping region. The edges suggest a third square. Hmm, but it could also be a diamond. I need to consider the angles: if the edges are axis-aligned it is a square, if they are at 45 degrees it is a diamond. The edges look axis-aligned so`,
    'integer',
    [],
    null,
  ],
  [
    `<think>
How many more triangles than diamonds? Triangles: 3. Diamonds: 3. 3 - 3 = 0.
</think>

There are **no more** triangles than diamonds — the counts are equal (3 each), so the answer is **0**.<|im_end|>`,
    'integer',
    [],
    0,
  ],
  [
    `<think>
Is the small blue diamond bigger than the large green triangle? The diamond is small and the triangle is large, so no.
</think>

**No**, the small blue diamond is **not** bigger than the large green triangle.<|im_end|>`,
    'text',
    YN,
    'no',
  ],
  [
    `<think>
The circle looks orange-red. The palette has red and orange; this one is orange (#FFA500).
</think>

**Answer:** Orange (not red)<|im_end|>`,
    'text',
    COLORS,
    'orange',
  ],
  [
    `<think>
The question: how many green shapes? Green circle, green triangle. 2.
</think>

## Final Answer
**2**<|im_end|>`,
    'integer',
    [],
    2,
  ],
  [
    `<think>
Fraction of circles: 5 circles, 8 shapes: 5/8 = 0.625.
</think>

$$
\\frac{5}{8} = 0.625
$$<|im_end|>`,
    'float',
    [],
    0.625,
  ],
  [
    `<think>
Is the red diamond left of the yellow triangle? The red diamond is on the right.
</think>

**Answer: No.** The red diamond is on the *right* side of the yellow triangle.<|im_end|>`,
    'text',
    YN,
    'no',
  ],
  [
    `<think>
What shape is in the top right? Four equal sides, axis aligned: a square. Not a diamond.
</think>

**Square** (not a diamond: its sides are horizontal and vertical).<|im_end|>`,
    'text',
    SHAPES,
    'square',
  ],
  [
    `<think>
Count: 8 shapes, of which 6 are blue.
</think>

**6** of the 8 shapes are blue.<|im_end|>`,
    'integer',
    [],
    6,
  ],
  [
    `<think>
What fraction of the shapes are squares? 0 squares among 4 shapes.
</think>

None of the shapes are squares, so the fraction is **0**.<|im_end|>`,
    'float',
    [],
    0,
  ],
  [
    `<think>
Let me think about whether there is an orange square.
</think>
<|im_end|>`,
    'text',
    YN,
    null,
  ],
  [
    `<think>
The shape at the bottom is a triangle. It's purple.
</think>

<answer>purple</answer><|im_end|>`,
    'text',
    COLORS,
    'purple',
  ],
  [
    `<think>
Circles: 3, squares: 1; 3 - 1 = 2 more circles.
</think>
<answer>2</answer>`,
    'integer',
    [],
    2,
  ],
  [
    `<think>
Fraction: 1 of 2 shapes is a diamond. 1/2.
</think>

The fraction is **1/2**, i.e. 50% of the shapes.<|im_end|>`,
    'float',
    [],
    0.5,
  ],
  [
    `<think>
How many circles? 7.
</think>

There are seven circles.<|im_end|>
<|im_start|>user
How many squares?<|im_end|>`,
    'integer',
    [],
    7,
  ],
  [
    `<think>
How many red squares? There is a single red square in the top-right.
</think>

There is a single red square.<|im_end|>`,
    'integer',
    [],
    1,
  ],
  [
    `<think>
Fraction of the shapes that are triangles: 4 of 8.
</think>

**Answer:** 4 out of 8 shapes are triangles, i.e. **0.5**.<|im_end|>`,
    'float',
    [],
    0.5,
  ],
  [
    `<think>
Is there an orange diamond? There is an orange diamond at the bottom.
</think>

Yes — there is an **orange diamond** near the bottom edge.<|im_end|>`,
    'text',
    YN,
    'yes',
  ],
  [
    `<think>
What colour is the circle? It's red.
</think>

The circle is **red**. The other shapes are blue and green.<|im_end|>`,
    'text',
    COLORS,
    'red',
  ],
  [
    `<think>
Count circles: 2 blue, 1 yellow = 3.
</think>

There are **3** circles in total: **2** blue and **1** yellow.<|im_end|>`,
    'integer',
    [],
    3,
  ],
  [
    `<think>
Is the green triangle below the red square? Green triangle at the top, red square at the bottom. So no.
</think>

The green triangle is **above** the red square, so it is **not** below it.

**Answer: No**<|im_end|>`,
    'text',
    YN,
    'no',
  ],
  [
    `<think>
How many more squares than circles? 3 squares, 3 circles. 0.
</think>

**0** — the numbers of squares and circles are equal.<|im_end|>`,
    'integer',
    [],
    0,
  ],
  [
    `<think>
The shape in the bottom-left is a triangle, not a diamond.
</think>

It is a **triangle**, not a **diamond**.<|im_end|>`,
    'text',
    SHAPES,
    'triangle',
  ],
  [
    `<think>
Fraction of squares: 3 of 4.
</think>

$\\frac{3}{4}$ of the shapes are squares, which is **75%**.<|im_end|>`,
    'float',
    [],
    0.75,
  ],
  [
    `<think>
Count blue shapes: none.
</think>

There are **no** blue shapes in the image.<|im_end|>`,
    'integer',
    [],
    0,
  ],
  [
    `<think>
Squares 2, circles 3.
</think>

There are **2** squares and **3** circles, so there is **1** more circle than squares.<|im_end|>`,
    'integer',
    [],
    1,
  ],
  [
    `<think>
The circle is blue.
</think>

**Answer:** The circle is **blue**.<|im_end|>`,
    'text',
    COLORS,
    'blue',
  ],
  [
    `<think>
Triangle x=40, square x=300.
</think>

**Yes.** The triangle (left) is clearly left of the square (right).<|im_end|>`,
    'text',
    YN,
    'yes',
  ],
  [
    `<think>
2 of 3 shapes are diamonds.
</think>

The fraction is $\\tfrac{2}{3}$, about **67%**.<|im_end|>`,
    'float',
    [],
    2 / 3,
  ],
  [
    `<think>
3 circles, 1 triangle.
</think>

**Answer:** 3 - 1 = **2**<|im_end|>`,
    'integer',
    [],
    2,
  ],
  [
    `<think>
Both 2.
</think>

Both counts are 2, so the difference is **0**.<|im_end|>`,
    'integer',
    [],
    0,
  ],
  [
    `<think>
No orange triangle.
</think>

**Answer:** No, there isn't.<|im_end|>`,
    'text',
    YN,
    'no',
  ],
  [
    `<think>
Scanning for a purple square... none.
</think>

I can't find a **purple square** in the image, so **no**.<|im_end|>`,
    'text',
    YN,
    'no',
  ],
];

export const GEMMA3: Case[] = [
  [
    `Okay, let's analyze the image.

There are **3** circles in the image.<end_of_turn>`,
    'integer',
    [],
    3,
  ],
  [
    `Here's the breakdown:

*   **Circles:** 4
*   **Squares:** 1

There are **3** more circles than squares.<end_of_turn>`,
    'integer',
    [],
    3,
  ],
  [
    `**Answer:** No

**Explanation:** The red triangle is located to the right of the blue circle, not to the left.<end_of_turn>`,
    'text',
    YN,
    'no',
  ],
  [`The answer is **yellow**.<end_of_turn>`, 'text', COLORS, 'yellow'],
  [
    `Let's count the shapes:

*   Circles: 2
*   Squares: 3
*   Triangles: 1
*   Diamonds: 2

Total shapes: 8
Circles: 2

The fraction of the shapes that are circles is $\\frac{2}{8} = \\frac{1}{4}$.<end_of_turn>`,
    'float',
    [],
    0.25,
  ],
  [`Yes, the large purple square is bigger than the small orange circle.<end_of_turn>`, 'text', YN, 'yes'],
  [`The shape in the top left is a **triangle**.<end_of_turn>`, 'text', SHAPES, 'triangle'],
  [`There are **two** green shapes in the image: a green circle and a green diamond.<end_of_turn>`, 'integer', [], 2],
  [`No, there isn't a red diamond in the image. There is a red circle and a blue diamond.<end_of_turn>`, 'text', YN, 'no'],
  [
    `Okay, let's break this down:

1.  **Count the triangles:** There are 3 triangles.
2.  **Count the diamonds:** There is 1 diamond.
3.  **Subtract:** 3 - 1 = 2

Therefore, there are **2** more triangles than diamonds.<end_of_turn>`,
    'integer',
    [],
    2,
  ],
  [`The circle is **blue**.<end_of_turn>`, 'text', COLORS, 'blue'],
  [`Based on the image, the shape in the bottom right is a **diamond** (also called a rhombus).<end_of_turn>`, 'text', SHAPES, 'diamond'],
  [`There are 5 shapes in total, and 2 of them are squares. So the fraction is 2/5, or 0.4.<end_of_turn>`, 'float', [], 0.4],
  [`Yes, the yellow diamond is above the green triangle.<end_of_turn>`, 'text', YN, 'yes'],
  [`There are no orange shapes in the image.<end_of_turn>`, 'integer', [], 0],
  [
    `**Answer:** 4

**Explanation:** I counted four blue shapes: two circles, one square, and one triangle.<end_of_turn>`,
    'integer',
    [],
    4,
  ],
  [`The fraction of shapes that are diamonds is **3/8**.<end_of_turn>`, 'float', [], 0.375],
  [`The triangle is **purple**. (It might look violet in some lighting.)<end_of_turn>`, 'text', COLORS, 'purple'],
  [`No. The small red square is smaller than the large blue circle.<end_of_turn>`, 'text', YN, 'no'],
  [
    `Okay, let's look at the image carefully.

I see a **square** in the top right quadrant. It is red.<end_of_turn>`,
    'text',
    SHAPES,
    'square',
  ],
  [
    `Let's count:

*   Red circles: 1
*   Red squares: 2

There are **3** red shapes.<end_of_turn>`,
    'integer',
    [],
    3,
  ],
  [`There is **1** yellow triangle.<end_of_turn>`, 'integer', [], 1],
  [`Yes, there is a green square in the bottom left corner of the image.<end_of_turn>`, 'text', YN, 'yes'],
  [
    `The shape is a circle.

**Reasoning:** It has no corners and a smooth, round outline, unlike a square or a triangle.<end_of_turn>`,
    'text',
    SHAPES,
    'circle',
  ],
  [`The answer is $\\frac{1}{2}$.<end_of_turn>`, 'float', [], 0.5],
  [`The diamond is **orange**, not yellow.<end_of_turn>`, 'text', COLORS, 'orange'],
  [
    `There are 6 shapes in the image. 4 of them are circles and 2 are triangles. Therefore there are **2** more circles than triangles.<end_of_turn>`,
    'integer',
    [],
    2,
  ],
  [
    `**No.**

The purple circle is located *below* the blue square, not above it.<end_of_turn>`,
    'text',
    YN,
    'no',
  ],
  [
    `**Answer:** Diamond

**Explanation:** The shape has four equal sides and is oriented with its corners pointing up, down, left, and right, like a square turned on its side.<end_of_turn>`,
    'text',
    SHAPES,
    'diamond',
  ],
  [
    `Here's how to solve this:

*   **Total shapes:** 4
*   **Triangles:** 3

**Fraction of triangles:** 3/4 = 0.75

So the answer is **0.75**.<end_of_turn>`,
    'float',
    [],
    0.75,
  ],
  [`There are four squares in the image.<end_of_turn>`, 'integer', [], 4],
  [`Based on the image, the circle is **red**.<end_of_turn>`, 'text', COLORS, 'red'],
  [`There is **not** a blue triangle in the image.<end_of_turn>`, 'text', YN, 'no'],
  [
    `Okay, here's the answer:

The green shape is bigger. **Yes**, the large green diamond is bigger than the small purple square.<end_of_turn>`,
    'text',
    YN,
    'yes',
  ],
  [`There are **8** shapes in total (**3** circles and **5** squares).<end_of_turn>`, 'integer', [], 8],
  [`The shape in the bottom left is a square, although at first glance it looks like a diamond.<end_of_turn>`, 'text', SHAPES, 'square'],
  [`1/3 of the shapes are circles.<end_of_turn>`, 'float', [], 1 / 3],
  [`There are **five** diamonds.<end_of_turn>`, 'integer', [], 5],
  [
    `The square is **green**.

I hope this helps! Let me know if you have any other questions.<end_of_turn>`,
    'text',
    COLORS,
    'green',
  ],
  [`I'm sorry, but I can't determine the color of the shape from this image.<end_of_turn>`, 'text', COLORS, null],
  [`Yes.<end_of_turn>`, 'text', YN, 'yes'],
  [`The difference is -1: there is one fewer circle than squares.<end_of_turn>`, 'integer', [], -1],
  [`37.5% of the shapes are triangles.<end_of_turn>`, 'float', [], 0.375],
  [`The shape in the top right is not a circle; it is a **triangle**.<end_of_turn>`, 'text', SHAPES, 'triangle'],
  [`There are **3** circles in the image. One is red and two are blue.<end_of_turn>`, 'integer', [], 3],
  [`Based on the image, **no**, the green triangle is not above the red circle.<end_of_turn>`, 'text', YN, 'no'],
  [`The triangle is **purple**. The other shapes are red, blue and yellow.<end_of_turn>`, 'text', COLORS, 'purple'],
  [`There are 4 shapes in the image: 2 circles, 1 square, and 1 triangle. So there are **2** circles.<end_of_turn>`, 'integer', [], 2],
  [
    `Okay, I see a blue square, a red circle, and a yellow triangle. There is no green diamond.

**Answer:** No<end_of_turn>`,
    'text',
    YN,
    'no',
  ],
  [
    `Let's break it down:

*   **Total shapes:** 6
*   **Diamonds:** 2

So, the fraction of diamonds is 2/6, which simplifies to **1/3**.<end_of_turn>`,
    'float',
    [],
    1 / 3,
  ],
  [`The shape in the top right corner is a **diamond**, which is a square rotated by 45 degrees.<end_of_turn>`, 'text', SHAPES, 'diamond'],
  [
    `There are 2 more circles than squares.

*   Circles: 5
*   Squares: 3<end_of_turn>`,
    'integer',
    [],
    2,
  ],
  [
    `Yes, the small red diamond is to the left of the large green circle.

Here's a breakdown:

*   The red diamond is on the left side of the image.
*   The green circle is on the right side.<end_of_turn>`,
    'text',
    YN,
    'yes',
  ],
  [`The color of the square is **orange**.<end_of_turn>`, 'text', COLORS, 'orange'],
  [`I see **four** circles.<end_of_turn>`, 'integer', [], 4],
  [
    `The image shows a **blue** circle, a **red** square, and a **green** triangle. The circle is **blue**.<end_of_turn>`,
    'text',
    COLORS,
    'blue',
  ],
  [
    `Here's the answer:

**0.25**

There are 2 circles out of 8 shapes, so the fraction is 2/8 = 0.25.<end_of_turn>`,
    'float',
    [],
    0.25,
  ],
  [`There are **2** more squares than triangles (5 squares - 3 triangles = 2).<end_of_turn>`, 'integer', [], 2],
  [`**Yes**<end_of_turn>`, 'text', YN, 'yes'],
  [`The shape in the bottom right is a purple **diamond**.<end_of_turn>`, 'text', SHAPES, 'diamond'],
  [`No, the red circle is not to the left of the yellow square. It's to the right.<end_of_turn>`, 'text', YN, 'no'],
  [`The fraction of the shapes that are squares is 1 out of 3, or approximately 0.33.<end_of_turn>`, 'float', [], 1 / 3],
  [`There are 7 shapes in total. Of these, 3 are triangles. The fraction is 3/7.<end_of_turn>`, 'float', [], 3 / 7],
  [`I am unable to see any squares in the image, so the answer is 0.<end_of_turn>`, 'integer', [], 0],
  [`The circle appears to be **gray**.<end_of_turn>`, 'text', COLORS, null],
  [
    `Okay, let's count the circles. I see one in the top left, one in the center, and one in the bottom right. That's a total of three circles.<end_of_turn>`,
    'integer',
    [],
    3,
  ],
  [`There are two squares: one red and one blue.<end_of_turn>`, 'integer', [], 2],
  [`There is 1 triangle and 2 squares. So there are **1** fewer triangles than squares, or -1 more.<end_of_turn>`, 'integer', [], -1],
];
