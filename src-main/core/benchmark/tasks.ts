/**
 * The benchmark's seven task types, each at three difficulties. Difficulty grows with the number of
 * objects, with distractors that share the target's colour or shape, and with clutter lines. Every
 * generator retries until its question has exactly one correct answer in the scene.
 */
import { COLORS, SHAPES, center, placeObjects, type Color, type Scene, type SceneObject, type Shape, type SizeClass } from './scene.js';

export const TASKS = ['color', 'shape', 'count', 'spatial', 'size', 'arithmetic', 'exists'] as const;
export type Task = (typeof TASKS)[number];
export type Difficulty = 1 | 2 | 3;

export type Answer = { type: 'integer'; value: number } | { type: 'float'; value: number } | { type: 'text'; value: string };

export interface GeneratedItem {
  task: Task;
  difficulty: Difficulty;
  question: string;
  answer: Answer;
  scene: Scene;
}

type Spec = Pick<SceneObject, 'shape' | 'color' | 'size'>;
type Rand = () => number;

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (rand: Rand, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const objectCount = (rand: Rand, d: Difficulty) => (d === 1 ? int(rand, 2, 3) : d === 2 ? int(rand, 4, 5) : int(rand, 6, 8));
const size = (rand: Rand): SizeClass => (rand() < 0.5 ? 'small' : 'large');
const plural = (s: Shape) => `${s}s`;
const yes = (v: boolean): Answer => ({ type: 'text', value: v ? 'yes' : 'no' });

function randomSpec(rand: Rand, avoid?: (s: Spec) => boolean): Spec {
  for (;;) {
    const s = { shape: pick(rand, SHAPES), color: pick(rand, COLORS), size: size(rand) };
    if (!avoid || !avoid(s)) return s;
  }
}

/** A distractor: at higher difficulty it shares the target's colour or shape, but never both. */
function distractor(rand: Rand, target: Spec, d: Difficulty): Spec {
  const shareChance = d === 1 ? 0 : d === 2 ? 0.4 : 0.7;
  if (rand() < shareChance) {
    return rand() < 0.5
      ? {
          shape: pick(
            rand,
            SHAPES.filter((s) => s !== target.shape),
          ),
          color: target.color,
          size: size(rand),
        }
      : {
          shape: target.shape,
          color: pick(
            rand,
            COLORS.filter((c) => c !== target.color),
          ),
          size: size(rand),
        };
  }
  return randomSpec(rand, (s) => s.shape === target.shape && s.color === target.color);
}

function clutter(rand: Rand, d: Difficulty, w: number, h: number): Scene['clutter'] {
  const n = d === 1 ? 0 : d === 2 ? 2 : 6;
  return Array.from({ length: n }, () => [int(rand, 0, w), int(rand, 0, h), int(rand, 0, w), int(rand, 0, h)]);
}

function scene(rand: Rand, specs: Spec[], d: Difficulty, width: number): Scene | null {
  const objects = placeObjects(rand, specs, width, width);
  return objects ? { width, height: width, background: '#f5f5f5', objects, clutter: clutter(rand, d, width, width) } : null;
}

const unique = (objs: SceneObject[], o: SceneObject) => objs.filter((x) => x.shape === o.shape && x.color === o.color).length === 1;
const label = (o: Spec) => `${o.color} ${o.shape}`;

type Generator = (rand: Rand, d: Difficulty, width: number) => GeneratedItem | null;

const GENERATORS: Record<Task, Generator> = {
  color(rand, d, width) {
    const target = randomSpec(rand);
    const specs = [target, ...Array.from({ length: objectCount(rand, d) - 1 }, () => distractor(rand, target, d))].filter(
      (s, i) => i === 0 || s.shape !== target.shape,
    );
    const sc = scene(rand, specs, d, width);
    return (
      sc && {
        task: 'color',
        difficulty: d,
        question: `What color is the ${target.shape}?`,
        answer: { type: 'text', value: target.color },
        scene: sc,
      }
    );
  },
  shape(rand, d, width) {
    const specs = Array.from({ length: objectCount(rand, d) }, () => randomSpec(rand));
    const sc = scene(rand, specs, d, width);
    if (!sc) return null;
    const quadrant = (o: SceneObject) => {
      const [cx, cy] = center(o);
      return `${cy < width / 2 ? 'top' : 'bottom'} ${cx < width / 2 ? 'left' : 'right'}`;
    };
    const alone = sc.objects.filter((o) => sc.objects.filter((x) => quadrant(x) === quadrant(o)).length === 1);
    if (alone.length === 0) return null;
    const target = pick(rand, alone);
    return {
      task: 'shape',
      difficulty: d,
      question: `What shape is in the ${quadrant(target)}?`,
      answer: { type: 'text', value: target.shape },
      scene: sc,
    };
  },
  count(rand, d, width) {
    const specs = Array.from({ length: objectCount(rand, d) }, () => randomSpec(rand));
    const sc = scene(rand, specs, d, width);
    if (!sc) return null;
    const ref = pick(rand, sc.objects);
    const [question, match] =
      d === 1
        ? [`How many ${plural(ref.shape)} are there?`, (o: SceneObject) => o.shape === ref.shape]
        : d === 2
          ? [`How many ${ref.color} shapes are there?`, (o: SceneObject) => o.color === ref.color]
          : [`How many ${ref.color} ${plural(ref.shape)} are there?`, (o: SceneObject) => o.color === ref.color && o.shape === ref.shape];
    return { task: 'count', difficulty: d, question, answer: { type: 'integer', value: sc.objects.filter(match).length }, scene: sc };
  },
  spatial(rand, d, width) {
    const specs = Array.from({ length: Math.max(2, objectCount(rand, d)) }, () => randomSpec(rand));
    const sc = scene(rand, specs, d, width);
    if (!sc) return null;
    const candidates = sc.objects.filter((o) => unique(sc.objects, o));
    if (candidates.length < 2) return null;
    const a = candidates[0]!;
    const b = candidates[1]!;
    const [ax, ay] = center(a);
    const [bx, by] = center(b);
    const relation = pick(rand, ['left of', 'right of', 'above', 'below'] as const);
    const horizontal = relation === 'left of' || relation === 'right of';
    if (Math.abs(horizontal ? ax - bx : ay - by) < width * 0.15) return null; // too close to call
    const truth = relation === 'left of' ? ax < bx : relation === 'right of' ? ax > bx : relation === 'above' ? ay < by : ay > by;
    return { task: 'spatial', difficulty: d, question: `Is the ${label(a)} ${relation} the ${label(b)}?`, answer: yes(truth), scene: sc };
  },
  size(rand, d, width) {
    const a = { ...randomSpec(rand), size: 'large' as SizeClass };
    const b = { ...randomSpec(rand, (s) => s.shape === a.shape && s.color === a.color), size: 'small' as SizeClass };
    const rest = Array.from({ length: objectCount(rand, d) - 2 }, () => distractor(rand, a, d)).filter(
      (s) => !(s.shape === b.shape && s.color === b.color) && !(s.shape === a.shape && s.color === a.color),
    );
    const sc = scene(rand, [a, b, ...rest], d, width);
    if (!sc) return null;
    const [first, second] = rand() < 0.5 ? [a, b] : [b, a];
    return {
      task: 'size',
      difficulty: d,
      question: `Is the ${label(first)} bigger than the ${label(second)}?`,
      answer: yes(first === a),
      scene: sc,
    };
  },
  arithmetic(rand, d, width) {
    const specs = Array.from({ length: objectCount(rand, d) + 1 }, () => randomSpec(rand));
    const sc = scene(rand, specs, d, width);
    if (!sc) return null;
    const counts = new Map<Shape, number>();
    for (const o of sc.objects) counts.set(o.shape, (counts.get(o.shape) ?? 0) + 1);
    if (d === 3) {
      const s = pick(rand, [...counts.keys()]);
      const value = Math.round((counts.get(s)! / sc.objects.length) * 1000) / 1000;
      return {
        task: 'arithmetic',
        difficulty: d,
        question: `What fraction of the shapes are ${plural(s)}?`,
        answer: { type: 'float', value },
        scene: sc,
      };
    }
    const [s1, s2] = [pick(rand, SHAPES), pick(rand, SHAPES)];
    const c1 = counts.get(s1) ?? 0;
    const c2 = counts.get(s2) ?? 0;
    if (s1 === s2 || c1 < c2) return null;
    return {
      task: 'arithmetic',
      difficulty: d,
      question: `How many more ${plural(s1)} than ${plural(s2)} are there?`,
      answer: { type: 'integer', value: c1 - c2 },
      scene: sc,
    };
  },
  exists(rand, d, width) {
    const target = randomSpec(rand);
    const present = rand() < 0.5;
    const n = objectCount(rand, d) - (present ? 1 : 0);
    const others = Array.from({ length: n }, () => distractor(rand, target, d));
    const sc = scene(rand, present ? [target, ...others] : others, d, width);
    const article = /^[aeiou]/.test(target.color) ? 'an' : 'a';
    return sc && { task: 'exists', difficulty: d, question: `Is there ${article} ${label(target)}?`, answer: yes(present), scene: sc };
  },
};

/** One item; retries with the same random stream until the scene admits one correct answer. */
export function generateItem(rand: Rand, task: Task, d: Difficulty, width: number): GeneratedItem {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const item = GENERATORS[task](rand, d, width);
    if (item) return item;
  }
  throw new Error(`could not generate a ${task} item at difficulty ${d} on a ${width}px canvas`);
}

export type { Color, Shape };
