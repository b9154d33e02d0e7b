import type { AppInfo, SaeRecord } from '@contract/contract';
import {
  Alert,
  Button,
  Dialog,
  DialogContent,
  DialogTitle,
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
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { CopyLink } from '../components/CopyLink';
import { Editable } from '../components/Editable';
import { IdSelect } from '../components/IdSelect';
import { TrainingRun } from '../components/TrainingRun';
import { TrainSaeWizard } from '../components/TrainSaeWizard';
import { ScrollTable } from '../components/ScrollTable';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { useJobs } from '../hooks/useJobs';
import { navigate, useRoute } from '../lib/router';

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)}%`);

/** Splice an SAE into a model and measure what it costs (CE, accuracy). */
function EvaluateSae({ sae, onStarted }: { sae: SaeRecord; onStarted: () => void }) {
  const report = useReportError();
  const { data: models } = useChannel('models.list', {});
  const { data: datasets } = useChannel('datasets.list', {});
  const [modelId, setModelId] = useState<number | ''>('');
  const [datasetId, setDatasetId] = useState<number | ''>('');
  const start = () =>
    invoke('saes.evaluate', { saeId: sae.id, modelId: Number(modelId), datasetId: Number(datasetId) }).then(onStarted, report);
  return (
    <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap sx={{ pt: 1 }}>
      <IdSelect label="Model" value={modelId} onChange={setModelId} options={(models ?? []).map((m) => [m.id, m.name])} width={180} />
      <IdSelect
        label="Dataset"
        value={datasetId}
        onChange={setDatasetId}
        options={(datasets ?? []).map((d) => [d.id, d.name])}
        width={180}
      />
      <Editable>
        <Button variant="contained" disabled={modelId === '' || datasetId === '' || Boolean(sae.hookNameOut)} onClick={start}>
          Splice in and evaluate
        </Button>
      </Editable>
    </Stack>
  );
}

/** SAEs: the registry, the Train SAE wizard, and live training runs. */
export function SaesPage({ info }: { info: AppInfo }) {
  const route = useRoute();
  const { data: saes } = useChannel('saes.list', {});
  const jobs = useJobs(info.workspace?.path ?? null).filter((j) => j.kind === 'sae-train');
  const [evaluating, setEvaluating] = useState<SaeRecord | null>(null);
  // #/saes/<training job>: that run; without one, the newest run (written into the URL).
  const selected = route.ids[0] ?? null;
  const run = jobs.find((j) => j.id === selected);
  useEffect(() => {
    if (selected === null && jobs[0]) navigate('saes', [jobs[0].id], { replace: true });
  }, [selected, jobs]);

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
          <TrainSaeWizard onStarted={(job) => navigate('saes', [job.id])} />
        </CardContent>
      </Card>
      {selected !== null && jobs.length > 0 && !run && (
        <Alert severity="warning">There is no training run #{selected} in this workspace.</Alert>
      )}
      {run && (
        <Card variant="outlined">
          <CardContent>
            <Stack direction="row" spacing={1} sx={{ mb: 1 }} alignItems="center">
              <Typography variant="subtitle1" component="h3" sx={{ flexGrow: 1 }}>
                Training runs
              </Typography>
              <CopyLink page="saes" ids={[run.id]} />
              <TextField
                select
                size="small"
                label="Run"
                value={run.id}
                onChange={(e) => navigate('saes', [Number(e.target.value)])}
                sx={{ width: 200 }}
              >
                {jobs.map((j) => (
                  <MenuItem key={j.id} value={j.id}>
                    #{j.id} ({j.state})
                  </MenuItem>
                ))}
              </TextField>
            </Stack>
            <TrainingRun job={run} />
          </CardContent>
        </Card>
      )}
      {saes && saes.length > 0 && (
        <ScrollTable label="SAEs">
          <Table size="small" aria-label="SAEs">
            <TableHead>
              <TableRow>
                <TableCell>#</TableCell>
                <TableCell>Name</TableCell>
                <TableCell>Architecture</TableCell>
                <TableCell>Tap</TableCell>
                <TableCell>Features</TableCell>
                <TableCell>Spliced in: CE loss recovered · CE increase · accuracy change</TableCell>
                <TableCell>Evaluate</TableCell>
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
                  <TableCell sx={{ wordBreak: 'break-word' }}>
                    {s.hookName}
                    {s.hookNameOut ? ` → ${s.hookNameOut}` : ''}
                  </TableCell>
                  <TableCell>{s.dSae}</TableCell>
                  <TableCell>
                    {s.evaluation
                      ? `${pct(s.evaluation.ceLossRecovered)} · ${s.evaluation.ceIncrease.toFixed(4)} · ${
                          s.evaluation.accuracyChange === null ? '–' : `${(s.evaluation.accuracyChange * 100).toFixed(1)} pts`
                        }`
                      : 'not evaluated'}
                  </TableCell>
                  <TableCell>
                    <Button size="small" onClick={() => setEvaluating(s)} aria-label={`Evaluate SAE ${s.id} spliced in`}>
                      Evaluate…
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </ScrollTable>
      )}
      <Dialog open={evaluating !== null} onClose={() => setEvaluating(null)} aria-labelledby="evaluate-sae-title" maxWidth="md">
        <DialogTitle id="evaluate-sae-title">Splice SAE #{evaluating?.id} into its model</DialogTitle>
        <DialogContent>
          <Typography variant="body2" color="text.secondary">
            Answer-token cross-entropy clean, spliced and zero-ablated (CE loss recovered), and benchmark accuracy with and without the
            splice.
          </Typography>
          {evaluating && <EvaluateSae sae={evaluating} onStarted={() => setEvaluating(null)} />}
        </DialogContent>
      </Dialog>
    </Stack>
  );
}
