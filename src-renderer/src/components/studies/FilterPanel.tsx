import type { AppInfo } from '@contract/contract';
import { Alert, Button, MenuItem, Stack, TextField, Typography } from '@mui/material';
import { useMemo, useState } from 'react';
import { invoke } from '../../api/client';
import { useChannel } from '../../hooks/useChannel';
import { useReportError } from '../../hooks/useErrorReporter';
import { useJobs } from '../../hooks/useJobs';
import { AnalysisSelect } from '../AnalysisSelect';
import { Editable } from '../Editable';
import { NumberField, useNumberInput } from '../NumberField';
import { EChart } from './EChart';
import { JobAlerts } from './JobAlerts';

type By = 'cross-modal' | 'cooccurrence' | 'l0' | 'random';
const BINS = 20;

/** SAE-V data filtering: score an analysis's items, keep the best share as a new dataset, and see the scores. */
export function FilterPanel({ info }: { info: AppInfo }) {
  const analyses = useChannel('analyses.list', {}).data ?? [];
  const datasets = useChannel('datasets.list', {}).data ?? [];
  const jobs = useJobs(info.workspace?.path ?? null);
  const report = useReportError();
  const [analysisId, setAnalysis] = useState<number | null>(null);
  const current = analyses.find((a) => a.id === analysisId) ?? analyses[0] ?? null;
  const [by, setBy] = useState<By>('cross-modal');
  const keep = useNumberInput('0.5', { positive: true, max: 1 });
  const filtered = jobs.filter((j) => j.kind === 'dataset-filter');
  const made = filtered.flatMap((j) => (j.state === 'succeeded' ? [(j.result as { datasetId: number }).datasetId] : []));
  const [shownId, setShown] = useState<number | null>(null);
  const shown = shownId ?? made[0] ?? null;
  const filterReport = useChannel('datasets.filterReport', shown ? { datasetId: shown } : null);
  const running = filtered.find((j) => j.state === 'running' || j.state === 'queued');
  const failed = filtered.find((j) => j.state === 'failed');
  const start = () =>
    current &&
    keep.value !== null &&
    invoke('datasets.filter', { analysisId: current.id, by, keep: keep.value }).then(() => setShown(null), report);
  const option = useMemo(() => {
    const items = filterReport.data?.items ?? [];
    if (items.length === 0) return null;
    const lo = Math.min(...items.map((i) => i.score));
    const hi = Math.max(...items.map((i) => i.score));
    const width = hi > lo ? (hi - lo) / BINS : 1;
    const bin = (s: number) => Math.min(BINS - 1, Math.floor((s - lo) / width));
    const kept = new Array<number>(BINS).fill(0);
    const dropped = new Array<number>(BINS).fill(0);
    for (const i of items) (i.kept ? kept : dropped)[bin(i.score)]! += 1;
    const labels = Array.from({ length: BINS }, (_, b) => (lo + (b + 0.5) * width).toPrecision(3));
    return {
      grid: { left: 48, right: 16, top: 32, bottom: 40 },
      legend: { top: 0 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: labels, name: 'item score', nameLocation: 'middle', nameGap: 28 },
      yAxis: { type: 'value', name: 'items', minInterval: 1 },
      series: [
        { type: 'bar', name: 'kept', stack: 'n', data: kept, itemStyle: { color: '#3d5afe' } },
        { type: 'bar', name: 'left out', stack: 'n', data: dropped, itemStyle: { color: '#b0bec5' } },
      ],
    };
  }, [filterReport.data]);
  const r = filterReport.data;
  return (
    <Stack spacing={2} data-testid="filter-panel">
      <Typography variant="body2" color="text.secondary">
        SAE-V data filtering: an item&apos;s score is the sum of the cross-modal weights of the features active on it (Algorithm 1), or the
        number of features active on both its image and text (co-occurrence), or of active features (L0). The best share becomes a new
        dataset; random keeps a seeded share of the same size.
      </Typography>
      <Stack direction="row" spacing={2} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'flex-start' }}>
        <AnalysisSelect analyses={analyses} value={current?.id ?? null} onChange={setAnalysis} />
        <TextField select size="small" label="Score" value={by} onChange={(e) => setBy(e.target.value as By)} sx={{ width: 180 }}>
          <MenuItem value="cross-modal">cross-modal weight</MenuItem>
          <MenuItem value="cooccurrence">co-occurrence</MenuItem>
          <MenuItem value="l0">L0 (active features)</MenuItem>
          <MenuItem value="random">random</MenuItem>
        </TextField>
        <NumberField input={keep} label="Keep share" hint="of the harvested items" width={150} />
        <Editable>
          <Button variant="contained" onClick={start} disabled={!current || keep.error !== null || Boolean(running)}>
            Filter dataset
          </Button>
        </Editable>
      </Stack>
      <JobAlerts running={running} failed={failed} doing="Filtering" noun="Filter" />
      {made.length > 0 && (
        <TextField
          select
          size="small"
          label="Filtered dataset"
          value={shown ?? ''}
          onChange={(e) => setShown(Number(e.target.value))}
          sx={{ width: 360 }}
        >
          {made.map((id) => (
            <MenuItem key={id} value={id}>
              {datasets.find((d) => d.id === id)?.name ?? `dataset ${id}`}
            </MenuItem>
          ))}
        </TextField>
      )}
      {filterReport.error && <Alert severity="error">{filterReport.error}</Alert>}
      {r && (
        <Typography variant="body2" data-testid="filter-kept">
          Kept {r.kept} of {r.candidates} items ({((100 * r.kept) / r.candidates).toFixed(1)}%) by {r.filter.method}, keep {r.filter.keep},
          active above {r.filter.bound}.
        </Typography>
      )}
      {option && <EChart option={option} testId="filter-histogram" label="Histogram of item scores, kept and left out" />}
    </Stack>
  );
}
