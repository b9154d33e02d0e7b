import { Alert, Box, Snackbar } from '@mui/material';
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';
import { describeError, type DescribedError } from '../lib/errors';

/** One place for pages to show a failed call (e.g. a read-only refusal) as a sentence, with its details folded away. */
const ReportContext = createContext<(err: unknown) => void>(() => undefined);

/** A failure as a sentence, and the channel and raw message under "Details". */
export function ErrorDetails({ error }: { error: DescribedError }) {
  return (
    <>
      {error.sentence}
      {error.details && (
        <Box component="details" sx={{ mt: 0.5, fontSize: 12 }} data-testid="error-details">
          <summary style={{ cursor: 'pointer' }}>Details</summary>
          <Box component="code" sx={{ wordBreak: 'break-word' }}>
            {error.details}
          </Box>
        </Box>
      )}
    </>
  );
}

export function ErrorReporterProvider({ children }: { children: ReactNode }) {
  const [error, setError] = useState<DescribedError | null>(null);
  const report = useCallback((err: unknown) => setError(describeError(err)), []);
  return (
    <ReportContext.Provider value={report}>
      {children}
      <Snackbar open={error !== null} onClose={() => setError(null)} anchorOrigin={{ vertical: 'bottom', horizontal: 'center' }}>
        <Alert severity="error" variant="filled" onClose={() => setError(null)} data-testid="error-alert" sx={{ maxWidth: 720 }}>
          {error && <ErrorDetails error={error} />}
        </Alert>
      </Snackbar>
    </ReportContext.Provider>
  );
}

export function useReportError(): (err: unknown) => void {
  return useContext(ReportContext);
}
