import type { CircuitView, CircuitViewNode } from '@contract/contract';
import { Box } from '@mui/material';
import { useMemo } from 'react';
import { formatRoute } from '../lib/router';

/** Edges drawn at most (the strongest): a few hundred lines stay legible and cheap to paint. */
const MAX_EDGES = 600;
const ROW_H = 64;
const COL_W = 34;
const LEFT = 84;
const TOP = 16;

const KIND_FILL: Record<CircuitViewNode['kind'], string> = {
  feature: '#1565c0',
  error: '#757575',
  embedding: '#2e7d32',
  output: '#6a1b9a',
};

export const nodeName = (n: CircuitViewNode, view: CircuitView): string => {
  const tok = view.tokens[n.position];
  const at = tok ? (tok.modality === 'image' ? `patch ${tok.patchRow},${tok.patchCol}` : `'${tok.text}'`) : `position ${n.position}`;
  const inf = `influence ${n.influence.toFixed(3)}`;
  if (n.kind === 'feature') return `Feature ${n.feature} of layer ${n.layer} at ${at}, activation ${n.activation.toFixed(2)}, ${inf}`;
  if (n.kind === 'error') return `Reconstruction error of layer ${n.layer} at ${at}, ${inf}`;
  if (n.kind === 'embedding') return `Input ${at}, ${inf}`;
  return `Output: '${view.target.text}'${view.target.contrast ? ` minus '${view.target.contrast}'` : ''} (${view.outputValue.toFixed(3)})`;
};

/**
 * The attribution graph as circuit-tracer and Neuronpedia draw it: layers as rows (inputs at the
 * bottom, the output on top), prompt positions as columns (only positions with a node), nodes in a
 * cell side by side. Edges: blue excites, orange inhibits, width by |weight|. Feature nodes are links
 * to their feature page (keyboard and screen readers reach them as links).
 */
export function CircuitGraph({ view }: { view: CircuitView }) {
  const layout = useMemo(() => {
    const L = view.layers.length;
    const rowOf = (n: CircuitViewNode) => (n.kind === 'embedding' ? L + 1 : n.kind === 'output' ? 0 : L - n.layer);
    const positions = [...new Set(view.nodes.map((n) => n.position))].sort((a, b) => a - b);
    const cell = new Map<string, CircuitViewNode[]>();
    for (const n of view.nodes) {
      const k = `${rowOf(n)}:${n.position}`;
      cell.set(k, [...(cell.get(k) ?? []), n]);
    }
    const width = new Map(
      positions.map((p) => [p, Math.max(1, ...[...Array(L + 2).keys()].map((r) => cell.get(`${r}:${p}`)?.length ?? 0))]),
    );
    const x0 = new Map<number, number>();
    let x = LEFT;
    for (const p of positions) {
      x0.set(p, x);
      x += Math.min(8, width.get(p)!) * 12 + COL_W - 12;
    }
    const xy = new Map<number, [number, number]>();
    for (const [k, ns] of cell) {
      const [r, p] = k.split(':').map(Number) as [number, number];
      ns.sort((a, b) => b.influence - a.influence).forEach((n, i) =>
        xy.set(n.id, [x0.get(p)! + 12 + (i % 8) * 12, TOP + r * ROW_H + 20 + Math.floor(i / 8) * 12]),
      );
    }
    const edges = [...view.edges].sort((a, b) => Math.abs(b[2]) - Math.abs(a[2])).slice(0, MAX_EDGES);
    const wMax = Math.max(1e-12, ...edges.map((e) => Math.abs(e[2])));
    const rows = [
      'output',
      ...view.layers
        .slice()
        .reverse()
        .map((l) => `layer ${l}`),
      'inputs',
    ];
    return { xy, edges, wMax, rows, positions, x0, width: x + 8, height: TOP + rows.length * ROW_H + 40 };
  }, [view]);
  const infMax = Math.max(1e-12, ...view.nodes.filter((n) => n.kind !== 'output').map((n) => n.influence));

  return (
    <Box
      sx={{ overflow: 'auto', maxHeight: 520, border: 1, borderColor: 'divider', borderRadius: 1 }}
      tabIndex={0}
      role="region"
      aria-label="Attribution graph"
      data-testid="circuit-graph"
    >
      <svg width={layout.width} height={layout.height} role="group" aria-label="Layers as rows, prompt positions as columns">
        {layout.rows.map((r, i) => (
          <g key={r}>
            <line x1={0} x2={layout.width} y1={TOP + i * ROW_H + 40} y2={TOP + i * ROW_H + 40} stroke="#eee" />
            <text x={4} y={TOP + i * ROW_H + 24} fontSize={12} fill="#333">
              {r}
            </text>
          </g>
        ))}
        {layout.positions.map((p) => {
          const tok = view.tokens[p];
          const label = !tok
            ? String(p)
            : tok.modality !== 'image'
              ? tok.text.trim().slice(0, 5)
              : tok.patchRow === null
                ? 'img'
                : `${tok.patchRow},${tok.patchCol}`;
          return (
            <text key={p} x={layout.x0.get(p)! + 6} y={layout.height - 10} fontSize={10} fill="#333">
              <title>{`position ${p}: ${tok?.text ?? ''}`}</title>
              {label}
            </text>
          );
        })}
        <g aria-hidden="true">
          {layout.edges.map(([t, s, w], i) => {
            const a = layout.xy.get(s);
            const b = layout.xy.get(t);
            if (!a || !b) return null;
            return (
              <line
                key={i}
                x1={a[0]}
                y1={a[1]}
                x2={b[0]}
                y2={b[1]}
                stroke={w >= 0 ? '#1e88e5' : '#ef6c00'}
                strokeOpacity={0.25 + 0.6 * (Math.abs(w) / layout.wMax)}
                strokeWidth={0.5 + 3.5 * (Math.abs(w) / layout.wMax)}
              />
            );
          })}
        </g>
        {view.nodes.map((n) => {
          const [cx, cy] = layout.xy.get(n.id)!;
          const r = n.kind === 'output' ? 8 : 3 + 4 * Math.sqrt(Math.min(1, n.influence / infMax));
          const name = nodeName(n, view);
          const shape =
            n.kind === 'error' ? (
              <rect x={cx - r} y={cy - r} width={2 * r} height={2 * r} fill={KIND_FILL[n.kind]} />
            ) : n.kind === 'embedding' ? (
              <polygon points={`${cx},${cy - r - 1} ${cx + r + 1},${cy + r} ${cx - r - 1},${cy + r}`} fill={KIND_FILL[n.kind]} />
            ) : (
              <circle cx={cx} cy={cy} r={r} fill={KIND_FILL[n.kind]} stroke="#fff" strokeWidth={1} />
            );
          const tok = view.tokens[n.position];
          // Image tokens with a patch position are the patches drawn on the image (others: the image's markers).
          const modality = tok?.modality === 'image' && tok.patchRow !== null ? 'image-patch' : (tok?.modality ?? 'text');
          if (n.kind === 'feature' && n.analysisId !== null)
            return (
              <a
                key={n.id}
                href={formatRoute({ page: 'features', ids: [n.analysisId, n.feature!] })}
                aria-label={name}
                data-testid="circuit-node"
                data-kind={n.kind}
                data-modality={modality}
              >
                <title>{name}</title>
                {shape}
              </a>
            );
          return (
            <g key={n.id} data-testid="circuit-node" data-kind={n.kind} data-modality={modality}>
              <title>{n.kind === 'feature' ? `${name} (no analysis of this transcoder: analyse it to open its page)` : name}</title>
              {shape}
            </g>
          );
        })}
      </svg>
    </Box>
  );
}
