import type { TrainMetrics } from '@contract/contract';
import { LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([LineChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);

type Series = { name: string; value: (m: TrainMetrics) => number | null };
const PANELS: Array<{ title: string; series: Series[]; percent?: boolean; log?: boolean }> = [
  {
    title: 'Loss',
    series: [
      { name: 'total', value: (m) => m.loss },
      { name: 'MSE', value: (m) => m.mse },
      { name: 'AuxK', value: (m) => m.aux },
      { name: 'L1', value: (m) => m.l1 },
    ],
    log: true,
  },
  {
    title: 'FVU',
    series: [
      { name: 'all', value: (m) => m.fvu },
      { name: 'image', value: (m) => m.fvuByModality.image ?? null },
      { name: 'text', value: (m) => m.fvuByModality.text ?? null },
    ],
  },
  { title: 'L0 (active features per token)', series: [{ name: 'L0', value: (m) => m.l0 }] },
  {
    title: 'Dead and dense features',
    series: [
      { name: 'dead', value: (m) => m.deadFraction },
      { name: 'dense', value: (m) => m.denseFraction },
    ],
    percent: true,
  },
];

/** One ECharts panel per quantity, updated in place as metrics arrive. */
function Panel({ metrics, panel }: { metrics: TrainMetrics[]; panel: (typeof PANELS)[number] }) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    if (!ref.current) return;
    chart.current = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    const onResize = () => chart.current?.resize();
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    // Series with no finite value (L1 for TopK, AuxK while nothing is dead, a log axis at 0) stay out.
    const series = panel.series
      .map((s) => ({
        name: s.name,
        data: metrics
          .map((m) => [m.step, s.value(m)])
          .filter(([, v]) => v !== null && Number.isFinite(v) && (!panel.log || (v as number) > 0)),
      }))
      .filter((s) => s.data.length > 0);
    chart.current?.setOption(
      {
        animation: false,
        // Title on its own line, the legend under it: they never overlap, however narrow the panel.
        title: { text: panel.title, left: 0, top: 0, textStyle: { fontSize: 13 } },
        legend: { top: 20, left: 0, type: 'scroll', data: series.map((s) => s.name) },
        grid: { left: 56, right: 16, top: 56, bottom: 28 },
        tooltip: { trigger: 'axis' },
        xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 20, min: 'dataMin' },
        yAxis: {
          type: panel.log ? 'log' : 'value',
          scale: true,
          axisLabel: panel.percent ? { formatter: (v: number) => `${(v * 100).toFixed(0)}%` } : {},
        },
        series: series.map((s) => ({ type: 'line', name: s.name, showSymbol: false, data: s.data })),
      },
      { notMerge: true },
    );
  }, [metrics, panel]);
  return <div ref={ref} style={{ width: '100%', height: 240 }} data-testid={`curve-${panel.title.split(' ')[0]!.toLowerCase()}`} />;
}

export function TrainingCurves({ metrics }: { metrics: TrainMetrics[] }) {
  return (
    <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(360px, 1fr))', gap: 16 }}>
      {PANELS.map((p) => (
        <Panel key={p.title} metrics={metrics} panel={p} />
      ))}
    </div>
  );
}
