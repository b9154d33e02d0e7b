import type { ProbeRecord } from '@contract/contract';
import { LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

/** Held-out probe accuracy per layer, with its CI band, against shuffled labels and the majority class. */
export function ProbeChart({ probe }: { probe: ProbeRecord }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current || !probe.results) return;
    const chart = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    const layers = probe.results.layers;
    chart.setOption({
      animation: false,
      legend: { top: 0, data: ['probe (held out)', 'shuffled labels', 'majority class'] },
      grid: { left: 56, right: 16, top: 36, bottom: 56 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: layers.map((l) => l.tap), axisLabel: { rotate: 15 } },
      yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
      series: [
        { type: 'line', name: 'probe (held out)', data: layers.map((l) => l.accuracy) },
        {
          type: 'line',
          name: 'ci-low',
          stack: 'ci',
          data: layers.map((l) => l.ci95[0]),
          lineStyle: { opacity: 0 },
          symbol: 'none',
          tooltip: { show: false },
        },
        {
          type: 'line',
          name: 'ci-high',
          stack: 'ci',
          data: layers.map((l) => l.ci95[1] - l.ci95[0]),
          lineStyle: { opacity: 0 },
          symbol: 'none',
          areaStyle: { opacity: 0.2 },
          tooltip: { show: false },
        },
        { type: 'line', name: 'shuffled labels', data: layers.map((l) => l.shuffledAccuracy), lineStyle: { type: 'dashed' } },
        { type: 'line', name: 'majority class', data: layers.map((l) => l.majority), lineStyle: { type: 'dotted' } },
      ],
    });
    return () => chart.dispose();
  }, [probe]);
  return <div ref={ref} style={{ width: '100%', height: 280 }} data-testid="probe-chart" />;
}
