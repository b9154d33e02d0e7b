import type { AppInfo, DatasetComparison } from '@contract/contract';
import { jobResult } from '@contract/job-results';
import { Button, MenuItem, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography } from '@mui/material';
import { useMemo, useState } from 'react';
import { invoke } from '../../api/client';
import { useChannel } from '../../hooks/useChannel';
import { useReportError } from '../../hooks/useErrorReporter';
import { useJobs } from '../../hooks/useJobs';
import { AnalysisSelect } from '../AnalysisSelect';
import { Editable } from '../Editable';
import { NumberField, useNumberInput } from '../NumberField';
import { ScrollTable } from '../ScrollTable';
import { ciBars, EChart } from './EChart';
import { JobAlerts } from './JobAlerts';

type By = 'cross-modal' | 'cooccurrence' | 'l0';
const ARM_COLORS = { filtered: '#3d5afe', random: '#9e9e9e', all: '#00897b' } as const;
const MEASURES = [
  ['fvu', 'FVU (lower is better)'],
  ['ceRecovered', 'CE recovered'],
  ['probe', 'Probe accuracy'],
] as const;
const num = (e: { value: number; ci95: [number, number] }) => `${e.value.toFixed(3)} [${e.ci95[0].toFixed(3)}, ${e.ci95[1].toFixed(3)}]`;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const estimate = (arm: DatasetComparison['arms'][number], m: (typeof MEASURES)[number][0]) =>
  m === 'probe' ? { value: arm.probe.accuracy, ci95: arm.probe.ci95 } : arm[m];

/** SAE-V's claim tested: SAEs trained on the filtered share, a random share of the same size and all items, measured on held-out items. */
export function ComparePanel({ info }: { info: AppInfo }) {
  const analyses = useChannel('analyses.list', {}).data ?? [];
  const jobs = useJobs(info.workspace?.path ?? null);
  const report = useReportError();
  const [analysisId, setAnalysis] = useState<number | null>(null);
  const current = analyses.find((a) => a.id === analysisId) ?? analyses[0] ?? null;
  const [by, setBy] = useState<By>('cross-modal');
  const keep = useNumberInput('0.5', { positive: true, max: 1 });
  const heldOut = useNumberInput('0.25', { positive: true, max: 0.99 });
  const steps = useNumberInput('400', { whole: true, min: 1, max: 1_000_000 });
  const ceItems = useNumberInput('64', { whole: true, min: 1, max: 100_000 });
  const [probe, setProbe] = useState<'color' | 'shape'>('color');
  const invalid = [keep, heldOut, steps, ceItems].some((f) => f.error !== null);
  const compares = jobs.filter((j) => j.kind === 'dataset-compare');
  const done = compares.filter((j) => j.state === 'succeeded');
  const running = compares.find((j) => j.state === 'running' || j.state === 'queued');
  const failed = compares.find((j) => j.state === 'failed');
  const [shownId, setShown] = useState<number | null>(null);
  const shown = done.find((j) => j.id === shownId) ?? done[0] ?? null;
  const start = () =>
    current &&
    !invalid &&
    invoke('datasets.compare', {
      analysisId: current.id,
      by,
      keep: keep.value!,
      heldOut: heldOut.value!,
      steps: steps.value!,
      ceItems: ceItems.value!,
      probe,
    }).then(() => setShown(null), report);
  return (
    <Stack spacing={2} data-testid="compare-panel">
      <Typography variant="body2" color="text.secondary">
        Does the filter help? Three SAEs with the same settings train on the filtered share of the items, on a random share of the same
        size, and on all of them; a share of the items is held out of every arm and measures each SAE: FVU and CE recovered (95% percentile
        bootstrap over held-out items) and a probe on its codes (Wilson 95%).
      </Typography>
      <Stack direction="row" spacing={2} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'flex-start' }}>
        <AnalysisSelect analyses={analyses} value={current?.id ?? null} onChange={setAnalysis} />
        <TextField select size="small" label="Filter by" value={by} onChange={(e) => setBy(e.target.value as By)} sx={{ width: 180 }}>
          <MenuItem value="cross-modal">cross-modal weight</MenuItem>
          <MenuItem value="cooccurrence">co-occurrence</MenuItem>
          <MenuItem value="l0">L0 (active features)</MenuItem>
        </TextField>
        <NumberField input={keep} label="Keep" hint="share of the pool" width={130} />
        <NumberField input={heldOut} label="Held out" hint="share for measuring" width={150} />
        <NumberField input={steps} label="Steps" hint="per SAE" width={120} />
        <NumberField input={ceItems} label="CE items" hint="spliced runs" width={120} />
        <TextField
          select
          size="small"
          label="Probe label"
          value={probe}
          onChange={(e) => setProbe(e.target.value as 'color' | 'shape')}
          sx={{ width: 140 }}
        >
          <MenuItem value="color">colour</MenuItem>
          <MenuItem value="shape">shape</MenuItem>
        </TextField>
        <Editable>
          <Button variant="contained" onClick={start} disabled={!current || invalid || Boolean(running)}>
            Compare shares
          </Button>
        </Editable>
      </Stack>
      <JobAlerts running={running} failed={failed} doing="Comparing" noun="Comparison" testId="compare-running" progress />
      {done.length > 1 && (
        <TextField
          select
          size="small"
          label="Comparison"
          value={shown?.id ?? ''}
          onChange={(e) => setShown(Number(e.target.value))}
          sx={{ width: 360 }}
        >
          {done.map((j) => {
            const p = j.params as { by: string; keep: number };
            return (
              <MenuItem key={j.id} value={j.id}>
                job {j.id}: {p.by} keep {p.keep}
              </MenuItem>
            );
          })}
        </TextField>
      )}
      {shown && <CompareResult result={jobResult(shown, 'dataset-compare')} params={shown.params as { by: string; keep: number }} />}
    </Stack>
  );
}

