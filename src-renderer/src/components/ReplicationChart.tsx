import type { ReplicationRecord } from '@contract/contract';
import { CustomChart, ScatterChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([ScatterChart, CustomChart, GridComponent, TooltipComponent, CanvasRenderer]);

type Effects = NonNullable<ReplicationRecord['results']>['effects'];

/** Each effect across SAE seeds: one dot per seed, the min-max range as a bar, the median as a tick. */
export function ReplicationChart({ effects }: { effects: Effects }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    const names = effects.map((e) => `${e.set ?? e.condition} on ${e.task ?? 'all'}`);
    const pts = (v: number) => Math.round(v * 1000) / 10;
    chart.setOption({
      animation: false,
      grid: { left: 260, right: 24, top: 12, bottom: 40 },
      tooltip: { trigger: 'item' },
      xAxis: { type: 'value', name: 'accuracy change (points)', nameLocation: 'middle', nameGap: 26, min: -100, max: 100 },
      yAxis: { type: 'category', data: names, inverse: true },
      series: [
        {
          type: 'custom',
          name: 'range',
          renderItem: (_: unknown, api: { value(i: number): number; coord(v: [number, number]): [number, number] }) => {
            const lo = api.coord([api.value(1), api.value(0)]);
            const hi = api.coord([api.value(2), api.value(0)]);
            const mid = api.coord([api.value(3), api.value(0)]);
            return {
              type: 'group',
              children: [
                { type: 'line', shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: { stroke: '#90a4ae', lineWidth: 6 } },
                {
                  type: 'line',
                  shape: { x1: mid[0], y1: mid[1] - 8, x2: mid[0], y2: mid[1] + 8 },
                  style: { stroke: '#37474f', lineWidth: 2 },
                },
              ],
            };
          },
          data: effects.map((e, i) => [i, pts(e.min), pts(e.max), pts(e.median)]),
          tooltip: {
            formatter: (p: { value: number[] }) => `${names[p.value[0]!]}: ${p.value[1]} .. ${p.value[2]} (median ${p.value[3]})`,
          },
        },
        {
          type: 'scatter',
          name: 'seed',
          symbolSize: 9,
          data: effects.flatMap((e, i) => e.perSeed.map((s) => [pts(s.effect), i, s.saeSeed ?? -1, s.experimentId])),
          tooltip: { formatter: (p: { value: number[] }) => `SAE seed ${p.value[2]} (experiment #${p.value[3]}): ${p.value[0]} points` },
        },
      ],
    });
    return () => chart.dispose();
  }, [effects]);
  return <div ref={ref} style={{ width: '100%', height: 40 + effects.length * 28 }} data-testid="replication-chart" />;
}
