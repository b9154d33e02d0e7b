import { BarChart, ScatterChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([BarChart, ScatterChart, GridComponent, TooltipComponent, CanvasRenderer]);

/** The histogram bin (edges are lower edges, log-spaced) an activation falls in. */
export function binOf(edges: number[], value: number): number {
  let bin = 0;
  for (let j = 0; j < edges.length; j++) if (edges[j]! <= value) bin = j;
  return bin;
}

/**
 * The feature's activation density (non-zero tokens per log-spaced bin), with the bins of the
 * examples on screen marked (a pin with how many are shown from that bin), so a reader sees where in
 * the distribution the examples come from.
 */
export default function FeatureHistogram({ edges, counts, shown }: { edges: number[]; counts: number[]; shown: number[] }) {
  const ref = useRef<HTMLDivElement>(null);
  const used = counts.map((c, i) => [i, c] as const).filter(([, c]) => c > 0);
  const lo = used.length ? used[0]![0] : 0;
  const hi = used.length ? used[used.length - 1]![0] : 0;
  const marks = new Map<number, number>();
  for (const a of shown) if (a > 0) marks.set(binOf(edges, a), (marks.get(binOf(edges, a)) ?? 0) + 1);
  const markKey = JSON.stringify([...marks]);
  useEffect(() => {
    if (!ref.current) return;
    const chart = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    const labels = edges.slice(lo, hi + 1).map((e) => e.toPrecision(2));
    chart.setOption({
      animation: false,
      grid: { left: 48, right: 8, top: 22, bottom: 36 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', name: 'activation (bin lower edge)', nameLocation: 'middle', nameGap: 24, data: labels },
      yAxis: { type: 'value', name: 'tokens', nameTextStyle: { align: 'left' } },
      series: [
        { type: 'bar', name: 'tokens', data: counts.slice(lo, hi + 1), itemStyle: { color: '#7986cb' } },
        {
          type: 'scatter',
          name: 'examples shown',
          symbol: 'pin',
          symbolSize: 22,
          itemStyle: { color: '#c51162' },
          label: { show: true, color: '#fff', fontSize: 9, formatter: (p: { value: number[] }) => String(p.value[2]) },
          data: [...marks].filter(([bin]) => bin >= lo && bin <= hi).map(([bin, n]) => [bin - lo, counts[bin]!, n]),
        },
      ],
    });
    const onResize = () => chart.resize();
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      chart.dispose();
    };
  }, [edges, counts, lo, hi, markKey]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <div>
      <div
        ref={ref}
        style={{ width: '100%', height: 180 }}
        data-testid="feature-histogram"
        data-marked-bins={marks.size}
        role="img"
        aria-label="Activation histogram with the shown examples marked"
      />
      <span style={{ fontSize: 12, color: 'rgba(0,0,0,0.7)' }} data-testid="histogram-marks">
        {shown.length > 0
          ? `Pins mark the ${shown.length} examples shown (${Math.min(...shown).toFixed(2)}–${Math.max(...shown).toFixed(2)}).`
          : 'No examples shown.'}
      </span>
    </div>
  );
}
