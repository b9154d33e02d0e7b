import type { AppInfo, Job } from '@contract/contract';
import {
  Box,
  Button,
  Chip,
  LinearProgress,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  Typography,
} from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { Editable } from '../components/Editable';
import { useReportError } from '../hooks/useErrorReporter';
import { useJobs } from '../hooks/useJobs';
import { etaSeconds, formatDuration } from '../lib/eta';

const STATE_COLOR: Record<Job['state'], 'default' | 'info' | 'success' | 'error' | 'warning'> = {
  queued: 'default',
  running: 'info',
  succeeded: 'success',
  failed: 'error',
  cancelled: 'warning',
  interrupted: 'warning',
};

/** Re-render every second so ETAs count down between progress events. */
function useClock(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

export function JobsPage({ info }: { info: AppInfo }) {
  const jobs = useJobs(info.workspace?.path ?? null);
  const report = useReportError();
  const now = useClock();
  const call = (p: Promise<unknown>) => p.catch(report);

  return (
    <Stack spacing={2}>
      <Stack direction="row" alignItems="center" spacing={2}>
        <Typography variant="h5" component="h2" sx={{ flexGrow: 1 }}>
          Jobs
        </Typography>
        {info.jobKinds
          .filter((k) => k.startFromUi)
          .map((k) => (
            <Editable key={k.kind}>
              <Button variant="contained" onClick={() => call(invoke('jobs.start', { kind: k.kind, params: {} }))}>
                Start {k.title.toLowerCase()}
              </Button>
            </Editable>
          ))}
      </Stack>
      {jobs.length === 0 ? (
        <Typography color="text.secondary">No jobs yet.</Typography>
      ) : (
        <TableContainer component={Paper} variant="outlined">
          <Table size="small" aria-label="Jobs">
            <TableHead>
              <TableRow>
                <TableCell>#</TableCell>
                <TableCell>Kind</TableCell>
                <TableCell>State</TableCell>
                <TableCell sx={{ width: '35%' }}>Progress</TableCell>
                <TableCell>Started</TableCell>
                <TableCell align="right">Actions</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {jobs.map((job) => {
                const eta = job.state === 'running' ? etaSeconds(job.progress, job.startedAt, now) : null;
                return (
                  <TableRow key={job.id} data-testid={`job-row-${job.id}`} data-state={job.state}>
                    <TableCell>{job.id}</TableCell>
                    <TableCell>{info.jobKinds.find((k) => k.kind === job.kind)?.title ?? job.kind}</TableCell>
                    <TableCell>
                      <Chip size="small" label={job.state} color={STATE_COLOR[job.state]} data-testid="job-state" />
                    </TableCell>
                    <TableCell>
                      <Stack direction="row" alignItems="center" spacing={1}>
                        <Box sx={{ flexGrow: 1 }}>
                          <LinearProgress variant="determinate" value={job.progress * 100} aria-label={`job ${job.id} progress`} />
                        </Box>
                        <Typography variant="body2" data-testid="job-progress" sx={{ minWidth: 40, textAlign: 'right' }}>
                          {Math.round(job.progress * 100)}%
                        </Typography>
                      </Stack>
                      <Typography variant="caption" color="text.secondary">
                        {job.message}
                        {eta !== null && ` · about ${formatDuration(eta)} left`}
                      </Typography>
                      {job.error && (
                        <Typography variant="caption" color="error" component="div" data-testid="job-error">
                          {job.error}
                        </Typography>
                      )}
                    </TableCell>
                    <TableCell>{job.startedAt ? new Date(job.startedAt).toLocaleTimeString() : '—'}</TableCell>
                    <TableCell align="right">
                      {(job.state === 'running' || job.state === 'queued') && (
                        <Editable>
                          <Button size="small" color="warning" onClick={() => call(invoke('jobs.cancel', { id: job.id }))}>
                            Cancel
                          </Button>
                        </Editable>
                      )}
                      {job.resumable && ['interrupted', 'failed', 'cancelled'].includes(job.state) && (
                        <Editable>
                          <Button size="small" onClick={() => call(invoke('jobs.resume', { id: job.id }))}>
                            Resume
                          </Button>
                        </Editable>
                      )}
                    </TableCell>
                  </TableRow>
                );
              })}
            </TableBody>
          </Table>
        </TableContainer>
      )}
    </Stack>
  );
}
