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

/** A custom series drawing 95% interval whiskers at [x, lower, upper] (x a category index or a value). */
export function whiskers(data: Array<[number, number, number]>, color = '#263238') {
  return {
    type: 'custom',
    data,
    z: 10,
    renderItem: (_params: unknown, api: CustomSeriesRenderItemAPI) => {
      const x = api.value(0);
      const [loX, loY] = api.coord([x, api.value(1)]) as [number, number];
      const [hiX, hiY] = api.coord([x, api.value(2)]) as [number, number];
      const style = { stroke: color, lineWidth: 1.5 };
      return {
        type: 'group',
        children: [
          { type: 'line', shape: { x1: loX, y1: loY, x2: hiX, y2: hiY }, style },
          { type: 'line', shape: { x1: loX - 4, y1: loY, x2: loX + 4, y2: loY }, style },
          { type: 'line', shape: { x1: hiX - 4, y1: hiY, x2: hiX + 4, y2: hiY }, style },
        ],
      };
    },
  };
}
