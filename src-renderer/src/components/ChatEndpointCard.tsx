import { Alert, Button, Card, CardContent, Checkbox, FormControlLabel, Stack, TextField, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { checkEndpointUrl } from '../lib/validate';

const DEFAULT_URL = 'http://127.0.0.1:8080/v1';

/**
 * Settings > Auto-interpretation: the OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM) that
 * `explain` uses, kept in the workspace. Loopback by default; a remote URL is allowed but said out loud,
 * since features' examples (text and, for multimodal models, image crops) are then sent off this machine.
 */
export function ChatEndpointCard({ readOnly }: { readOnly: boolean }) {
  const { data: saved, reload } = useChannel('autointerp.endpoint', {});
  const report = useReportError();
  const [url, setUrl] = useState(DEFAULT_URL);
  const [model, setModel] = useState('');
  const [multimodal, setMultimodal] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  useEffect(() => {
    if (saved) {
      setUrl(saved.url);
      setModel(saved.model);
      setMultimodal(saved.multimodal);
    }
  }, [saved]);
  const check = checkEndpointUrl(url);
  const urlError = 'error' in check ? check.error : null;
  const modelError = model.trim() === '' ? 'required' : model.length > 200 ? 'at most 200 characters' : null;
  const save = async () => {
    try {
      await invoke('autointerp.setEndpoint', { endpoint: { url: url.trim(), model: model.trim(), multimodal } });
      setStatus('Saved.');
      reload();
    } catch (err) {
      report(err);
    }
  };
  const clear = async () => {
    try {
      await invoke('autointerp.setEndpoint', { endpoint: null });
      setStatus('Cleared: explain uses the ground-truth explainer only.');
      reload();
    } catch (err) {
      report(err);
    }
  };
  return (
    <Card variant="outlined" data-testid="chat-endpoint">
      <CardContent>
        <Typography variant="h6" component="h3">
          Auto-interpretation endpoint
        </Typography>
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1.5 }}>
          An OpenAI-compatible chat server you run (llama.cpp <code>llama-server</code>, Ollama <code>/v1</code>, vLLM), for explanations
          and their scores. Kept in this workspace. {saved ? `Now: ${saved.model} at ${saved.url}.` : 'None set.'}
        </Typography>
        <Stack direction="row" spacing={2} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'flex-start' }}>
          <TextField
            size="small"
            label="Endpoint URL"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            error={urlError !== null}
            helperText={urlError ?? 'base URL; /chat/completions is added'}
            sx={{ width: 340 }}
            disabled={readOnly}
          />
          <TextField
            size="small"
            label="Model name"
            value={model}
            onChange={(e) => setModel(e.target.value)}
            error={modelError !== null && model !== ''}
            helperText={modelError && model !== '' ? modelError : 'as the server names it'}
            sx={{ width: 240 }}
            disabled={readOnly}
          />
          <FormControlLabel
            control={<Checkbox checked={multimodal} onChange={(e) => setMultimodal(e.target.checked)} disabled={readOnly} />}
            label="Reads images"
          />
        </Stack>
        {'remote' in check && check.remote && (
          <Alert severity="warning" sx={{ mt: 1 }} data-testid="endpoint-remote">
            This URL is not on this machine: feature examples (text, and image crops for a multimodal model) will be sent to{' '}
            {new URL(url.trim()).host}.
          </Alert>
        )}
        <Stack direction="row" spacing={1} sx={{ mt: 1.5, alignItems: 'center' }}>
          <Button variant="contained" onClick={save} disabled={readOnly || urlError !== null || modelError !== null}>
            Save endpoint
          </Button>
          <Button onClick={clear} disabled={readOnly || !saved}>
            Clear
          </Button>
          {status && (
            <Typography variant="body2" role="status">
              {status}
            </Typography>
          )}
        </Stack>
      </CardContent>
    </Card>
  );
}
