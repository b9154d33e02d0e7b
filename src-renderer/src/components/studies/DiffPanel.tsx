import type { AppInfo } from '@contract/contract';
import { jobResult } from '@contract/job-results';
import type { ModelDiffResult } from '@contract/model-diff';
import { Alert, Button, MenuItem, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography } from '@mui/material';
import { useMemo, useState } from 'react';
import { invoke } from '../../api/client';
import { useChannel } from '../../hooks/useChannel';
import { useReportError } from '../../hooks/useErrorReporter';
import { useJobs } from '../../hooks/useJobs';
import { Editable } from '../Editable';
import { NumberField, useNumberInput } from '../NumberField';
import { ScrollTable } from '../ScrollTable';
import { ciBars, EChart } from './EChart';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
const sig = (x: number) => (x >= 0 ? '+' : '') + x.toPrecision(3);

/** Model diffing: start a diff (base vs fine-tuned through one SAE) and read its results. */
export function DiffPanel({ info }: { info: AppInfo }) {
  const saes = useChannel('saes.list', {}).data ?? [];
  const models = useChannel('models.list', {}).data ?? [];
  const datasets = useChannel('datasets.list', {}).data ?? [];
  const jobs = useJobs(info.workspace?.path ?? null);
  const report = useReportError();
  const decoderSaes = saes.filter((s) => s.hookName && !s.hookName.startsWith('vision.') && !s.hookNameOut);
  const [saeId, setSae] = useState<number | ''>('');
  const [baseId, setBase] = useState<number | ''>('');
  const [tunedId, setTuned] = useState<number | ''>('');
  const [datasetId, setDataset] = useState<number | ''>('');
  const limit = useNumberInput('200', { whole: true, min: 1, max: 5000 });
  const diffs = jobs.filter((j) => j.kind === 'model-diff');
  const done = diffs.filter((j) => j.state === 'succeeded');
  const [shownId, setShown] = useState<number | null>(null);
  const shown = done.find((j) => j.id === shownId) ?? done[0] ?? null;
  const result = shown ? jobResult(shown, 'model-diff') : null;
  const ready = saeId !== '' && baseId !== '' && tunedId !== '' && datasetId !== '' && baseId !== tunedId && limit.value !== null;
  const start = () =>
    invoke('diffs.start', {
      saeId: Number(saeId),
      baseModelId: Number(baseId),
      tunedModelId: Number(tunedId),
      datasetId: Number(datasetId),
      limit: limit.value ?? 200,
    }).then((job) => setShown(job.id), report);
  const select = (label: string, value: number | '', set: (v: number) => void, options: Array<[number, string]>) => (
    <TextField select size="small" label={label} value={value} onChange={(e) => set(Number(e.target.value))} sx={{ width: 230 }}>
      {options.map(([id, name]) => (
        <MenuItem key={id} value={id}>
          {name}
        </MenuItem>
      ))}
    </TextField>
  );
  const running = diffs.find((j) => j.state === 'running' || j.state === 'queued');
  const failed = diffs.find((j) => j.state === 'failed' && (!shown || j.id > shown.id));
  return (
    <Stack spacing={2} data-testid="diff-panel">
      <Typography variant="body2" color="text.secondary">
        Two checkpoints of one architecture (a base model and its fine-tune) over the same items through one SAE: FVU on each, what each
        feature does on each, and the tasks whose accuracy changed, linked to the features that moved most on them.
      </Typography>
      <Stack direction="row" spacing={2} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'flex-start' }}>
        {select(
          'SAE',
          saeId,
          setSae,
          decoderSaes.map((s) => [s.id, `#${s.id} ${s.name} (${s.hookName})`]),
        )}
        {select(
          'Base model',
          baseId,
          setBase,
          models.map((m) => [m.id, m.name]),
        )}
        {select(
          'Fine-tuned model',
          tunedId,
          setTuned,
          models.map((m) => [m.id, m.name]),
        )}
        {select(
          'Dataset',
          datasetId,
          setDataset,
          datasets.map((d) => [d.id, d.name]),
        )}
        <NumberField input={limit} label="Items" hint="stratified by task" width={120} />
        <Editable>
          <Button variant="contained" onClick={start} disabled={!ready}>
            Run diff
          </Button>
        </Editable>
      </Stack>
      {baseId !== '' && baseId === tunedId && <Alert severity="warning">Pick two different models.</Alert>}
      {running && (
        <Alert severity="info" data-testid="diff-running">
          Diff running (job {running.id}): {running.message ?? ''}
        </Alert>
      )}
      {failed && (
        <Alert severity="error">
          Diff job {failed.id} failed: {failed.error}
        </Alert>
      )}
      {done.length > 1 &&
        select(
          'Result',
          shown?.id ?? '',
          setShown,
          done.map((j) => [j.id, `job ${j.id}`]),
        )}
      {result && <DiffResultView r={result} />}
    </Stack>
  );
}

