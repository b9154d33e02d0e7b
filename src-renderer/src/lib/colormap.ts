/**
 * Viridis, the perceptually uniform colormap (matplotlib's default): lightness rises steadily from
 * dark purple to yellow, so a feature's strength reads the same in every hue and in greyscale. Ten
 * evenly spaced stops of the published map, interpolated linearly.
 */
const VIRIDIS = ['#440154', '#482878', '#3e4a89', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6dcd59', '#b4de2c', '#fde725'];
const STOPS = VIRIDIS.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)) as [number, number, number]);

/** The colour at t in [0, 1] (clamped). */
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i]!;
  const b = STOPS[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number];
}

export const viridisCss = (t: number, alpha = 1) => {
  const [r, g, b] = viridis(t);
  return alpha === 1 ? `rgb(${r}, ${g}, ${b})` : `rgba(${r}, ${g}, ${b}, ${alpha})`;
};

/** A CSS gradient of the map, for legends. */
export const viridisGradient = `linear-gradient(to right, ${VIRIDIS.join(', ')})`;
