import type { Accuracy } from '@contract/contract';
import { BarChart, CustomChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import type { CustomSeriesRenderItemAPI } from 'echarts';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([BarChart, CustomChart, GridComponent, TooltipComponent, CanvasRenderer]);

/** Accuracy bars with Wilson 95% CI whiskers. */
export function AccuracyChart({ groups, height = 260 }: { groups: Accuracy[]; height?: number }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    chart.setOption({
      animation: false,
      grid: { left: 48, right: 16, top: 16, bottom: 48 },
      tooltip: {
        trigger: 'axis',
        formatter: (params: Array<{ dataIndex: number }>) => {
          const g = groups[params[0]!.dataIndex]!;
          return `${g.key}<br/>${(g.accuracy * 100).toFixed(1)}% (n=${g.n})<br/>95% CI ${(g.ci95[0] * 100).toFixed(1)}–${(g.ci95[1] * 100).toFixed(1)}%`;
        },
      },
      xAxis: { type: 'category', data: groups.map((g) => g.key), axisLabel: { rotate: groups.length > 8 ? 30 : 0 } },
      yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
      series: [
        { type: 'bar', data: groups.map((g) => g.accuracy), itemStyle: { color: '#3d5afe' } },
        {
          type: 'custom',
          data: groups.map((g, i) => [i, g.ci95[0], g.ci95[1]]),
          renderItem: (_params: unknown, api: CustomSeriesRenderItemAPI) => {
            const x = api.value(0);
            const [loX, loY] = api.coord([x, api.value(1)]) as [number, number];
            const [hiX, hiY] = api.coord([x, api.value(2)]) as [number, number];
            const w = (api.size!([1, 0]) as number[])[0]! * 0.15;
            const style = { stroke: '#263238', lineWidth: 1.5 };
            return {
              type: 'group',
              children: [
                { type: 'line', shape: { x1: loX, y1: loY, x2: hiX, y2: hiY }, style },
                { type: 'line', shape: { x1: loX - w, y1: loY, x2: loX + w, y2: loY }, style },
                { type: 'line', shape: { x1: hiX - w, y1: hiY, x2: hiX + w, y2: hiY }, style },
              ],
            };
          },
          z: 10,
        },
      ],
    });
    const onResize = () => chart.resize();
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      chart.dispose();
    };
  }, [groups]);
  return <div ref={ref} style={{ width: '100%', height }} data-testid="accuracy-chart" />;
}
