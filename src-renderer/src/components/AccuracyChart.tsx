import type { Accuracy } from '@contract/contract';
import { useMemo } from 'react';
import { ciBars, EChart } from './studies/EChart';

/** Accuracy bars with Wilson 95% CI whiskers. */
export function AccuracyChart({ groups, height = 260 }: { groups: Accuracy[]; height?: number }) {
  const option = useMemo(
    () => ({
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
      series: ciBars(
        groups.map((g) => ({ value: g.accuracy, ci95: g.ci95 })),
        { color: '#3d5afe', cap: 'band' },
      ),
    }),
    [groups],
  );
  return <EChart option={option} height={height} testId="accuracy-chart" label="Accuracy per group with Wilson 95% intervals" />;
}
