import type { ProbeInputResult, SteerInputResult } from '@contract/contract';
import {
  Alert,
  Box,
  Button,
  CircularProgress,
  Link,
  MenuItem,
  Slider,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useEffect, useRef, useState } from 'react';
import { invoke } from '../api/client';
import { ErrorDetails } from '../hooks/useErrorReporter';
import { describeError, type DescribedError } from '../lib/errors';
import { prefillExperiment } from '../lib/experiment-form';
import { usePersistentState } from '../lib/persist';
import { formatRoute, navigate } from '../lib/router';
import { TokenStrip } from './ExampleCard';
import { base64Of, ImageDrop, type InputImage } from './ImageDrop';
import { drawHeat, HeatLegend, HeatModeToggle, loadImage, type HeatMode } from './PatchView';

/** The image and prompt under test, shared by the feature pages and the Playground (kept for the session). */
function useInput() {
  const [image, setImage] = usePersistentState<InputImage | null>('input.image', null);
  const [prompt, setPrompt] = usePersistentState('input.prompt', 'What color is the shape?');
  return { image, setImage, prompt, setPrompt };
}

function InputFields({ input, onError }: { input: ReturnType<typeof useInput>; onError: (e: unknown) => void }) {
  return (
    <Stack direction={{ xs: 'column', md: 'row' }} spacing={1} alignItems="stretch">
      <Box sx={{ flex: '0 0 auto', minWidth: 220 }}>
        <ImageDrop image={input.image} onImage={input.setImage} onError={onError} />
      </Box>
      <TextField
        label="Prompt"
        value={input.prompt}
        onChange={(e) => input.setPrompt(e.target.value)}
        onKeyDown={(e) => e.stopPropagation()}
        multiline
        minRows={2}
        size="small"
        sx={{ flex: 1, minWidth: 0 }}
      />
    </Stack>
  );
}

/** The input image with a feature's activation on each patch (viridis; overlay or outline). */
function InputHeatmap({ image, result, scale, mode }: { image: InputImage; result: ProbeInputResult; scale: number; mode: HeatMode }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const grid = result.grid;
    if (!grid) return;
    const values = new Array<number>(grid.rows * grid.cols).fill(0);
    for (const t of result.tokens)
      if (t.modality === 'image' && t.patchRow !== null && t.patchCol !== null)
        values[t.patchRow * grid.cols + t.patchCol] = t.activation ?? 0;
    let cancelled = false;
    void loadImage(image.dataUrl).then((img) => {
      const c = canvas.current?.getContext('2d');
      if (!cancelled && c) drawHeat(c, img, { ...grid, values }, scale, mode, 224);
    });
    return () => {
      cancelled = true;
    };
  }, [image, result, scale, mode]);
  return (
    <canvas
      ref={canvas}
      width={224}
      height={224}
      role="img"
      aria-label="The feature on every patch of your image"
      data-testid="input-heatmap"
    />
  );
}

/**
 * Test your own input: the model runs with the SAE on an image and prompt; this feature's activation
 * on every patch and token, and the input's most active features.
 */
