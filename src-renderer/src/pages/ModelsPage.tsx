import type { AppInfo, ComponentReport, ModelRecord } from '@contract/contract';
import { parseTap, tapName } from '@contract/tap-names';
import {
  Alert,
  Box,
  Button,
  Card,
  CardContent,
  Chip,
  LinearProgress,
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
import { invoke, isDesktop, pickFolder } from '../api/client';
import { ModelCapabilities, ModelPlanCard } from '../components/ModelPlanCard';
import { CopyLink } from '../components/CopyLink';
import { Editable } from '../components/Editable';
import { useReportError } from '../hooks/useErrorReporter';
import { navigate, useRoute } from '../lib/router';
import { useJobs } from '../hooks/useJobs';
import { useModels } from '../hooks/useModels';

const ROLE_TITLE: Record<ComponentReport['role'], string> = {
  decoder: 'Text decoder',
  vision_encoder: 'Vision tower',
  embed_tokens: 'Token embedding',
  other: 'Other graph',
};

export function ModelsPage({ info }: { info: AppInfo }) {
  const { models } = useModels(info.workspace?.path ?? null);
  const report = useReportError();
  const [path, setPath] = useState('');
  const route = useRoute();
  const [busy, setBusy] = useState(false);
  // #/models/<id>: that model; without one, the first (written into the URL).
  const current = models.find((m) => m.id === route.ids[0]) ?? null;
  useEffect(() => {
    if (route.ids[0] === undefined && models[0]) navigate('models', [models[0].id], { replace: true });
  }, [route.ids, models]);
  const setSelected = (id: number | null) => navigate('models', id === null ? [] : [id]);

  const add = async (folder: string) => {
    setBusy(true);
    try {
      const record = await invoke('models.add', { path: folder });
      setSelected(record.id);
      setPath('');
    } catch (err) {
      report(err);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (id: number) => {
    try {
      await invoke('models.remove', { id });
      setSelected(null);
    } catch (err) {
      report(err);
    }
  };

  return (
    <Stack spacing={2}>
      <Typography variant="h5" component="h2">
        Models
      </Typography>
      <Stack direction="row" spacing={2} alignItems="center">
        {isDesktop ? (
          <Editable>
            <Button
              variant="contained"
              disabled={busy}
              onClick={async () => {
                const f = await pickFolder('open');
                if (f) await add(f);
              }}
            >
              Add model folder…
            </Button>
          </Editable>
        ) : (
          <>
            <TextField
              size="small"
              label="Model folder or .onnx file on this machine"
              value={path}
              onChange={(e) => setPath(e.target.value)}
              sx={{ flexGrow: 1, minWidth: 0 }}
            />
            <Editable>
              <Button variant="contained" disabled={!path || busy} onClick={() => add(path)}>
                Add model
              </Button>
            </Editable>
          </>
        )}
      </Stack>
      <HubDownload info={info} registered={new Set(models.map((m) => m.path))} onAdd={add} />
      {models.length === 0 ? (
        <Typography color="text.secondary">
          No models yet. Add a folder exported in the onnx-community layout (config.json, tokenizer.json, onnx/vision_encoder.onnx,
          onnx/embed_tokens.onnx, onnx/decoder_model_merged.onnx).
        </Typography>
      ) : (
        <Stack spacing={2}>
          <Stack direction="row" spacing={2} alignItems="center" flexWrap="wrap" useFlexGap>
            <TextField
              select
              size="small"
              label="Model"
              value={current?.id ?? ''}
              onChange={(e) => setSelected(Number(e.target.value))}
              sx={{ width: 320 }}
            >
              {models.map((m) => (
                <MenuItem key={m.id} value={m.id}>
                  {m.name} ({m.report.modelType ?? m.report.kind})
                </MenuItem>
              ))}
            </TextField>
            {current && <CopyLink page="models" ids={[current.id]} />}
          </Stack>
          {current ? (
            <ModelDetail model={current} onRemove={() => remove(current.id)} />
          ) : (
            route.ids[0] !== undefined && <Alert severity="warning">There is no model #{route.ids[0]} in this workspace.</Alert>
          )}
        </Stack>
      )}
    </Stack>
  );
}

function ModelDetail({ model, onRemove }: { model: ModelRecord; onRemove: () => void }) {
  const r = model.report;
  return (
    <Box sx={{ flexGrow: 1, minWidth: 0 }} data-testid="model-detail">
      <Stack direction="row" alignItems="center" spacing={2} sx={{ mb: 1 }}>
        <Typography variant="h6" sx={{ flexGrow: 1 }}>
          {model.name}
        </Typography>
        <Editable>
          <Button size="small" color="warning" onClick={onRemove}>
            Remove
          </Button>
        </Editable>
      </Stack>
      <Typography variant="body2" sx={{ fontFamily: 'monospace', wordBreak: 'break-all', mb: 1 }}>
        {r.path}
      </Typography>
      <ModelCapabilities model={model} />
      {r.warnings.map((w) => (
        <Alert key={w} severity="warning" sx={{ mb: 1, wordBreak: 'break-word' }}>
          {w}
        </Alert>
      ))}
      <ModelPlanCard key={model.id} model={model} />
      <Stack spacing={2}>
        {r.components.map((c) => (
          <Card key={c.file} variant="outlined">
            <CardContent>
              <Stack direction="row" spacing={1} alignItems="center" sx={{ mb: 1 }}>
                <Typography variant="subtitle1" sx={{ flexGrow: 1 }}>
                  {ROLE_TITLE[c.role]}
                </Typography>
                {c.variants.map((v) => (
                  <Chip key={v.file} size="small" label={v.dtype} />
                ))}
              </Stack>
              <Typography variant="body2" color="text.secondary">
                {c.file}
              </Typography>
              {c.tower && (
                <Typography sx={{ mt: 1 }} data-testid={`tower-${c.role}`}>
                  {c.tower.layers} layers · width {c.tower.width ?? '?'} · {c.tower.taps.length} taps
                </Typography>
              )}
              {c.tower && <TapTable taps={c.tower.taps} layers={c.tower.layers} prefix={c.tower.prefix} />}
              <Typography variant="body2" sx={{ mt: 1, wordBreak: 'break-word' }}>
                Inputs:{' '}
                {c.inputs
                  .slice(0, 4)
                  .map((i) => `${i.name} ${i.type}[${(i.shape ?? []).join(', ')}]`)
                  .join(' · ')}
                {c.inputs.length > 4 ? ` (+${c.inputs.length - 4} more)` : ''}
              </Typography>
              <Typography variant="body2" sx={{ wordBreak: 'break-word' }}>
                Ops:{' '}
                {Object.entries(c.ops)
                  .sort((a, b) => b[1] - a[1])
                  .slice(0, 10)
                  .map(([k, v]) => `${k}×${v}`)
                  .join(', ')}
              </Typography>
            </CardContent>
          </Card>
        ))}
      </Stack>
    </Box>
  );
}

/** Hooks as columns, layers as rows: which taps exist at a glance. */
function TapTable({ taps, layers, prefix }: { taps: Array<{ name: string }>; layers: number; prefix: string }) {
  const names = new Set(taps.map((t) => t.name));
  const hooks = [...new Set(taps.map((t) => parseTap(t.name)?.hook ?? t.name))];
  const shown = Math.min(layers, 6);
  return (
    <Box sx={{ overflowX: 'auto', mt: 1 }} tabIndex={0} role="region" aria-label="Taps by layer">
      <Table size="small" aria-label="Taps">
        <TableHead>
          <TableRow>
            <TableCell>layer</TableCell>
            {hooks.map((h) => (
              <TableCell key={h} title={h}>
                {h.replace(/^hook_/, '')}
              </TableCell>
            ))}
          </TableRow>
        </TableHead>
        <TableBody>
          {Array.from({ length: shown }, (_, i) => (i < shown - 1 ? i : layers - 1)).map((layer) => (
            <TableRow key={layer}>
              <TableCell>{layer === layers - 1 && layers > shown ? `… ${layer}` : layer}</TableCell>
              {hooks.map((h) => (
                <TableCell key={h}>{names.has(`${prefix}${tapName(layer, h)}`) ? '✓' : '—'}</TableCell>
              ))}
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Box>
  );
}

const DTYPES = ['fp32', 'fp16', 'q4', 'q4f16', 'int8', 'uint8', 'quantized', 'bnb4'] as const;

/** Explicit, opt-in network use: fetch an onnx-community export into the workspace, resumable. */
function HubDownload({ info, registered, onAdd }: { info: AppInfo; registered: Set<string>; onAdd: (path: string) => Promise<void> }) {
  const report = useReportError();
  const jobs = useJobs(info.workspace?.path ?? null).filter((j) => j.kind === 'model-download');
  const [repo, setRepo] = useState('');
  const [dtype, setDtype] = useState<(typeof DTYPES)[number]>('fp32');
  const start = async () => {
    try {
      await invoke('models.download', { repo, dtype });
      setRepo('');
    } catch (err) {
      report(err);
    }
  };
  return (
    <Card variant="outlined">
      <CardContent>
        <Typography variant="subtitle1">Download from the Hugging Face Hub</Typography>
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
          The only thing in Ocular that uses the network. Files go into this workspace's models/ folder; an interrupted download resumes.
        </Typography>
        <Stack direction="row" spacing={2} alignItems="center">
          <TextField
            size="small"
            label="Repository (owner/name)"
            value={repo}
            onChange={(e) => setRepo(e.target.value)}
            sx={{ flexGrow: 1, minWidth: 0 }}
          />
          <TextField
            size="small"
            select
            label="dtype"
            value={dtype}
            onChange={(e) => setDtype(e.target.value as (typeof DTYPES)[number])}
            sx={{ width: 120 }}
          >
            {DTYPES.map((d) => (
              <MenuItem key={d} value={d}>
                {d}
              </MenuItem>
            ))}
          </TextField>
          <Editable>
            <Button variant="outlined" disabled={!/^[\w.-]+\/[\w.-]+$/.test(repo)} onClick={start}>
              Download
            </Button>
          </Editable>
        </Stack>
        {jobs.slice(0, 5).map((j) => {
          const target = (j.result as { path?: string } | null)?.path;
          return (
            <Stack key={j.id} direction="row" spacing={2} alignItems="center" sx={{ mt: 1 }}>
              <Typography variant="body2" sx={{ width: 260 }} noWrap>
                {(j.params as { repo: string }).repo}
              </Typography>
              <Box sx={{ flexGrow: 1 }}>
                <LinearProgress
                  variant="determinate"
                  value={j.progress * 100}
                  aria-label={`Download of ${(j.params as { repo: string }).repo}`}
                />
              </Box>
              <Chip size="small" label={j.state} />
              {j.state === 'succeeded' && target && !registered.has(target) && (
                <Editable>
                  <Button size="small" onClick={() => onAdd(target)}>
                    Add to models
                  </Button>
                </Editable>
              )}
              {j.error && (
                <Typography variant="caption" color="error">
                  {j.error}
                </Typography>
              )}
            </Stack>
          );
        })}
      </CardContent>
    </Card>
  );
}
