import { Alert, AlertTitle, Box, Button } from '@mui/material';
import { useEffect, useState } from 'react';
import { backendStatus, restartBackend, subscribeBackendStatus, type BackendStatus } from '../api/client';

/**
 * In the desktop app, says when the backend process crashed and is restarting, or stopped for good
 * (with why: exit code, V8 fatal error, its last output) and offers to start it again.
 */
export function BackendStatusBanner() {
  const [status, setStatus] = useState<BackendStatus | null>(null);
  useEffect(() => {
    let live = true;
    void backendStatus().then((s) => live && setStatus((current) => current ?? s));
    const off = subscribeBackendStatus(setStatus);
    return () => {
      live = false;
      off();
    };
  }, []);
  if (status?.state !== 'restarting' && status?.state !== 'stopped') return null;
  const stopped = status.state === 'stopped';
  return (
    <Alert
      severity={stopped ? 'error' : 'warning'}
      data-testid="backend-status"
      data-state={status.state}
      sx={{ position: 'fixed', bottom: 16, left: 216, right: 16, zIndex: (t) => t.zIndex.snackbar }}
      action={
        stopped ? (
          <Button color="inherit" size="small" onClick={() => void restartBackend()}>
            Restart backend
          </Button>
        ) : undefined
      }
    >
      <AlertTitle>{stopped ? 'The Ocular backend stopped' : 'The Ocular backend stopped and is restarting'}</AlertTitle>
      <Box component="pre" sx={{ m: 0, whiteSpace: 'pre-wrap', fontSize: 12, maxHeight: 160, overflow: 'auto' }}>
        {status.reason}
      </Box>
    </Alert>
  );
}
