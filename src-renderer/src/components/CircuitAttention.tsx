import type { CircuitView } from '@contract/contract';
import { Alert, MenuItem, Stack, TextField, Typography } from '@mui/material';
import { HeatmapChart } from 'echarts/charts';
import { GridComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef, useState } from 'react';
import { invoke } from '../api/client';
import { describeError } from '../lib/errors';
import { CircuitImage } from './CircuitImage';

echarts.use([HeatmapChart, GridComponent, TooltipComponent, VisualMapComponent, CanvasRenderer]);

/** Which map is drawn on the image: the inputs' influence, one head of one layer, or the rollout. */
type Shown = { kind: 'influence' } | { kind: 'head'; layer: number; head: number } | { kind: 'rollout' };

/**
 * The image with, drawn over it, the input patches' influence on the output, a head's attention from
 * the answer position, or the attention rollout; beside it each layer x head's attention mass on the
 * image (click a cell to draw that head).
 */
export function CircuitAttention({ view }: { view: CircuitView }) {
  const [maps, setMaps] = useState<{ layers: number[][][]; rollout: number[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState<Shown>({ kind: 'influence' });
  const chart = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let cancelled = false;
    setMaps(null);
    Promise.all([
      ...view.layers.map((_, i) => invoke('circuits.attention', { id: view.id, layer: i }).then((r) => r.maps)),
      invoke('circuits.attention', { id: view.id, layer: null }).then((r) => r.maps),
    ]).then(
      (all) => {
        if (!cancelled) setMaps({ layers: all.slice(0, -1), rollout: all[all.length - 1]![0]! });
      },
      (e: unknown) => !cancelled && setError(describeError(e).sentence),
    );
    return () => {
      cancelled = true;
    };
  }, [view.id, view.layers]);

  useEffect(() => {
    if (!chart.current || !maps) return;
    const c = echarts.init(chart.current, undefined, { renderer: 'canvas' });
    const heads = Math.max(...maps.layers.map((l) => l.length));
    const data = maps.layers.flatMap((l, li) => l.map((m, h) => [h, li, m.reduce((s, v) => s + v, 0)]));
    c.setOption({
      animation: false,
      grid: { left: 64, right: 16, top: 8, bottom: 56 },
      tooltip: {
        formatter: (p: { value: number[] }) =>
          `layer ${view.layers[p.value[1]!]}, head ${p.value[0]}: ${(p.value[2]! * 100).toFixed(1)}% on the image`,
      },
      xAxis: { type: 'category', name: 'head', nameLocation: 'middle', nameGap: 24, data: [...Array(heads).keys()].map(String) },
      yAxis: { type: 'category', data: view.layers.map((l) => `layer ${l}`) },
      visualMap: { min: 0, max: 1, show: false, inRange: { color: ['#440154', '#31688e', '#35b779', '#fde725'] } },
      series: [{ type: 'heatmap', data }],
    });
    c.on('click', (p) => {
      const v = (p as { value: number[] }).value;
      setShown({ kind: 'head', layer: v[1]!, head: v[0]! });
    });
    return () => c.dispose();
  }, [maps, view.layers]);

  const values =
    shown.kind === 'influence'
      ? view.patchInfluence
      : !maps
        ? view.attention.imagePositions.map(() => 0)
        : shown.kind === 'rollout'
          ? maps.rollout
          : (maps.layers[shown.layer]?.[shown.head] ?? []);
  const what =
    shown.kind === 'influence'
      ? "each input patch's influence on the output"
      : shown.kind === 'rollout'
        ? 'attention rollout from the answer position'
        : `attention of layer ${view.layers[shown.layer]} head ${shown.head} from the answer position`;
  const selectValue = shown.kind === 'head' ? `${shown.layer}:${shown.head}` : shown.kind;
  return (
    <Stack direction="row" spacing={2} sx={{ flexWrap: 'wrap', rowGap: 2 }} data-testid="circuit-attention">
      <Stack spacing={1}>
        <TextField
          select
          size="small"
          label="Drawn on the image"
          value={selectValue}
          sx={{ width: 320 }}
          onChange={(e) => {
            const v = e.target.value;
            if (v === 'influence' || v === 'rollout') setShown({ kind: v });
            else {
              const [layer, head] = v.split(':').map(Number) as [number, number];
              setShown({ kind: 'head', layer, head });
            }
          }}
        >
          <MenuItem value="influence">Input influence (attribution)</MenuItem>
          <MenuItem value="rollout">Attention rollout</MenuItem>
          {view.layers.flatMap((l, li) =>
            [...Array(view.attention.heads[li] ?? 0).keys()].map((h) => (
              <MenuItem key={`${li}:${h}`} value={`${li}:${h}`}>
                {`Attention, layer ${l} head ${h}`}
              </MenuItem>
            )),
          )}
        </TextField>
        <CircuitImage view={view} values={values} what={what} />
      </Stack>
      <Stack spacing={1} sx={{ minWidth: 280, flex: 1 }}>
        <Typography variant="subtitle2">Attention from the answer position to the image, per layer and head</Typography>
        {error && <Alert severity="error">{error}</Alert>}
        <div
          ref={chart}
          style={{ width: '100%', maxWidth: 420, height: 56 + 40 * view.layers.length }}
          role="img"
          aria-label="Share of each head's attention on the image patches; click a cell to draw that head on the image"
          data-testid="attention-chart"
        />
        <Typography variant="caption">
          From the exposed queries and keys
          {view.attention.maxDeviationFromModel !== null &&
            `; largest difference from the model's own probabilities ${view.attention.maxDeviationFromModel.toExponential(1)}`}
          .
        </Typography>
      </Stack>
    </Stack>
  );
}
