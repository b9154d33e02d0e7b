/**
 * Scenes for the synthetic benchmark: coloured shapes on a canvas, placed without overlap, with
 * their ground truth (shape, colour, size, bounding box) kept so analyses can check what a feature
 * responds to. Rendering is SVG with no text, so no fonts and no network are involved.
 */
export const SHAPES = ['circle', 'square', 'triangle', 'diamond'] as const;
export const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'] as const;
export type Shape = (typeof SHAPES)[number];
export type Color = (typeof COLORS)[number];
export type SizeClass = 'small' | 'large';

const FILL: Record<Color, string> = {
  red: '#e53935',
  green: '#43a047',
  blue: '#1e88e5',
  yellow: '#fdd835',
  purple: '#8e24aa',
  orange: '#fb8c00',
};

export interface SceneObject {
  shape: Shape;
  color: Color;
  size: SizeClass;
  /** Bounding box in pixels: x, y, width, height. */
  bbox: [number, number, number, number];
}

export interface Scene {
  width: number;
  height: number;
  background: string;
  objects: SceneObject[];
  /** Thin grey lines drawn under the objects at higher difficulty. */
  clutter: Array<[number, number, number, number]>;
}

export function center(o: SceneObject): [number, number] {
  return [o.bbox[0] + o.bbox[2] / 2, o.bbox[1] + o.bbox[3] / 2];
}

function shapeSvg(o: SceneObject): string {
  const [x, y, w, h] = o.bbox;
  const fill = FILL[o.color];
  switch (o.shape) {
    case 'circle':
      return `<circle cx="${x + w / 2}" cy="${y + h / 2}" r="${w / 2}" fill="${fill}"/>`;
    case 'square':
      return `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="${fill}"/>`;
    case 'triangle':
      return `<polygon points="${x + w / 2},${y} ${x + w},${y + h} ${x},${y + h}" fill="${fill}"/>`;
    case 'diamond':
      return `<polygon points="${x + w / 2},${y} ${x + w},${y + h / 2} ${x + w / 2},${y + h} ${x},${y + h / 2}" fill="${fill}"/>`;
  }
}

export function sceneSvg(scene: Scene): string {
  const lines = scene.clutter.map(
    ([x1, y1, x2, y2]) => `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#9e9e9e" stroke-width="1"/>`,
  );
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${scene.width}" height="${scene.height}" viewBox="0 0 ${scene.width} ${scene.height}" shape-rendering="crispEdges">` +
    `<rect width="100%" height="100%" fill="${scene.background}"/>${lines.join('')}${scene.objects.map(shapeSvg).join('')}</svg>`
  );
}

/** Place `count` objects without overlap (with a margin), or return null if the canvas is too full. */
export function placeObjects(
  rand: () => number,
  specs: Array<Pick<SceneObject, 'shape' | 'color' | 'size'>>,
  width: number,
  height: number,
): SceneObject[] | null {
  const placed: SceneObject[] = [];
  const px = (size: SizeClass) => Math.round((size === 'large' ? 0.26 : 0.14) * width);
  for (const spec of specs) {
    const side = px(spec.size);
    let ok = false;
    for (let attempt = 0; attempt < 200 && !ok; attempt++) {
      const x = Math.floor(rand() * (width - side - 2)) + 1;
      const y = Math.floor(rand() * (height - side - 2)) + 1;
      const clash = placed.some(
        (o) => x < o.bbox[0] + o.bbox[2] + 2 && o.bbox[0] < x + side + 2 && y < o.bbox[1] + o.bbox[3] + 2 && o.bbox[1] < y + side + 2,
      );
      if (!clash) {
        placed.push({ ...spec, bbox: [x, y, side, side] });
        ok = true;
      }
    }
    if (!ok) return null;
  }
  return placed;
}

/** Whether a point lies inside an object's actual shape (not just its bounding box). */
export function containsPoint(o: SceneObject, px: number, py: number): boolean {
  const [x, y, w, h] = o.bbox;
  const u = (px - x) / w;
  const v = (py - y) / h;
  if (u < 0 || u > 1 || v < 0 || v > 1) return false;
  switch (o.shape) {
    case 'square':
      return true;
    case 'circle':
      return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25;
    case 'triangle':
      return Math.abs(u - 0.5) <= v / 2;
    case 'diamond':
      return Math.abs(u - 0.5) + Math.abs(v - 0.5) <= 0.5;
  }
}

/**
 * The object under an image patch: the one covering most of a 3 x 3 grid of sample points in the
 * patch (the image is split into `rows` x `cols` equal patches), or null for background.
 */
export function objectAtPatch(scene: Scene, patchRow: number, patchCol: number, rows: number, cols: number): SceneObject | null {
  const pw = scene.width / cols;
  const ph = scene.height / rows;
  let best: SceneObject | null = null;
  let bestHits = 0;
  for (const o of scene.objects) {
    let hits = 0;
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) if (containsPoint(o, (patchCol + (j + 0.5) / 3) * pw, (patchRow + (i + 0.5) / 3) * ph)) hits++;
    if (hits > bestHits) {
      best = o;
      bestHits = hits;
    }
  }
  return bestHits >= 3 ? best : null;
}