function DiffResultView({ r }: { r: ModelDiffResult }) {
  const top = r.moved.slice(0, 20);
  const option = useMemo(
    () => ({
      grid: { left: 56, right: 16, top: 16, bottom: 40 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: top.map((f) => `#${f.feature}`), name: 'feature', nameLocation: 'middle', nameGap: 28 },
      yAxis: { type: 'value', name: 'Δ mean activation' },
      series: ciBars(
        top.map((f) => f.meanChange),
        { name: 'change', color: '#3d5afe' },
      ),
    }),
    [top],
  );
  const taskOption = useMemo(
    () => ({
      grid: { left: 56, right: 16, top: 32, bottom: 40 },
      legend: { top: 0 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: r.tasks.map((t) => t.task) },
      yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
      series: [
        { type: 'bar', name: 'base', data: r.tasks.map((t) => t.base.accuracy), itemStyle: { color: '#90a4ae' } },
        { type: 'bar', name: 'fine-tuned', data: r.tasks.map((t) => t.tuned.accuracy), itemStyle: { color: '#3d5afe' } },
      ],
    }),
    [r],
  );
  return (
    <Stack spacing={2} data-testid="diff-result">
      <Typography variant="body2" data-testid="diff-fvu">
        SAE {r.saeId} at {r.tap}, {r.items} items, {r.tokens} tokens. FVU: base {r.fvu.base.toFixed(4)}, fine-tuned {r.fvu.tuned.toFixed(4)}
        . Accuracy: base {pct(r.accuracy.base)}, fine-tuned {pct(r.accuracy.tuned)}.
      </Typography>
      <Typography variant="h6" component="h3">
        Tasks
      </Typography>
      <EChart option={taskOption} testId="diff-task-chart" label="Accuracy per task, base and fine-tuned" height={220} />
      <ScrollTable label="Tasks table">
        <Table size="small" aria-label="Tasks whose accuracy changed">
          <TableHead>
            <TableRow>
              <TableCell>Task</TableCell>
              <TableCell>n</TableCell>
              <TableCell>Base [95% CI]</TableCell>
              <TableCell>Fine-tuned [95% CI]</TableCell>
              <TableCell>Change, points [95% CI]</TableCell>
              <TableCell>p / Holm / BH</TableCell>
              <TableCell>Moved most on it</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {r.tasks.map((t) => (
              <TableRow key={t.task} data-testid={`diff-task-${t.task}`} selected={t.changed}>
                <TableCell>
                  {t.task}
                  {t.changed ? ' (changed)' : ''}
                </TableCell>
                <TableCell>{t.n}</TableCell>
                <TableCell>
                  {pct(t.base.accuracy)} [{pct(t.base.ci95[0])}, {pct(t.base.ci95[1])}]
                </TableCell>
                <TableCell>
                  {pct(t.tuned.accuracy)} [{pct(t.tuned.ci95[0])}, {pct(t.tuned.ci95[1])}]
                </TableCell>
                <TableCell>
                  {pts(t.change.value)} [{pts(t.change.ci95[0])}, {pts(t.change.ci95[1])}]
                </TableCell>
                <TableCell>
                  {t.p.toPrecision(2)} / {t.pHolm.toPrecision(2)} / {t.pBh.toPrecision(2)}
                </TableCell>
                <TableCell>{t.features.map((f) => `#${f.feature} ${sig(f.onTask)}`).join(', ')}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </ScrollTable>
      <Typography variant="caption" color="text.secondary">
        Changed: Holm-adjusted p &lt; {r.thresholds.alpha}. {r.methods.tasks}. Linked features: {r.methods.linked}.
      </Typography>
      <Typography variant="h6" component="h3">
        Features that moved most
      </Typography>
      <EChart
        option={option}
        testId="diff-features-chart"
        label="Change in mean activation of the features that moved most, with 95% intervals"
      />
      <Typography variant="caption" color="text.secondary">
        {r.methods.changes}. Rates: {r.methods.rates}.
      </Typography>
      <Typography variant="body2" data-testid="diff-appear-vanish">
        Appeared (base rate &lt; {pct(r.thresholds.quietRate)}, fine-tuned ≥ {pct(r.thresholds.activeRate)}):{' '}
        {r.appeared.map((f) => `#${f.feature}`).join(', ') || 'none'}. Vanished (the reverse):{' '}
        {r.vanished.map((f) => `#${f.feature}`).join(', ') || 'none'}.
      </Typography>
    </Stack>
  );
}
