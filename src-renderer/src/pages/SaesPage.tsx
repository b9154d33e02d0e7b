import type { AppInfo, SaeRecord } from '@contract/contract';
import {
  Button,
  Card,
  CardContent,
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
import { useState } from 'react';
import { invoke } from '../api/client';
import { TrainingRun } from '../components/TrainingRun';
import { TrainSaeWizard } from '../components/TrainSaeWizard';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { useJobs } from '../hooks/useJobs';

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)}%`);

/** Splice an SAE into a model and measure what it costs (CE, accuracy). */
function EvaluateSae({ sae, readOnly }: { sae: SaeRecord; readOnly: boolean }) {
  const report = useReportError();
  const { data: models } = useChannel('models.list', {});
  const { data: datasets } = useChannel('datasets.list', {});
  const [modelId, setModelId] = useState<number | ''>('');
  const [datasetId, setDatasetId] = useState<number | ''>('');
  const start = () => invoke('saes.evaluate', { saeId: sae.id, modelId: Number(modelId), datasetId: Number(datasetId) }).catch(report);
  return (
    <Stack direction="row" spacing={1} alignItems="center">
      <TextField select size="small" label="Model" value={modelId} onChange={(e) => setModelId(Number(e.target.value))} sx={{ width: 180 }}>
        {(models ?? []).map((m) => (
          <MenuItem key={m.id} value={m.id}>
            {m.name}
          </MenuItem>
        ))}
      </TextField>
      <TextField
        select
        size="small"
        label="Dataset"
        value={datasetId}
        onChange={(e) => setDatasetId(Number(e.target.value))}
        sx={{ width: 180 }}
      >
        {(datasets ?? []).map((d) => (
          <MenuItem key={d.id} value={d.id}>
            {d.name}
          </MenuItem>
        ))}
      </TextField>
      <Button
        size="small"
        variant="outlined"
        disabled={readOnly || modelId === '' || datasetId === '' || Boolean(sae.hookNameOut)}
        onClick={start}
      >
        Splice in and evaluate
      </Button>
    </Stack>
  );
}

/** SAEs: the registry, the Train SAE wizard, and live training runs. */
export function SaesPage({ info }: { info: AppInfo }) {
  const { data: saes } = useChannel('saes.list', {});
  const jobs = useJobs(info.workspace?.path ?? null).filter((j) => j.kind === 'sae-train');
  const [selected, setSelected] = useState<number | null>(null);
  const [evaluating, setEvaluating] = useState<number | null>(null);
  const run = jobs.find((j) => j.id === selected) ?? jobs[0];

  return (
    <Stack spacing={2}>
      <Typography variant="h5" component="h2">
        SAEs
      </Typography>
      <Card variant="outlined">
        <CardContent>
          <Typography variant="subtitle1" sx={{ mb: 1 }}>
            Train SAE
          </Typography>
          <TrainSaeWizard readOnly={info.readOnly} onStarted={(job) => setSelected(job.id)} />
        </CardContent>
      </Card>
      {run && (
        <Card variant="outlined">
          <CardContent>
            <Stack direction="row" spacing={1} sx={{ mb: 1 }} alignItems="center">
              <Typography variant="subtitle1" sx={{ flexGrow: 1 }}>
                Training runs
              </Typography>
              <TextField
                select
                size="small"
                label="Run"
                value={run.id}
                onChange={(e) => setSelected(Number(e.target.value))}
                sx={{ width: 200 }}
              >
                {jobs.map((j) => (
                  <MenuItem key={j.id} value={j.id}>
                    #{j.id} ({j.state})
                  </MenuItem>
                ))}
              </TextField>
            </Stack>
            <TrainingRun job={run} readOnly={info.readOnly} />
          </CardContent>
        </Card>
      )}
      {saes && saes.length > 0 && (
        <Table size="small" aria-label="SAEs">
          <TableHead>
            <TableRow>
              <TableCell>#</TableCell>
              <TableCell>Name</TableCell>
              <TableCell>Architecture</TableCell>
              <TableCell>Tap</TableCell>
              <TableCell>Features</TableCell>
              <TableCell>CE loss recovered</TableCell>
              <TableCell>CE increase</TableCell>
              <TableCell>Accuracy change</TableCell>
              <TableCell />
            </TableRow>
          </TableHead>
          <TableBody>
            {saes.map((s) => (
              <TableRow key={s.id} data-testid={`sae-${s.id}`}>
                <TableCell>{s.id}</TableCell>
                <TableCell>{s.name}</TableCell>
                <TableCell>
                  {s.architecture}
                  {s.k ? ` k=${s.k}` : ''}
                  {s.hookNameOut ? ' (transcoder)' : ''}
                </TableCell>
                <TableCell>
                  {s.hookName}
                  {s.hookNameOut ? ` → ${s.hookNameOut}` : ''}
                </TableCell>
                <TableCell>{s.dSae}</TableCell>
                <TableCell>{pct(s.evaluation?.ceLossRecovered)}</TableCell>
                <TableCell>{s.evaluation ? s.evaluation.ceIncrease.toFixed(4) : '–'}</TableCell>
                <TableCell>
                  {s.evaluation?.accuracyChange === null || !s.evaluation ? '–' : `${(s.evaluation.accuracyChange * 100).toFixed(1)} pts`}
                </TableCell>
                <TableCell>
                  {evaluating === s.id ? (
                    <EvaluateSae sae={s} readOnly={info.readOnly} />
                  ) : (
                    <Button size="small" onClick={() => setEvaluating(s.id)}>
                      Evaluate…
                    </Button>
                  )}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </Stack>
  );
}
