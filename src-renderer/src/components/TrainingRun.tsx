import type { Job, TrainMetrics } from '@contract/contract';
import { Alert, Box, Button, Chip, LinearProgress, Stack, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { useReportError } from '../hooks/useErrorReporter';
import { Editable } from './Editable';
import { TrainingCurves } from './TrainingCurves';

/** Metrics of a training job, polled while it runs (new steps only). */
function useMetrics(job: Job): TrainMetrics[] {
  const [metrics, setMetrics] = useState<TrainMetrics[]>([]);
  useEffect(() => setMetrics([]), [job.id]);
  useEffect(() => {
    let stopped = false;
    let last = -1;
    const poll = async () => {
      const fresh = await invoke('saes.metrics', { jobId: job.id, afterStep: last }).catch(() => [] as TrainMetrics[]);
      if (stopped || fresh.length === 0) return;
      last = fresh[fresh.length - 1]!.step;
      // A resumed run re-logs the steps after its last checkpoint: keep one point per step.
      setMetrics((current) => [...current.filter((m) => m.step < fresh[0]!.step), ...fresh]);
    };
    void poll();
    if (job.state !== 'running' && job.state !== 'queued')
      return () => {
        stopped = true;
      };
    const t = setInterval(poll, 1000);
    return () => {
      stopped = true;
      clearInterval(t);
    };
  }, [job.id, job.state]);
  return metrics;
}

/** A training run: live curves, and pause (cancel, keeping the checkpoint) / resume. */
export function TrainingRun({ job }: { job: Job }) {
  const metrics = useMetrics(job);
  const report = useReportError();
  const last = metrics[metrics.length - 1];
  const params = job.params as { tap: string; outputTap?: string; architecture?: string; steps?: number };
  const canResume = ['cancelled', 'interrupted', 'failed'].includes(job.state);
  return (
    <Stack spacing={1} data-testid="training-run">
      <Stack direction="row" spacing={1} alignItems="center">
        <Typography variant="subtitle1" sx={{ flexGrow: 1 }}>
          Run #{job.id}: {params.architecture ?? 'topk'} on {params.tap}
          {params.outputTap ? ` → ${params.outputTap}` : ''}
        </Typography>
        <Chip size="small" label={job.state} data-testid="training-state" />
        <Editable>
          <Button
            size="small"
            variant="outlined"
            disabled={job.state !== 'running'}
            onClick={() => invoke('jobs.cancel', { id: job.id }).catch(report)}
          >
            Pause
          </Button>
        </Editable>
        <Editable>
          <Button size="small" variant="outlined" disabled={!canResume} onClick={() => invoke('jobs.resume', { id: job.id }).catch(report)}>
            Resume from checkpoint
          </Button>
        </Editable>
      </Stack>
      <Box>
        <LinearProgress variant="determinate" value={job.progress * 100} aria-label={`Training run ${job.id} progress`} />
        <Typography variant="caption" color="text.secondary">
          {job.message ?? ''}
        </Typography>
      </Box>
      {job.state === 'failed' && <Alert severity="error">This run failed: {job.error}</Alert>}
      {last && (
        <Typography variant="body2" data-testid="training-latest">
          step {last.step}: FVU {last.fvu.toFixed(3)}
          {last.fvuByModality.image !== null && last.fvuByModality.image !== undefined
            ? ` (image ${last.fvuByModality.image.toFixed(3)}`
            : ' ('}
          {last.fvuByModality.text !== null && last.fvuByModality.text !== undefined
            ? `, text ${last.fvuByModality.text.toFixed(3)})`
            : ')'}
          , L0 {last.l0.toFixed(1)}, dead {(last.deadFraction * 100).toFixed(1)}%, dense {(last.denseFraction * 100).toFixed(1)}%
        </Typography>
      )}
      {metrics.length > 0 ? <TrainingCurves metrics={metrics} /> : <Typography color="text.secondary">No metrics logged yet.</Typography>}
    </Stack>
  );
}
