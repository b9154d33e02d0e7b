import type { AppInfo, CircuitView, Job } from '@contract/contract';
import {
  Alert,
  Button,
  Card,
  CardContent,
  Chip,
  LinearProgress,
  MenuItem,
  Slider,
  Stack,
  TextField,
  ToggleButton,
  ToggleButtonGroup,
  Typography,
} from '@mui/material';
import { useEffect, useMemo, useState } from 'react';
import { invoke } from '../api/client';
import { CircuitAttention } from '../components/CircuitAttention';
import { CircuitGraph } from '../components/CircuitGraph';
import { Editable } from '../components/Editable';
import { ImageDrop, base64Of, type InputImage } from '../components/ImageDrop';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { useJobs } from '../hooks/useJobs';
import { download } from '../lib/download';
import { describeError } from '../lib/errors';
import { navigate, useRoute } from '../lib/router';

const pct = (v: number) => `${Math.round(v * 100)}%`;

/** Start a trace: a transcoder set, an image (a dataset item or your own), the prompt, the token to explain. */
function TraceForm({ jobs, onStarted }: { jobs: Job[]; onStarted: (job: Job) => void }) {
  const report = useReportError();
  const sets = jobs.filter((j) => j.kind === 'transcoder-set' && j.state === 'succeeded');
  const { data: datasets } = useChannel('datasets.list', {});
  const [setId, setSetId] = useState<number | ''>('');
  const [datasetId, setDatasetId] = useState<number | ''>('');
  const [source, setSource] = useState<'item' | 'upload'>('item');
  const [itemId, setItemId] = useState<number | ''>('');
  const [upload, setUpload] = useState<InputImage | null>(null);
  const [prompt, setPrompt] = useState('');
  const [target, setTarget] = useState('');
  const [contrast, setContrast] = useState('');
  const { data: items } = useChannel('circuits.items', datasetId === '' ? null : { datasetId, offset: 0, limit: 500 });
  useEffect(() => {
    if (setId === '' && sets[0]) setSetId(sets[0].id);
  }, [sets, setId]);
  useEffect(() => {
    if (datasetId === '' && datasets?.[0]) setDatasetId(datasets[0].id);
  }, [datasets, datasetId]);
  if (sets.length === 0)
    return (
      <Alert severity="info">
        No transcoder set yet: train one with <code>ocular circuit train-set</code> on a harvest of hook_mlp_in and hook_mlp_out.
      </Alert>
    );
  const ready = setId !== '' && prompt.trim() !== '' && (source === 'item' ? itemId !== '' && datasetId !== '' : upload !== null);
  const start = () => {
    if (!ready) return;
    invoke('circuits.trace', {
      setId: setId as number,
      image:
        source === 'item'
          ? { kind: 'item', datasetId: datasetId as number, itemId: itemId as number }
          : { kind: 'upload', data: base64Of(upload!) },
      prompt: prompt.trim(),
      ...(target.trim() ? { target: target.trim() } : {}),
      ...(contrast.trim() ? { contrast: contrast.trim() } : {}),
    }).then(onStarted, report);
  };
  return (
    <Card variant="outlined">
      <CardContent>
        <Stack spacing={1.5}>
          <Typography variant="subtitle1" component="h3">
            Trace a new graph
          </Typography>
          <Stack direction="row" spacing={1} sx={{ flexWrap: 'wrap', rowGap: 1.5 }}>
            <TextField
              select
              size="small"
              label="Transcoder set"
              value={setId}
              onChange={(e) => setSetId(Number(e.target.value))}
              sx={{ minWidth: 200 }}
            >
              {sets.map((s) => (
                <MenuItem key={s.id} value={s.id}>
                  {`set ${s.id} (${((s.result as { layers?: unknown[] } | null)?.layers ?? []).length} layers)`}
                </MenuItem>
              ))}
            </TextField>
            <ToggleButtonGroup
              size="small"
              exclusive
              value={source}
              onChange={(_, v: 'item' | 'upload' | null) => v && setSource(v)}
              aria-label="Image from"
            >
              <ToggleButton value="item">dataset item</ToggleButton>
              <ToggleButton value="upload">your image</ToggleButton>
            </ToggleButtonGroup>
          </Stack>
          {source === 'item' ? (
            <Stack direction="row" spacing={1} sx={{ flexWrap: 'wrap', rowGap: 1.5 }}>
              <TextField
                select
                size="small"
                label="Dataset"
                value={datasetId}
                onChange={(e) => {
                  setDatasetId(Number(e.target.value));
                  setItemId('');
                }}
                sx={{ minWidth: 200 }}
              >
                {(datasets ?? []).map((d) => (
                  <MenuItem key={d.id} value={d.id}>{`${d.name} (${d.items})`}</MenuItem>
                ))}
              </TextField>
              <TextField
                select
                size="small"
                label="Item"
                value={itemId}
                onChange={(e) => {
                  const id = Number(e.target.value);
                  setItemId(id);
                  const it = items?.find((i) => i.id === id);
                  if (it) setPrompt(it.question);
                }}
                sx={{ minWidth: 320, maxWidth: '100%' }}
              >
                {(items ?? []).map((i) => (
                  <MenuItem key={i.id} value={i.id}>{`${i.key}${i.task ? ` [${i.task}]` : ''}: ${i.question} → ${i.answer}`}</MenuItem>
                ))}
              </TextField>
            </Stack>
          ) : (
            <ImageDrop image={upload} onImage={setUpload} onError={report} />
          )}
          <TextField size="small" label="Prompt" value={prompt} onChange={(e) => setPrompt(e.target.value)} fullWidth />
          <Stack direction="row" spacing={1} sx={{ flexWrap: 'wrap', rowGap: 1.5 }}>
            <TextField
              size="small"
              label="Target token"
              helperText="default: the top prediction"
              value={target}
              onChange={(e) => setTarget(e.target.value)}
            />
            <TextField
              size="small"
              label="Contrast token"
              helperText="explain target minus this"
              value={contrast}
              onChange={(e) => setContrast(e.target.value)}
            />
            <Editable>
              <Button variant="contained" onClick={start} disabled={!ready} sx={{ alignSelf: 'flex-start' }}>
                Trace
              </Button>
            </Editable>
          </Stack>
        </Stack>
      </CardContent>
    </Card>
  );
}