export function InputProbe({
  analysisId,
  feature,
  scale,
  onPickFeature,
}: {
  analysisId: number;
  feature: number | null;
  /** Colour scale maximum (the feature's maximum over the harvest, so colours compare with its examples). */
  scale: number | null;
  /** Playground: choosing a top feature shows it here instead of opening its page. */
  onPickFeature?: (feature: number) => void;
}) {
  const input = useInput();
  const [result, setResult] = useState<ProbeInputResult | null>(null);
  const [error, setError] = useState<DescribedError | null>(null);
  const [busy, setBusy] = useState(false);
  const [mode, setMode] = useState<HeatMode>('overlay');
  const run = () => {
    if (!input.image) return;
    setBusy(true);
    setError(null);
    invoke('inputs.probe', { analysisId, image: base64Of(input.image), prompt: input.prompt, feature })
      .then(setResult, (e: unknown) => setError(describeError(e)))
      .finally(() => setBusy(false));
  };
  // A new feature re-reads the same input (the run is fast and the tokens change).
  useEffect(() => {
    if (result) run();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [feature, analysisId]);
  const chosenMax = result ? Math.max(0, ...result.tokens.map((t) => t.activation ?? 0)) : 0;
  const colourMax = scale && scale > 0 ? scale : chosenMax;
  return (
    <Stack spacing={1.5} data-testid="input-probe">
      <InputFields input={input} onError={(e) => setError(describeError(e))} />
      <Stack direction="row" spacing={1} alignItems="center">
        <Button variant="contained" onClick={run} disabled={!input.image || !input.prompt.trim() || busy}>
          Run the model on this input
        </Button>
        {busy && <CircularProgress size={20} aria-label="Running the model" />}
        {result && (
          <Typography variant="caption" color="text.secondary">
            {result.tap} · {result.tokens.length} tokens · {result.seconds.toFixed(2)} s
          </Typography>
        )}
      </Stack>
      {error && (
        <Alert severity="error">
          <ErrorDetails error={error} />
        </Alert>
      )}
      {result && input.image && (
        <Stack direction={{ xs: 'column', lg: 'row' }} spacing={2} alignItems="flex-start">
          {feature !== null && (
            <Stack spacing={1} sx={{ flex: '1 1 0', minWidth: 0 }} data-testid="input-feature">
              <Typography variant="subtitle2" component="h4">
                Feature {feature} on your input: max {chosenMax.toFixed(3)}
              </Typography>
              {result.grid && (
                <Stack direction="row" spacing={1} alignItems="flex-start" flexWrap="wrap" useFlexGap>
                  <InputHeatmap image={input.image} result={result} scale={colourMax} mode={mode} />
                  <Stack spacing={1}>
                    <HeatModeToggle mode={mode} onMode={setMode} />
                    <HeatLegend max={colourMax} />
                  </Stack>
                </Stack>
              )}
              <TokenStrip
                tokens={result.tokens.filter((t) => t.modality === 'text').map((t) => ({ token: t.token, activation: t.activation ?? 0 }))}
                scale={colourMax}
              />
            </Stack>
          )}
          <Box sx={{ flex: '1 1 0', minWidth: 0 }}>
            <Typography variant="subtitle2" component="h4">
              Top features of this input
            </Typography>
            <Table size="small" aria-label="Top features of this input" data-testid="input-top-features">
              <TableHead>
                <TableRow>
                  <TableCell>Feature</TableCell>
                  <TableCell>Max</TableCell>
                  <TableCell>Image / text max</TableCell>
                  <TableCell>Tokens</TableCell>
                  <TableCell>Label</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {result.topFeatures.map((t) => (
                  <TableRow key={t.feature} selected={t.feature === feature}>
                    <TableCell>
                      {onPickFeature ? (
                        <Link component="button" onClick={() => onPickFeature(t.feature)}>
                          #{t.feature}
                        </Link>
                      ) : (
                        <Link href={formatRoute({ page: 'features', ids: [analysisId, t.feature] })}>#{t.feature}</Link>
                      )}
                    </TableCell>
                    <TableCell>{t.max.toFixed(2)}</TableCell>
                    <TableCell>
                      {t.imageMax.toFixed(2)} / {t.textMax.toFixed(2)}
                    </TableCell>
                    <TableCell>{t.firing}</TableCell>
                    <TableCell sx={{ wordBreak: 'break-word' }}>{t.label ?? '—'}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </Box>
        </Stack>
      )}
    </Stack>
  );
}

const RANGES = { scale: { min: 0, max: 10, step: 0.25, initial: 4 }, add: { min: -40, max: 40, step: 1, initial: 10 } } as const;

/**
 * Steer from here: generate the answer with this feature scaled (or its decoder direction added), next
 * to the unedited answer, through the same edited graph; save the setting as an experiment with
 * controls and statistics on a dataset.
 */
export function SteerPanel({
  analysisId,
  feature,
  modelId,
  datasetId,
}: {
  analysisId: number;
  feature: number;
  modelId: number | null;
  datasetId: number | null;
}) {
  const input = useInput();
  const [op, setOp] = usePersistentState<'scale' | 'add'>('steer.op', 'scale');
  const [value, setValue] = usePersistentState<number>('steer.value', RANGES.scale.initial);
  const [where, setWhere] = usePersistentState<'all' | 'image' | 'text'>('steer.where', 'all');
  const [result, setResult] = useState<SteerInputResult | null>(null);
  const [error, setError] = useState<DescribedError | null>(null);
  const [busy, setBusy] = useState(false);
  const range = RANGES[op];
  const run = () => {
    if (!input.image) return;
    setBusy(true);
    setError(null);
    invoke('inputs.steer', { analysisId, feature, image: base64Of(input.image), prompt: input.prompt, op, value, where })
      .then(setResult, (e: unknown) => setError(describeError(e)))
      .finally(() => setBusy(false));
  };
  const saveAsExperiment = () => {
    prefillExperiment({
      name: `steer feature ${feature} (${op} ${value})`,
      modelId: modelId ?? '',
      analysisId,
      datasetId: datasetId ?? '',
      op,
      values: op === 'scale' ? `0, 1, ${value}` : `${-value}, ${value}`,
      where,
      union: false,
      sets: [{ name: `feature ${feature}`, mode: 'features', value: String(feature), top: '20' }],
    });
    navigate('experiments');
  };
  return (
    <Stack spacing={1.5} data-testid="steer-panel">
      <InputFields input={input} onError={(e) => setError(describeError(e))} />
      <Stack direction="row" spacing={2} alignItems="center" flexWrap="wrap" useFlexGap>
        <TextField
          select
          size="small"
          label="Edit"
          value={op}
          onChange={(e) => {
            const next = e.target.value as 'scale' | 'add';
            setOp(next);
            setValue(RANGES[next].initial);
          }}
          sx={{ width: 230 }}
        >
          <MenuItem value="scale">scale the feature by α</MenuItem>
          <MenuItem value="add">add its decoder direction × s</MenuItem>
        </TextField>
        <Box sx={{ width: 220, px: 1 }}>
          <Typography variant="caption" id="steer-value-label">
            {op === 'scale' ? 'α' : 's'} = {value}
          </Typography>
          <Slider
            size="small"
            value={value}
            min={range.min}
            max={range.max}
            step={range.step}
            onChange={(_, v) => setValue(v as number)}
            aria-labelledby="steer-value-label"
            data-testid="steer-slider"
          />
        </Box>
        <TextField select size="small" label="At" value={where} onChange={(e) => setWhere(e.target.value as 'all')} sx={{ width: 150 }}>
          <MenuItem value="all">all tokens</MenuItem>
          <MenuItem value="image">image tokens</MenuItem>
          <MenuItem value="text">text tokens</MenuItem>
        </TextField>
        <Button variant="contained" onClick={run} disabled={!input.image || !input.prompt.trim() || busy}>
          Generate
        </Button>
        {busy && <CircularProgress size={20} aria-label="Generating" />}
      </Stack>
      {error && (
        <Alert severity="error">
          <ErrorDetails error={error} />
        </Alert>
      )}
      {result && (
        <Stack spacing={1}>
          <Box sx={{ display: 'grid', gridTemplateColumns: '1fr 1fr', gap: 1 }}>
            <Box sx={{ border: 1, borderColor: 'divider', borderRadius: 1, p: 1 }}>
              <Typography variant="caption" component="h4" sx={{ fontWeight: 600 }}>
                Baseline (no edit)
              </Typography>
              <Typography sx={{ fontFamily: 'monospace', wordBreak: 'break-word' }} data-testid="steer-baseline">
                {result.baseline || '∅'}
              </Typography>
            </Box>
            <Box sx={{ border: 1, borderColor: 'primary.main', borderRadius: 1, p: 1 }}>
              <Typography variant="caption" component="h4" sx={{ fontWeight: 600 }}>
                Feature {feature}: {op === 'scale' ? `× ${value}` : `+ ${value} × direction`}
              </Typography>
              <Typography sx={{ fontFamily: 'monospace', wordBreak: 'break-word' }} data-testid="steer-steered">
                {result.steered || '∅'}
              </Typography>
            </Box>
          </Box>
          <Stack direction="row" spacing={1} alignItems="center">
            <Typography variant="caption" color="text.secondary">
              Mean change of the tap at the edited prompt positions: {result.shiftNorm.toFixed(3)} (L2) · {result.seconds.toFixed(2)} s
            </Typography>
            <Button size="small" variant="outlined" onClick={saveAsExperiment} data-testid="steer-save">
              Save as experiment…
            </Button>
          </Stack>
        </Stack>
      )}
    </Stack>
  );
}
