import type { AppInfo, ResponseOf } from '@contract/contract';
import { jobResult } from '@contract/job-results';
import { Alert, Button, MenuItem, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography } from '@mui/material';
import { useMemo, useState } from 'react';
import { invoke } from '../../api/client';
import { useChannel } from '../../hooks/useChannel';
import { useReportError } from '../../hooks/useErrorReporter';
import { useJobs } from '../../hooks/useJobs';
import { parseNumbers } from '../../lib/validate';
import { AnalysisSelect } from '../AnalysisSelect';
import { Editable } from '../Editable';
import { ScrollTable } from '../ScrollTable';
import { EChart, whiskers } from './EChart';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
const COLORS = ['#3d5afe', '#00897b', '#f4511e', '#8e24aa', '#6d4c41', '#546e7a'];
type Rows = ResponseOf<'masks.compare'>['rows'];

/** SAE-V patch masking: masked copies per score and kept share, evaluated by the model, against random patches. */
export function MaskPanel({ info }: { info: AppInfo }) {
  const analyses = useChannel('analyses.list', {}).data ?? [];
  const models = useChannel('models.list', {}).data ?? [];
  const jobs = useJobs(info.workspace?.path ?? null);
  const report = useReportError();
  const [analysisId, setAnalysis] = useState<number | null>(null);
  const current = analyses.find((a) => a.id === analysisId) ?? analyses[0] ?? null;
  const [keeps, setKeeps] = useState('0.75, 0.5, 0.25');
  const parsed = parseNumbers(keeps);
  const keepError =
    'bad' in parsed ? `not a number: “${parsed.bad}”` : parsed.values.some((k) => !(k > 0 && k <= 1)) ? 'shares in (0, 1]' : null;
  const masks = jobs.filter((j) => j.kind === 'patch-mask');
  const done = masks.filter((j) => j.state === 'succeeded');
  const [shownId, setShown] = useState<number | null>(null);
  const shown = done.find((j) => j.id === shownId) ?? done[0] ?? null;
  const compare = useChannel('masks.compare', shown ? { maskJobId: shown.id } : null);
  const running = jobs.find((j) => (j.kind === 'patch-mask' || j.kind === 'evaluate') && (j.state === 'running' || j.state === 'queued'));
  const start = () =>
    current && 'values' in parsed && invoke('datasets.mask', { analysisId: current.id, keeps: parsed.values }).catch(report);
  const evaluateAll = async () => {
    const c = compare.data;
    if (!c) return;
    try {
      const modelId = models.find((m) => m.path === c.modelPath)?.id ?? (await invoke('models.add', { path: c.modelPath })).id;
      for (const d of c.datasets.filter((x) => x.evalId === null)) await invoke('evals.start', { modelId, datasetId: d.datasetId });
    } catch (err) {
      report(err);
    }
  };
  const missing = compare.data?.datasets.filter((d) => d.evalId === null) ?? [];
  return (
    <Stack spacing={2} data-testid="mask-panel">
      <Typography variant="body2" color="text.secondary">
        SAE-V patch masking (Appendix C): per image, keep the share of patches with the highest score and paint the rest grey; the model
        answers on each masked copy; each score is compared with keeping as many random patches on the same items.
      </Typography>
      <Stack direction="row" spacing={2} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'flex-start' }}>
        <AnalysisSelect analyses={analyses} value={current?.id ?? null} onChange={setAnalysis} />
        <TextField
          size="small"
          label="Kept shares"
          value={keeps}
          onChange={(e) => setKeeps(e.target.value)}
          error={keepError !== null}
          helperText={keepError ?? 'scores: L0, L1, co-occurrence, cross-modal; random as control'}
          sx={{ width: 330 }}
        />
        <Editable>
          <Button variant="contained" onClick={start} disabled={!current || keepError !== null || Boolean(running)}>
            Mask patches
          </Button>
        </Editable>
      </Stack>
      {running && (
        <Alert severity="info">
          {running.kind === 'evaluate' ? 'Evaluating' : 'Masking'} (job {running.id}): {running.message ?? ''}
        </Alert>
      )}
      {done.length > 1 && (
        <TextField
          select
          size="small"
          label="Masking"
          value={shown?.id ?? ''}
          onChange={(e) => setShown(Number(e.target.value))}
          sx={{ width: 240 }}
        >
          {done.map((j) => (
            <MenuItem key={j.id} value={j.id}>
              job {j.id} ({jobResult(j, 'patch-mask').masked.length} masked copies)
            </MenuItem>
          ))}
        </TextField>
      )}
      {compare.error && <Alert severity="error">{compare.error}</Alert>}
      {missing.length > 0 && (
        <Stack direction="row" spacing={2} sx={{ alignItems: 'center' }}>
          <Typography variant="body2">
            {missing.length} of {compare.data!.datasets.length} datasets still need an evaluation by the model.
          </Typography>
          <Editable>
            <Button variant="outlined" onClick={evaluateAll} disabled={Boolean(running)}>
              Evaluate them
            </Button>
          </Editable>
        </Stack>
      )}
      {compare.data && compare.data.rows.length > 0 && <MaskResults rows={compare.data.rows} />}
    </Stack>
  );
}