/** One saved graph: what produced it, the prune slider, the graph, the image with influence and attention. */
function GraphPanel({ id }: { id: number }) {
  const report = useReportError();
  const [share, setShare] = useState<number | null>(null);
  const [asked, setAsked] = useState<number | undefined>(undefined);
  const [view, setView] = useState<CircuitView | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setShare(null);
    setAsked(undefined);
    setView(null);
  }, [id]);
  // Re-prune on the server a moment after the slider settles (the response is the pruned graph only).
  useEffect(() => {
    let cancelled = false;
    const t = setTimeout(() => {
      invoke('circuits.get', { id, ...(asked === undefined ? {} : { share: asked }) }).then(
        (v) => {
          if (cancelled) return;
          setView(v);
          setError(null);
          setShare((s) => s ?? v.share);
        },
        (e: unknown) => !cancelled && setError(describeError(e).sentence),
      );
    }, 150);
    return () => {
      cancelled = true;
      clearTimeout(t);
    };
  }, [id, asked]);
  if (error) return <Alert severity="error">{error}</Alert>;
  if (!view) return <LinearProgress aria-label="Loading the graph" />;
  const features = view.nodes.filter((n) => n.kind === 'feature').length;
  return (
    <Stack spacing={2} data-testid="circuit-view">
      <Stack spacing={0.5}>
        <Typography variant="h6" component="h3">
          {`Graph ${view.id}: '${view.target.text}'${view.target.contrast ? ` − '${view.target.contrast}'` : ''}`}
        </Typography>
        <Typography variant="body2">
          {`Prompt: ${view.prompt} · output ${view.outputValue.toFixed(3)} · p(target) ${view.target.probability.toFixed(3)} · transcoder set ${view.setId}`}
        </Typography>
        <Stack direction="row" spacing={1} alignItems="center" sx={{ flexWrap: 'wrap', rowGap: 0.5 }}>
          <Chip size="small" label={`method: ${view.method}`} data-testid="circuit-method" />
          <Typography variant="caption" sx={{ flex: 1, minWidth: 240 }}>
            {view.methodDetail}
          </Typography>
          <Button
            size="small"
            variant="outlined"
            onClick={() =>
              invoke('circuits.exportNeuronpedia', { id: view.id }).then((f) => download(f.filename, f.content, 'application/json'), report)
            }
          >
            Export JSON (Neuronpedia)
          </Button>
        </Stack>
      </Stack>
      <Stack direction="row" spacing={2} alignItems="center" sx={{ maxWidth: 640 }}>
        <Typography id="prune-label" variant="body2" sx={{ whiteSpace: 'nowrap' }}>
          Influence share kept
        </Typography>
        <Slider
          aria-labelledby="prune-label"
          min={0.05}
          max={view.savedShare}
          step={0.01}
          value={share ?? view.share}
          valueLabelDisplay="auto"
          valueLabelFormat={pct}
          getAriaValueText={pct}
          onChange={(_, v) => setShare(v as number)}
          onChangeCommitted={(_, v) => setAsked(v as number)}
          data-testid="prune-slider"
        />
        <Typography variant="body2" sx={{ whiteSpace: 'nowrap' }} data-testid="circuit-counts">
          {`${view.nodes.length} nodes (${features} features) · ${view.edges.length} edges`}
        </Typography>
      </Stack>
      <Typography variant="caption">
        {`Saved: ${view.saved.features} features carrying ${pct(view.savedShare)} of the influence, ${view.saved.edges} edges. Shown: features carrying ${pct(view.share)}, the saved edges between them, and the inputs and error nodes those edges reach. Click a feature to open its page.`}
      </Typography>
      <CircuitGraph view={view} />
      <CircuitAttention view={view} />
    </Stack>
  );
}

