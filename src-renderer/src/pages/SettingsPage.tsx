import type { AppInfo, RuntimeDiagnostics } from '@contract/contract';
import {
  Alert,
  Card,
  CardContent,
  CircularProgress,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { getAnnotator, setAnnotator } from '../lib/annotator';
import { ChatEndpointCard } from '../components/ChatEndpointCard';

/** Settings > Diagnostics: what the ONNX Runtime pool can use, and why a GPU session would fall back. */
export function SettingsPage({ info }: { info: AppInfo }) {
  const [diag, setDiag] = useState<RuntimeDiagnostics | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [annotator, setName] = useState(getAnnotator());
  useEffect(() => {
    invoke('runtime.diagnostics', {}).then(setDiag, (err: Error) => setError(err.message));
  }, []);
  return (
    <Stack spacing={2} sx={{ maxWidth: 900 }}>
      <Typography variant="h5" component="h2">
        Settings
      </Typography>
      <Card variant="outlined">
        <CardContent>
          <Typography variant="h6">Annotation</Typography>
          <TextField
            size="small"
            label="Annotator name"
            value={annotator}
            onChange={(e) => {
              setName(e.target.value);
              setAnnotator(e.target.value);
            }}
            helperText="Recorded with every label you edit (kept in this browser or app profile)."
            sx={{ mt: 1, width: 320 }}
          />
        </CardContent>
      </Card>
      {info.workspace && <ChatEndpointCard readOnly={info.readOnly} />}
      <Card variant="outlined">
        <CardContent>
          <Typography variant="h6">Diagnostics</Typography>
          <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
            Ocular {info.version} · {info.transport === 'electron' ? 'desktop app' : 'served over HTTP'}
          </Typography>
          {error && <Alert severity="error">{error}</Alert>}
          {!diag && !error && <CircularProgress size={24} aria-label="Checking the runtime" />}
          {diag && (
            <>
              <Table size="small" aria-label="Runtime diagnostics">
                <TableBody>
                  <TableRow>
                    <TableCell>ONNX Runtime</TableCell>
                    <TableCell>
                      {diag.onnxruntimeVersion} (pool process {diag.pid})
                    </TableCell>
                  </TableRow>
                  <TableRow>
                    <TableCell>CUDA execution provider</TableCell>
                    <TableCell data-testid="cuda-provider">
                      {diag.cudaProviderInstalled ? `installed (${diag.cudaProviderPath})` : 'not installed'}
                    </TableCell>
                  </TableRow>
                  {diag.cudaLibraries.map((l) => (
                    <TableRow key={l.name}>
                      <TableCell>{l.name}</TableCell>
                      <TableCell>{l.path ?? 'not found'}</TableCell>
                    </TableRow>
                  ))}
                  <TableRow>
                    <TableCell>GPUs</TableCell>
                    <TableCell>
                      {diag.gpus.length === 0
                        ? 'none found'
                        : diag.gpus.map((g) => `${g.name} (${Math.round(g.memoryMiB / 1024)} GiB)`).join(', ')}
                    </TableCell>
                  </TableRow>
                </TableBody>
              </Table>
              {diag.notes.map((n) => (
                <Alert key={n} severity="info" sx={{ mt: 1 }}>
                  {n}
                </Alert>
              ))}
              {diag.fallbacks.map((f) => (
                <Alert key={f.modelPath} severity="warning" sx={{ mt: 1, wordBreak: 'break-word' }} data-testid="session-fallback">
                  {f.modelPath} runs on CPU: {f.reason}
                </Alert>
              ))}
            </>
          )}
        </CardContent>
      </Card>
    </Stack>
  );
}
