import { Alert, Snackbar } from '@mui/material';
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';

/** One place for pages to show a failed call's message (e.g. a read-only refusal) to the user. */
const ReportContext = createContext<(err: unknown) => void>(() => undefined);

export function ErrorReporterProvider({ children }: { children: ReactNode }) {
  const [message, setMessage] = useState<string | null>(null);
  const report = useCallback((err: unknown) => setMessage(err instanceof Error ? err.message : String(err)), []);
  return (
    <ReportContext.Provider value={report}>
      {children}
      <Snackbar open={message !== null} onClose={() => setMessage(null)} anchorOrigin={{ vertical: 'bottom', horizontal: 'center' }}>
        <Alert severity="error" variant="filled" onClose={() => setMessage(null)} data-testid="error-alert" sx={{ maxWidth: 720 }}>
          {message}
        </Alert>
      </Snackbar>
    </ReportContext.Provider>
  );
}

export function useReportError(): (err: unknown) => void {
  return useContext(ReportContext);
}
