import type { AppInfo, ConditionResult, ExperimentOutput, ExperimentRecord, Job } from '@contract/contract';
import {
  Alert,
  Button,
  Card,
  CardContent,
  Chip,
  LinearProgress,
  MenuItem,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { AccuracyChart } from '../components/AccuracyChart';
import { ExperimentDesigner } from '../components/ExperimentDesigner';
import { CopyLink } from '../components/CopyLink';
import { Editable } from '../components/Editable';
import { ProbeChart } from '../components/ProbeChart';
import { ReplicationChart } from '../components/ReplicationChart';
import { SweepChart } from '../components/SweepChart';
import { ScrollTable } from '../components/ScrollTable';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { useJobs } from '../hooks/useJobs';
import { download } from '../lib/download';
import { etaSeconds, formatDuration } from '../lib/eta';
import { navigate, useRoute } from '../lib/router';

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const pts = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}`;
const p = (v: number | null) => (v === null ? '–' : v < 0.001 ? '<0.001' : v.toFixed(3));
/** A control's short name in the row of the intervention it controls for ("random set 1", "random direction"). */
const controlName = (c: ConditionResult | undefined) =>
  !c
    ? 'control'
    : c.kind === 'random-direction'
      ? 'random direction (norm-matched)'
      : c.kind === 'random-set'
        ? c.id.replace(/ for .*$/, '')
        : c.id;

/** Two sets alone next to their union, per task: do their effects add up, or interfere? */
function Interference({ conditions, tasks }: { conditions: ConditionResult[]; tasks: string[] }) {
  const unions = conditions.filter((c) => c.kind === 'union');
  if (unions.length === 0) return null;
  return (
    <Stack spacing={1} data-testid="interference">
      <Typography variant="subtitle1">Union vs single sets (interference)</Typography>
      {unions.map((u) => {
        const [a, b] = u.set!.split(' ∪ ');
        const single = (name: string) => conditions.find((c) => c.kind === 'intervention' && c.set === name && c.value === u.value)!;
        const rows = [
          { key: 'all', get: (c: ConditionResult) => c.accuracyChange },
          ...tasks.map((t) => ({
            key: t,
            get: (c: ConditionResult) =>
              (c.byTask.find((g) => g.key === t)?.accuracy ?? 0) - (conditions[0]!.byTask.find((g) => g.key === t)?.accuracy ?? 0),
          })),
        ];
        return (
          <ScrollTable label={`Interference ${u.id}`} key={u.id}>
            <Table size="small" aria-label={`Interference ${u.id}`}>
              <TableHead>
                <TableRow>
                  <TableCell>accuracy change (pts)</TableCell>
                  <TableCell>{a}</TableCell>
                  <TableCell>{b}</TableCell>
                  <TableCell>sum of the two</TableCell>
                  <TableCell>{u.set} (observed)</TableCell>
                  <TableCell>observed − sum</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {rows.map((r) => {
                  const da = r.get(single(a!));
                  const db = r.get(single(b!));
                  const du = r.get(u);
                  return (
                    <TableRow key={r.key}>
                      <TableCell>{r.key}</TableCell>
                      <TableCell>{pts(da)}</TableCell>
                      <TableCell>{pts(db)}</TableCell>
                      <TableCell>{pts(da + db)}</TableCell>
                      <TableCell>{pts(du)}</TableCell>
                      <TableCell>{pts(du - da - db)}</TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          </ScrollTable>
        );
      })}
    </Stack>
  );
}

function Results({ e }: { e: ExperimentRecord }) {
  const report = useReportError();
  const r = e.results!;
  const tasks = [...new Set(r.conditions.flatMap((c) => c.byTask.map((g) => g.key)))];
  const [task, setTask] = useState<string>('all');
  const [drill, setDrill] = useState<string>('');
  const [outputs, setOutputs] = useState<ExperimentOutput[]>([]);
  const [baseline, setBaseline] = useState<Map<number, ExperimentOutput>>(new Map());
  useEffect(() => {
    if (!drill) return;
    Promise.all([
      invoke('experiments.outputs', { id: e.id, condition: drill, limit: 1000 }),
      invoke('experiments.outputs', { id: e.id, condition: 'baseline', limit: 1000 }),
    ]).then(([o, b]) => {
      setOutputs(o);
      setBaseline(new Map(b.map((x) => [x.itemId, x])));
    }, report);
  }, [drill, e.id, report]);
  // The table follows the task filter: that task's accuracy, drift, shift and KL (change and p-values are overall).
  const view = (c: ConditionResult) => (task === 'all' ? c : { ...c, ...(c.byTask.find((g) => g.key === task) ?? {}) });
  const exportAs = (format: 'json' | 'csv' | 'html') =>
    invoke('experiments.export', { id: e.id, format }).then((x) => download(x.filename, x.content), report);
  return (
    <Stack spacing={2} data-testid="experiment-results">
      <Stack direction="row" spacing={1} alignItems="center">
        <Typography variant="body2" sx={{ flexGrow: 1 }}>
          {r.items} items · {r.resamples} resamples · seed {r.seed} · Ocular {r.version} · {r.seconds.toFixed(0)} s ·{' '}
          <span data-testid="experiment-edit">
            {e.spec.operation.op} at {e.spec.where} tokens
            {e.spec.patches === 'firing' ? ", only the patches where each set's features fire" : ''}
          </span>{' '}
          · sets:{' '}
          {Object.entries(r.featureSets)
            .map(([k, v]) => `${k} (${v.length})`)
            .join(', ')}
        </Typography>
        <Button size="small" onClick={() => exportAs('csv')}>
          CSV
        </Button>
        <Button size="small" onClick={() => exportAs('json')}>
          JSON
        </Button>
        <Button size="small" onClick={() => exportAs('html')}>
          HTML report
        </Button>
      </Stack>
      <Stack direction="row" spacing={1} alignItems="center">
        <TextField select size="small" label="Task" value={task} onChange={(ev) => setTask(ev.target.value)} sx={{ width: 180 }}>
          {['all', ...tasks].map((t) => (
            <MenuItem key={t} value={t}>
              {t}
            </MenuItem>
          ))}
        </TextField>
        <Typography variant="caption" color="text.secondary">
          Accuracy, drift, shift and KL for the chosen task; change, its CI and p-values are over all items.
        </Typography>
      </Stack>
      <ScrollTable label="Conditions">
        <Table size="small" aria-label="Conditions">
          <TableHead>
            <TableRow>
              <TableCell>condition</TableCell>
              <TableCell>accuracy [95% CI]</TableCell>
              <TableCell>change (pts) [95% CI]</TableCell>
              <TableCell>drift</TableCell>
              <TableCell>shift norm</TableCell>
              <TableCell>KL first token</TableCell>
              <TableCell title="Paired permutation p; below it, Holm–Bonferroni and Benjamini–Hochberg adjusted across the table's conditions">
                p vs baseline (Holm · BH)
              </TableCell>
              <TableCell>p vs each control</TableCell>
              <TableCell>Flag</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {r.conditions.map(view).map((c) => (
              <TableRow
                key={c.id}
                data-testid={`condition-${c.kind}`}
                sx={{ bgcolor: c.kind === 'random-set' || c.kind === 'random-direction' ? 'action.hover' : undefined }}
              >
                <TableCell>{c.id}</TableCell>
                <TableCell>
                  {pct(c.accuracy)} [{pct(c.ci95[0])}, {pct(c.ci95[1])}]
                </TableCell>
                <TableCell>
                  {pts(c.accuracyChange)} [{pts(c.accuracyChangeCi95[0])}, {pts(c.accuracyChangeCi95[1])}]
                </TableCell>
                <TableCell>{pct(c.drift)}</TableCell>
                <TableCell>{c.shiftNorm.toFixed(2)}</TableCell>
                <TableCell>{c.klFirstToken.toFixed(3)}</TableCell>
                <TableCell>
                  {p(c.pVsBaseline)}
                  {c.pVsBaseline !== null && (
                    <Typography variant="caption" component="div" color="text.secondary" data-testid="p-adjusted">
                      Holm {p(c.pVsBaselineHolm ?? null)} · BH {p(c.pVsBaselineBh ?? null)}
                    </Typography>
                  )}
                </TableCell>
                <TableCell>
                  {Object.entries(c.pVsControls).map(([id, v]) => (
                    <div key={id}>
                      {controlName(r.conditions.find((x) => x.id === id))}: p {p(v)}
                    </div>
                  ))}
                </TableCell>
                <TableCell>
                  {c.flagged && (
                    <Chip size="small" color="warning" label="flagged" title="A control moved accuracy as much as this intervention" />
                  )}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </ScrollTable>
      {r.conditions.some((c) => c.value !== null) ? (
        <>
          <SweepChart conditions={r.conditions} task={task === 'all' ? null : task} metric="accuracy" />
          <Typography variant="caption" color="text.secondary">
            Drift (share of answers changed vs baseline) against the sweep value
          </Typography>
          <SweepChart conditions={r.conditions} task={task === 'all' ? null : task} metric="drift" />
        </>
      ) : (
        <AccuracyChart
          height={300}
          groups={r.conditions.map((c) => {
            const g = task === 'all' ? c : (c.byTask.find((x) => x.key === task) ?? c);
            return { key: c.id, n: g.n, correct: Math.round(g.accuracy * g.n), accuracy: g.accuracy, ci95: g.ci95 };
          })}
        />
      )}
      <Interference conditions={r.conditions} tasks={tasks} />
      <Stack direction="row" spacing={1} alignItems="center">
        <Typography variant="subtitle1">Items</Typography>
        <TextField select size="small" label="Condition" value={drill} onChange={(ev) => setDrill(ev.target.value)} sx={{ width: 360 }}>
          {r.conditions
            .filter((c) => c.kind !== 'baseline')
            .map((c) => (
              <MenuItem key={c.id} value={c.id}>
                {c.id}
              </MenuItem>
            ))}
        </TextField>
      </Stack>
      {drill && (
        <ScrollTable label="Items">
          <Table size="small" aria-label="Items">
            <TableHead>
              <TableRow>
                <TableCell>question</TableCell>
                <TableCell>answer</TableCell>
                <TableCell>baseline output</TableCell>
                <TableCell>intervened output</TableCell>
                <TableCell>shift</TableCell>
                <TableCell>KL</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {outputs.map((o) => {
                const b = baseline.get(o.itemId);
                const changed = b?.extracted !== o.extracted;
                return (
                  <TableRow key={o.itemId} sx={{ bgcolor: changed ? 'warning.light' : undefined }}>
                    <TableCell>{o.question}</TableCell>
                    <TableCell>{o.answer}</TableCell>
                    <TableCell>
                      {b?.raw} {b?.correct ? '✓' : '✗'}
                    </TableCell>
                    <TableCell>
                      {o.raw} {o.correct ? '✓' : '✗'}
                    </TableCell>
                    <TableCell>{o.shiftNorm.toFixed(2)}</TableCell>
                    <TableCell>{o.kl.toFixed(3)}</TableCell>
                  </TableRow>
                );
              })}
            </TableBody>
          </Table>
        </ScrollTable>
      )}
    </Stack>
  );
}

/** Probes per layer: pick a harvest with several layers and a label. */
function Probes() {
  const report = useReportError();
  const { data: harvests } = useChannel('harvests.list', {});
  const { data: probes } = useChannel('probes.list', {});
  const [harvestId, setHarvestId] = useState<number | ''>('');
  const [label, setLabel] = useState<'task' | 'color' | 'shape'>('color');
  const done = (probes ?? []).filter((x) => x.results);
  return (
    <Stack spacing={1}>
      <Stack direction="row" spacing={1} alignItems="center">
        <TextField
          select
          size="small"
          label="Harvest"
          value={harvestId}
          onChange={(e) => setHarvestId(Number(e.target.value))}
          sx={{ width: 260 }}
        >
          {(harvests ?? []).map((h) => (
            <MenuItem key={h.id} value={h.id}>
              #{h.id}: {Object.keys(h.stats).length} taps, {h.items} items
            </MenuItem>
          ))}
        </TextField>
        <TextField
          select
          size="small"
          label="Label"
          value={label}
          onChange={(e) => setLabel(e.target.value as 'color')}
          sx={{ width: 140 }}
        >
          {['task', 'color', 'shape'].map((l) => (
            <MenuItem key={l} value={l}>
              {l}
            </MenuItem>
          ))}
        </TextField>
        <Editable>
          <Button
            variant="outlined"
            disabled={harvestId === ''}
            onClick={() => invoke('probes.start', { harvestId: Number(harvestId), label }).catch(report)}
          >
            Train probes
          </Button>
        </Editable>
      </Stack>
      {done.slice(0, 3).map((x) => (
        <Stack key={x.id} data-testid="probe-result">
          <Typography variant="body2">
            Probe #{x.id}: {x.spec.label} from harvest {x.harvestId} ({x.results!.train} train / {x.results!.test} held-out tokens,{' '}
            {x.results!.classes.length} classes)
          </Typography>
          <ProbeChart probe={x} />
        </Stack>
      ))}
    </Stack>
  );
}

/** An experiment that has not finished: its job's progress, or why it stopped, in place of results. */
function Pending({ e, job }: { e: ExperimentRecord; job: Job | undefined }) {
  const report = useReportError();
  if (!job) return <Alert severity="info">Experiment #{e.id} has no results yet.</Alert>;
  if (job.state === 'queued' || job.state === 'running') {
    const eta = etaSeconds(job.progress, job.startedAt);
    return (
      <Stack spacing={1} data-testid="experiment-progress">
        <Typography>
          Running “{e.name}”: {Math.round(job.progress * 100)}%{job.message ? ` · ${job.message}` : ''}
          {eta !== null ? ` · about ${formatDuration(eta)} left` : ''}
        </Typography>
        <LinearProgress variant="determinate" value={job.progress * 100} aria-label={`Experiment ${e.id} progress`} />
        <Stack direction="row">
          <Editable>
            <Button size="small" color="warning" onClick={() => invoke('jobs.cancel', { id: job.id }).catch(report)}>
              Cancel
            </Button>
          </Editable>
        </Stack>
      </Stack>
    );
  }
  const failed = job.state === 'failed';
  return (
    <Alert
      severity={failed ? 'error' : 'warning'}
      data-testid="experiment-failed"
      action={
        job.resumable ? (
          <Editable>
            <Button size="small" color="inherit" onClick={() => invoke('jobs.resume', { id: job.id }).catch(report)}>
              Resume
            </Button>
          </Editable>
        ) : undefined
      }
    >
      “{e.name}” {failed ? 'failed' : `was ${job.state}`}
      {job.error ? `: ${job.error}` : '.'}
    </Alert>
  );
}

/** Experiments at #/experiments/<id>: the designer, the chosen experiment's results (or its progress), probes. */
export function ExperimentsPage({ info }: { info: AppInfo }) {
  const route = useRoute();
  const { data: experiments } = useChannel('experiments.list', {});
  const { data: replications } = useChannel('replications.list', {});
  const jobs = useJobs(info.workspace?.path ?? null);
  const selectedId = route.ids[0] ?? null;
  const e = experiments?.find((x) => x.id === selectedId);
  // No experiment in the URL: the newest finished one, written into the URL.
  useEffect(() => {
    const newest = experiments?.find((x) => x.results) ?? experiments?.[0];
    if (selectedId === null && newest) navigate('experiments', [newest.id], { replace: true });
  }, [experiments, selectedId]);
  const job = jobs.find((j) => j.id === e?.jobId);
  return (
    <Stack spacing={2}>
      <Typography variant="h5" component="h2">
        Experiments
      </Typography>
      <Card variant="outlined">
        <CardContent>
          <Typography variant="subtitle1" component="h3" sx={{ mb: 1 }}>
            New experiment
          </Typography>
          <ExperimentDesigner onStarted={(id) => navigate('experiments', [id])} />
        </CardContent>
      </Card>
      <Card variant="outlined">
        <CardContent>
          <Stack direction="row" spacing={1} alignItems="center" sx={{ mb: 1 }} flexWrap="wrap" useFlexGap>
            <Typography variant="subtitle1" component="h3" sx={{ flexGrow: 1 }}>
              Results
            </Typography>
            {experiments && experiments.length > 0 && (
              <TextField
                select
                size="small"
                label="Experiment"
                value={e?.id ?? ''}
                onChange={(ev) => navigate('experiments', [Number(ev.target.value)])}
                sx={{ width: 360, maxWidth: '100%' }}
              >
                {experiments.map((x) => {
                  const j = jobs.find((y) => y.id === x.jobId);
                  return (
                    <MenuItem key={x.id} value={x.id}>
                      #{x.id}: {x.name}
                      {x.results ? '' : j ? ` (${j.state})` : ' (no results)'}
                    </MenuItem>
                  );
                })}
              </TextField>
            )}
            {e && <CopyLink page="experiments" ids={[e.id]} />}
          </Stack>
          {e ? (
            e.results ? (
              <Results e={e} />
            ) : (
              <Pending e={e} job={job} />
            )
          ) : experiments && selectedId !== null ? (
            <Alert severity="warning">There is no experiment #{selectedId} in this workspace.</Alert>
          ) : (
            <Alert severity="info">No experiment yet.</Alert>
          )}
        </CardContent>
      </Card>
      {replications && replications.length > 0 && (
        <Card variant="outlined">
          <CardContent>
            <Typography variant="subtitle1" component="h3" sx={{ mb: 1 }}>
              Across SAE seeds
            </Typography>
            {replications.slice(0, 3).map((r) => (
              <Stack key={r.id} data-testid="replication">
                <Typography variant="body2">
                  {r.name}: experiments {r.experimentIds.map((id) => `#${id}`).join(', ')}
                  {r.results ? ' (dots: each seed; bar: min to max; tick: median)' : ' (waiting for every run)'}
                </Typography>
                {r.results && <ReplicationChart effects={r.results.effects} />}
              </Stack>
            ))}
          </CardContent>
        </Card>
      )}
      <Card variant="outlined">
        <CardContent>
          <Typography variant="subtitle1" component="h3" sx={{ mb: 1 }}>
            Linear probes per layer
          </Typography>
          <Probes />
        </CardContent>
      </Card>
    </Stack>
  );
}
