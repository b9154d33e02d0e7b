import type { CircuitView } from '@contract/contract';
import { Box, Typography } from '@mui/material';
import { useState } from 'react';
import { viridisCss, viridisGradient } from '../lib/colormap';

/**
 * The traced image with a value per image patch drawn over it as heat (viridis, over the picture in
 * grey), each patch where its box lies in the original pixels. Patches whose input node is in the
 * pruned graph are outlined: they are the graph's image-patch inputs.
 */
export function CircuitImage({
  view,
  values,
  what,
  size = 320,
}: {
  view: CircuitView;
  /** One value per image position (view.attention.imagePositions order). */
  values: number[];
  what: string;
  size?: number;
}) {
  const [natural, setNatural] = useState<[number, number] | null>(null);
  const inGraph = new Set(view.nodes.filter((n) => n.kind === 'embedding').map((n) => n.position));
  const max = Math.max(1e-12, ...values);
  const tokens = view.attention.imagePositions.map((p) => view.tokens[p]!);
  const rows = Math.max(1, ...tokens.map((t) => (t.patchRow ?? 0) + 1));
  const cols = Math.max(1, ...tokens.map((t) => (t.patchCol ?? 0) + 1));
  const [w, h] = natural ?? [cols, rows];
  const boxOf = (i: number): [number, number, number, number] => {
    const t = tokens[i]!;
    if (t.box && natural) return t.box;
    return [
      (t.patchCol ?? 0) * (w / cols),
      (t.patchRow ?? 0) * (h / rows),
      ((t.patchCol ?? 0) + 1) * (w / cols),
      ((t.patchRow ?? 0) + 1) * (h / rows),
    ];
  };
  const shown = tokens.map((t, i) => ({ t, i })).filter(({ t }) => inGraph.has(t.position));
  return (
    <Box>
      <Box sx={{ position: 'relative', width: size, height: (size * h) / w }} data-testid="circuit-image">
        {view.image ? (
          <img
            src={view.image}
            alt={`The traced image, ${what} drawn over it`}
            width={size}
            height={(size * h) / w}
            style={{ display: 'block', filter: 'grayscale(1) contrast(0.6) brightness(1.1)' }}
            onLoad={(e) => setNatural([e.currentTarget.naturalWidth, e.currentTarget.naturalHeight])}
          />
        ) : (
          <Typography variant="body2">{view.imageNote}</Typography>
        )}
        <svg
          viewBox={`0 0 ${w} ${h}`}
          preserveAspectRatio="none"
          width={size}
          height={(size * h) / w}
          style={{ position: 'absolute', left: 0, top: 0 }}
          role="group"
          aria-label={`${what} per image patch`}
        >
          {values.map((v, i) => {
            const [x0, y0, x1, y1] = boxOf(i);
            const t = v / max;
            return t > 0.02 ? (
              <rect key={i} x={x0} y={y0} width={x1 - x0} height={y1 - y0} fill={viridisCss(t, 0.35 + 0.5 * t)} aria-hidden="true" />
            ) : null;
          })}
          {shown.map(({ t, i }) => {
            const [x0, y0, x1, y1] = boxOf(i);
            const node = view.nodes.find((n) => n.kind === 'embedding' && n.position === t.position)!;
            return (
              <rect
                key={`n${t.position}`}
                x={x0}
                y={y0}
                width={x1 - x0}
                height={y1 - y0}
                fill="none"
                stroke="#fff"
                strokeWidth={Math.max(0.5, (x1 - x0) / 12)}
                data-testid="patch-node"
                role="img"
                aria-label={`Image patch ${t.patchRow},${t.patchCol} in the graph, influence ${node.influence.toFixed(3)}`}
              >
                <title>{`patch ${t.patchRow},${t.patchCol}: influence ${node.influence.toFixed(3)}`}</title>
              </rect>
            );
          })}
        </svg>
      </Box>
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, mt: 0.5, width: size }}>
        <Typography variant="caption">0</Typography>
        <Box sx={{ flexGrow: 1, height: 8, background: viridisGradient }} aria-hidden="true" />
        <Typography variant="caption">{max.toPrecision(3)}</Typography>
      </Box>
    </Box>
  );
}