export function CircuitsPage({ info }: { info: AppInfo }) {
  const route = useRoute();
  const id = route.ids[0];
  const jobs = useJobs(info.workspace?.path ?? null);
  const { data: saved, error } = useChannel('circuits.list', {});
  const [started, setStarted] = useState<number | null>(null);
  const running = useMemo(() => jobs.find((j) => j.id === started) ?? null, [jobs, started]);
  useEffect(() => {
    if (running?.state === 'succeeded') {
      setStarted(null);
      navigate('circuits', [running.id]);
    }
  }, [running]);
  return (
    <Stack spacing={2}>
      <Typography variant="h5" component="h2">
        Circuits
      </Typography>
      <Typography variant="body2">
        Attribution graphs: from the image patches and text tokens through transcoder features to the answer, with the attention maps of the
        prompt.
      </Typography>
      {error && <Alert severity="error">{error}</Alert>}
      <TextField
        select
        size="small"
        label="Saved graph"
        value={id !== undefined && saved?.some((s) => s.id === id) ? id : ''}
        onChange={(e) => navigate('circuits', [Number(e.target.value)])}
        sx={{ maxWidth: 640 }}
        data-testid="saved-graphs"
      >
        {(saved ?? []).map((s) => (
          <MenuItem key={s.id} value={s.id}>
            {`#${s.id}: '${s.target}'${s.contrast ? ` − '${s.contrast}'` : ''} · ${s.prompt} (${s.nodes} nodes, ${s.method})`}
          </MenuItem>
        ))}
      </TextField>
      {saved && saved.length === 0 && <Typography variant="body2">No graphs saved yet.</Typography>}
      {!info.readOnly && <TraceForm jobs={jobs} onStarted={(j) => setStarted(j.id)} />}
      {running && ['queued', 'running'].includes(running.state) && (
        <Stack spacing={0.5} data-testid="trace-progress">
          <Typography variant="body2">{`Tracing (job ${running.id}): ${running.message ?? running.state}`}</Typography>
          <LinearProgress variant="determinate" value={running.progress * 100} aria-label="Trace progress" />
        </Stack>
      )}
      {running && ['failed', 'cancelled', 'interrupted'].includes(running.state) && (
        <Alert severity="error">{`Trace ${running.state}: ${running.error ?? ''}`}</Alert>
      )}
      {id !== undefined && <GraphPanel id={id} />}
    </Stack>
  );
}
