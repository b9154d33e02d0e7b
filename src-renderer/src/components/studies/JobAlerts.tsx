import type { Job } from '@contract/contract';
import { Alert, LinearProgress } from '@mui/material';

/**
 * A study panel's job state: the running (or queued) job with its message, or else the last failure.
 * One place for the wording the panels share ("Filtering (job 3): …", "Filter job 3 failed: …").
 */
export function JobAlerts({
  running,
  failed,
  doing,
  noun,
  testId,
  progress = false,
}: {
  running: Job | undefined;
  failed: Job | undefined;
  /** What the running job is doing, e.g. 'Filtering'. */
  doing: string;
  /** The job's name in the failure line, e.g. 'Filter'. */
  noun: string;
  testId?: string;
  /** Show a determinate progress bar under the running job's message. */
  progress?: boolean;
}) {
  return (
    <>
      {running && (
        <Alert severity="info" data-testid={testId}>
          {doing} (job {running.id}): {running.message ?? ''}
          {progress && (
            <LinearProgress variant="determinate" value={running.progress * 100} aria-label={`${noun} job ${running.id} progress`} />
          )}
        </Alert>
      )}
      {failed && !running && (
        <Alert severity="error">
          {noun} job {failed.id} failed: {failed.error}
        </Alert>
      )}
    </>
  );
}