function MaskResults({ rows }: { rows: Rows }) {
  const option = useMemo(() => {
    const shares = [...new Set(rows.map((r) => r.keep))].sort((a, b) => a - b);
    const methods = [...new Set(rows.filter((r) => r.method !== 'full').map((r) => r.method))];
    const full = rows.find((r) => r.method === 'full');
    const series = methods.flatMap((m, i) => {
      const at = shares.map((k) => rows.find((r) => r.method === m && r.keep === k) ?? (k === 1 ? full : undefined));
      const color = m === 'random' ? '#9e9e9e' : COLORS[i % COLORS.length]!;
      return [
        {
          type: 'line',
          name: m,
          data: at.map((r) => (r ? r.accuracy : null)),
          lineStyle: { type: m === 'random' ? 'dashed' : 'solid', color },
          itemStyle: { color },
        },
        {
          ...whiskers(
            at.flatMap((r, x) => (r ? [[x, r.ci95[0], r.ci95[1]] as [number, number, number]] : [])),
            color,
          ),
          name: m,
        },
      ];
    });
    return {
      grid: { left: 56, right: 16, top: 40, bottom: 40 },
      legend: { top: 0, data: methods },
      tooltip: { trigger: 'axis' },
      xAxis: {
        type: 'category',
        data: shares.map((k) => `${Math.round(k * 100)}%`),
        name: 'patches kept',
        nameLocation: 'middle',
        nameGap: 28,
      },
      yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
      series,
    };
  }, [rows]);
  return (
    <Stack spacing={1} data-testid="mask-results">
      <EChart
        option={option}
        testId="mask-chart"
        label="Accuracy against the share of patches kept, per score and random, with Wilson 95% intervals"
      />
      <ScrollTable label="Masking comparison table">
        <Table size="small" aria-label="Masking against random patches">
          <TableHead>
            <TableRow>
              <TableCell>Score</TableCell>
              <TableCell>Kept</TableCell>
              <TableCell>Accuracy [Wilson 95%]</TableCell>
              <TableCell>vs random, points [Newcombe 95%]</TableCell>
              <TableCell>p (mid-p McNemar) / Holm / BH</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.map((r) => (
              <TableRow key={`${r.method}-${r.keep}`} data-testid={`mask-row-${r.method}-${r.keep}`}>
                <TableCell>{r.method}</TableCell>
                <TableCell>{pct(r.keep)}</TableCell>
                <TableCell>
                  {pct(r.accuracy)} [{pct(r.ci95[0])}, {pct(r.ci95[1])}] (n {r.n})
                </TableCell>
                <TableCell>
                  {r.vsRandom ? `${pts(r.vsRandom.difference)} [${pts(r.vsRandom.ci95[0])}, ${pts(r.vsRandom.ci95[1])}]` : '—'}
                </TableCell>
                <TableCell>
                  {r.vsRandom
                    ? `${r.vsRandom.p.toPrecision(2)} / ${r.vsRandom.pHolm.toPrecision(2)} / ${r.vsRandom.pBh.toPrecision(2)}`
                    : '—'}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </ScrollTable>
    </Stack>
  );
}
