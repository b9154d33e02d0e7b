import { BarChart, CustomChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import type { CustomSeriesRenderItemAPI, EChartsCoreOption } from 'echarts';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([BarChart, CustomChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

/** One ECharts chart from an option, redrawn when the option changes, sized to its box. */
export function EChart({
  option,
  height = 260,
  testId,
  label,
}: {
  option: EChartsCoreOption;
  height?: number;
  testId: string;
  label: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    chart.setOption({ animation: false, ...option });
    const onResize = () => chart.resize();
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      chart.dispose();
    };
  }, [option]);
  return <div ref={ref} role="img" aria-label={label} style={{ width: '100%', height }} data-testid={testId} />;
}

/**
 * A custom series drawing 95% interval whiskers at [x, lower, upper] (x a category index or a value);
 * caps `cap` pixels each side, or 'band': 15% of a category's width.
 */
export function whiskers(data: Array<[number, number, number]>, color = '#263238', cap: number | 'band' = 4) {
  return {
    type: 'custom',
    data,
    z: 10,
    renderItem: (_params: unknown, api: CustomSeriesRenderItemAPI) => {
      const x = api.value(0);
      const [loX, loY] = api.coord([x, api.value(1)]) as [number, number];
      const [hiX, hiY] = api.coord([x, api.value(2)]) as [number, number];
      const w = cap === 'band' ? (api.size!([1, 0]) as number[])[0]! * 0.15 : cap;
      const style = { stroke: color, lineWidth: 1.5 };
      return {
        type: 'group',
        children: [
          { type: 'line', shape: { x1: loX, y1: loY, x2: hiX, y2: hiY }, style },
          { type: 'line', shape: { x1: loX - w, y1: loY, x2: loX + w, y2: loY }, style },
          { type: 'line', shape: { x1: hiX - w, y1: hiY, x2: hiX + w, y2: hiY }, style },
        ],
      };
    },
  };
}

/** An estimate with its 95% interval, and the colour of its bar where bars differ. */
export interface CiPoint {
  value: number;
  ci95: [number, number];
  color?: string;
}

/**
 * The two series of a bar chart with 95% whiskers, one bar per point in category order; `axis`
 * places both on one grid of a chart with several.
 */
export function ciBars(points: CiPoint[], o: { name?: string; color?: string; axis?: number; cap?: number | 'band' } = {}) {
  const axes = o.axis === undefined ? {} : { xAxisIndex: o.axis, yAxisIndex: o.axis };
  return [
    {
      type: 'bar',
      ...(o.name === undefined ? {} : { name: o.name }),
      ...axes,
      data: points.map((p) => (p.color === undefined ? p.value : { value: p.value, itemStyle: { color: p.color } })),
      ...(o.color === undefined ? {} : { itemStyle: { color: o.color } }),
    },
    {
      ...whiskers(
        points.map((p, x) => [x, p.ci95[0], p.ci95[1]]),
        undefined,
        o.cap,
      ),
      ...axes,
    },
  ];
}
