import type { ConditionResult } from '@contract/contract';
import { LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

type Metric = 'accuracy' | 'drift';

/**
 * Accuracy (or drift) against the sweep value, one line per intervention set and per control kind,
 * with the 95% CI as a shaded band; a task filter picks that task's numbers.
 */
export function SweepChart({ conditions, task, metric }: { conditions: ConditionResult[]; task: string | null; metric: Metric }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    const pick = (c: ConditionResult) => {
      const g = task ? c.byTask.find((x) => x.key === task) : null;
      const value = metric === 'accuracy' ? (g ? g.accuracy : c.accuracy) : g ? g.drift : c.drift;
      const ci = metric === 'accuracy' ? (g ? g.ci95 : c.ci95) : null;
      return { value, ci };
    };
    const groups = new Map<string, ConditionResult[]>();
    for (const c of conditions) {
      const key =
        c.kind === 'baseline' ? 'baseline' : c.kind === 'random-set' || c.kind === 'random-direction' ? `${c.kind} (${c.set})` : c.set!;
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    const values = [...new Set(conditions.filter((c) => c.value !== null).map((c) => c.value!))].sort((a, b) => a - b);
    const xs = values.length ? values : [0];
    const series = [...groups].flatMap(([name, cs], i) => {
      const points = xs.map((x) => {
        const c = cs.find((y) => y.kind === 'baseline' || y.value === x || y.value === null);
        return c ? pick(c) : null;
      });
      const line = {
        type: 'line',
        name,
        data: points.map((p, j) => [xs[j], p?.value ?? null]),
        symbolSize: 6,
        lineStyle: { type: name.startsWith('random') ? 'dashed' : 'solid' },
      };
      if (metric !== 'accuracy') return [line];
      // CI band: a transparent lower line stacked under a filled (upper - lower) area.
      const stack = `band-${i}`;
      return [
        line,
        {
          type: 'line',
          name,
          stack,
          data: points.map((p, j) => [xs[j], p?.ci?.[0] ?? null]),
          lineStyle: { opacity: 0 },
          symbol: 'none',
          tooltip: { show: false },
        },
        {
          type: 'line',
          name,
          stack,
          data: points.map((p, j) => [xs[j], p?.ci ? p.ci[1] - p.ci[0] : null]),
          lineStyle: { opacity: 0 },
          symbol: 'none',
          areaStyle: { opacity: 0.15 },
          tooltip: { show: false },
        },
      ];
    });
    chart.setOption({
      animation: false,
      legend: { top: 0, type: 'scroll' },
      grid: { left: 56, right: 16, top: 36, bottom: 36 },
      tooltip: { trigger: 'axis' },
      xAxis: {
        type: 'value',
        name: values.length ? 'sweep value' : '',
        nameLocation: 'middle',
        nameGap: 22,
        min: 'dataMin',
        max: 'dataMax',
      },
      yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
      series,
    });
    const onResize = () => chart.resize();
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      chart.dispose();
    };
  }, [conditions, task, metric]);
  return <div ref={ref} style={{ width: '100%', height: 300 }} data-testid="sweep-chart" />;
}
