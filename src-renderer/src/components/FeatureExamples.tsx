import type { ActivationInterval, FeatureExample, FeatureExamplesResult } from '@contract/contract';
import { Alert, Box, Button, CircularProgress, Stack, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { describeError } from '../lib/errors';
import { ExampleGrid } from './ExampleCard';
import type { HeatMode } from './PatchView';

export type Modality = 'any' | 'image' | 'text';
interface ExamplesProps {
  analysisId: number;
  feature: number;
  modality: Modality;
  scale: number;
  mode: HeatMode;
  onShown: (activations: number[]) => void;
}
const PAGE = 12;

const sampled = (r: FeatureExamplesResult) =>
  r.scannedRows < r.totalRows
    ? ` (this harvest is large: computed on an even sample of ${r.scannedRows.toLocaleString()} of ${r.totalRows.toLocaleString()} tokens)`
    : '';

/** Top examples of one modality, a page at a time ("More"). */
export function TopExamples({ analysisId, feature, modality, scale, mode, onShown }: ExamplesProps) {
  const [pages, setPages] = useState<FeatureExamplesResult[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const more = (offset: number) => {
    setBusy(true);
    return invoke('features.examples', { analysisId, feature, modality, offset, limit: PAGE })
      .then(
        (r) => setPages((p) => (offset === 0 ? [r] : [...p, r])),
        (e: unknown) => setError(describeError(e).sentence),
      )
      .finally(() => setBusy(false));
  };
  useEffect(() => {
    setPages([]);
    setError(null);
    void more(0);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [analysisId, feature, modality]);
  const examples = pages.flatMap((p) => p.examples);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- report when the examples change
  useEffect(() => onShown(examples.map((e) => e.activation)), [pages]);
  if (error) return <Alert severity="error">{error}</Alert>;
  if (pages.length === 0) return <CircularProgress aria-label="Loading examples" size={24} />;
  const total = pages[0]!.total;
  return (
    <Stack spacing={1}>
      {total === 0 ? (
        <Typography color="text.secondary">
          This feature never fires on {modality === 'image' ? 'image patches' : 'text tokens'} here.
        </Typography>
      ) : (
        <ExampleGrid examples={examples} scale={scale} mode={mode} />
      )}
      <Stack direction="row" spacing={1} alignItems="center">
        <Typography variant="caption" color="text.secondary" data-testid="examples-shown">
          {examples.length} of {total.toLocaleString()} firing{' '}
          {modality === 'image' ? 'image patches' : modality === 'text' ? 'text tokens' : 'tokens'}, strongest first
          {sampled(pages[0]!)}
        </Typography>
        {examples.length < total && (
          <Button size="small" variant="outlined" disabled={busy} onClick={() => more(examples.length)}>
            More
          </Button>
        )}
      </Stack>
    </Stack>
  );
}

const intervalName = (i: ActivationInterval) => {
  const q = (x: number) => (x === 0 ? 'min' : x === 1 ? 'max' : `p${Math.round(x * 100)}`);
  return `${q(i.quantiles[0])}–${q(i.quantiles[1])}`;
};

/** One quantile interval: its range, how many tokens fall in it, a seeded sample, and "More". */
function IntervalRow(props: {
  analysisId: number;
  feature: number;
  modality: Modality;
  index: number;
  interval: ActivationInterval;
  scale: number;
  mode: HeatMode;
  onShown: (index: number, activations: number[]) => void;
}) {
  const { analysisId, feature, modality, index, interval, scale, mode, onShown } = props;
  const [examples, setExamples] = useState<FeatureExample[]>([]);
  const [busy, setBusy] = useState(false);
  const more = (offset: number) => {
    setBusy(true);
    return invoke('features.examples', { analysisId, feature, modality, interval: index, offset, limit: 4 })
      .then((r) => setExamples((ex) => (offset === 0 ? r.examples : [...ex, ...r.examples])))
      .catch(() => undefined)
      .finally(() => setBusy(false));
  };
  useEffect(() => {
    setExamples([]);
    if (interval.count > 0) void more(0);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [analysisId, feature, modality, index]);
  const activations = examples.map((e) => e.activation);
  useEffect(() => {
    onShown(index, activations);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- report when the examples change, not when the callback does
  }, [examples]);
  return (
    <Box component="section" aria-label={`Interval ${intervalName(interval)}`} data-testid="interval">
      <Stack direction="row" spacing={1} alignItems="baseline" sx={{ mb: 0.5 }}>
        <Typography variant="subtitle2" component="h4">
          {intervalName(interval)}
        </Typography>
        <Typography variant="caption" color="text.secondary">
          activation {interval.lo.toFixed(3)}–{interval.hi.toFixed(3)} · {interval.count.toLocaleString()} tokens · random sample
        </Typography>
        {examples.length < interval.count && examples.length > 0 && (
          <Button size="small" disabled={busy} onClick={() => more(examples.length)}>
            More from this interval
          </Button>
        )}
      </Stack>
      {interval.count > 0 ? (
        <ExampleGrid examples={examples} scale={scale} mode={mode} testId="interval-examples" />
      ) : (
        <Typography variant="caption" color="text.secondary">
          No tokens.
        </Typography>
      )}
    </Box>
  );
}

/** Samples from quantile intervals of the activations, strongest interval first (as Neuronpedia / SAEDashboard show). */
export function IntervalExamples(props: ExamplesProps) {
  const { analysisId, feature, modality, onShown } = props;
  const [intervals, setIntervals] = useState<FeatureExamplesResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState<Record<number, number[]>>({});
  useEffect(() => {
    setIntervals(null);
    setShown({});
    invoke('features.examples', { analysisId, feature, modality, limit: 1 }).then(setIntervals, (e: unknown) =>
      setError(describeError(e).sentence),
    );
  }, [analysisId, feature, modality]);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- report when the samples change
  useEffect(() => onShown(Object.values(shown).flat()), [shown]);
  if (error) return <Alert severity="error">{error}</Alert>;
  if (!intervals) return <CircularProgress aria-label="Loading intervals" size={24} />;
  if (intervals.intervals.length === 0) return <Typography color="text.secondary">No firing tokens of this kind.</Typography>;
  return (
    <Stack spacing={2} data-testid="intervals">
      <Typography variant="caption" color="text.secondary">
        Intervals between quantiles of the feature's non-zero activations{sampled(intervals)}.
      </Typography>
      {intervals.intervals.map((interval, i) => (
        <IntervalRow
          key={i}
          {...props}
          index={i}
          interval={interval}
          onShown={(index, acts) => setShown((s) => ({ ...s, [index]: acts }))}
        />
      ))}
    </Stack>
  );
}