function CompareResult({ result: r, params }: { result: DatasetComparison; params: { by: string; keep: number } }) {
  const option = useMemo(() => {
    // One small chart per measure (their scales differ): the three arms as bars with their 95% whiskers.
    const arms = r.arms.map((a) => a.arm);
    const width = 100 / MEASURES.length;
    return {
      grid: MEASURES.map((_, i) => ({ left: `${i * width + 6}%`, width: `${width - 10}%`, top: 36, bottom: 32 })),
      tooltip: { trigger: 'item' },
      xAxis: MEASURES.map((_, i) => ({ type: 'category', gridIndex: i, data: arms })),
      yAxis: MEASURES.map(([m, name], i) => ({
        type: 'value',
        gridIndex: i,
        name,
        scale: m !== 'probe',
        ...(m === 'probe' ? { min: 0, max: 1 } : {}),
      })),
      series: MEASURES.flatMap(([m, name], i) =>
        ciBars(
          r.arms.map((a) => ({ ...estimate(a, m), color: ARM_COLORS[a.arm] })),
          { name, axis: i },
        ),
      ),
    };
  }, [r]);
  return (
    <Stack spacing={1} data-testid="compare-result">
      <Typography variant="body2" data-testid="compare-summary">
        Filtered by {params.by}, keep {params.keep}: {r.poolItems} pool items, {r.heldOutItems} held out. FVU and CE recovered: 95%
        percentile bootstrap over held-out items ({r.intervals.resamples} resamples, seed {r.intervals.seed}); probe accuracy: Wilson 95%
        over held-out rows.
      </Typography>
      <EChart
        option={option}
        testId="compare-chart"
        label="FVU, CE recovered and probe accuracy of the SAEs trained on the filtered share, a random share and all items, with 95% intervals"
      />
      <ScrollTable label="Filter comparison table">
        <Table size="small" aria-label="Filtered against random against all items">
          <TableHead>
            <TableRow>
              <TableCell>Share</TableCell>
              <TableCell>Items</TableCell>
              <TableCell>FVU [bootstrap over items 95%]</TableCell>
              <TableCell>CE recovered [bootstrap over items 95%]</TableCell>
              <TableCell>Probe accuracy [Wilson 95%]</TableCell>
              <TableCell>SAE</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {r.arms.map((a) => (
              <TableRow key={a.arm} data-testid={`compare-arm-${a.arm}`}>
                <TableCell>{a.arm}</TableCell>
                <TableCell>
                  {a.items} ({a.rows} rows)
                </TableCell>
                <TableCell>{num(a.fvu)}</TableCell>
                <TableCell>{num(a.ceRecovered)}</TableCell>
                <TableCell>
                  {pct(a.probe.accuracy)} [{pct(a.probe.ci95[0])}, {pct(a.probe.ci95[1])}] (n {a.probe.test})
                </TableCell>
                <TableCell>#{a.saeId}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </ScrollTable>
    </Stack>
  );
}
