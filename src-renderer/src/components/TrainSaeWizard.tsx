import type { Job, RequestOf, ResponseOf } from '@contract/contract';
import { SAE_TRAIN_DEFAULTS as TRAIN } from '@contract/sae-train-defaults';
import { Alert, Button, Checkbox, FormControlLabel, MenuItem, Stack, Step, StepLabel, Stepper, TextField, Typography } from '@mui/material';
import { useEffect, useMemo, useState } from 'react';
import { invoke } from '../api/client';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { describeError } from '../lib/errors';
import { formatDuration } from '../lib/eta';
import { countError, numberError, parseCount } from '../lib/validate';
import { Editable } from './Editable';

const STEPS = ['Model', 'Tap', 'Harvest', 'Architecture'];
type Arch = 'topk' | 'batchtopk' | 'relu';
const mb = (bytes: number) => (bytes > 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`);

/** Train SAE: model -> tap (or transcoder taps) -> harvest -> architecture and hyperparameters, with an estimate. */
export function TrainSaeWizard({ onStarted }: { onStarted: (job: Job) => void }) {
  const report = useReportError();
  const { data: models } = useChannel('models.list', {});
  const { data: harvests } = useChannel('harvests.list', {});
  const { data: datasets } = useChannel('datasets.list', {});
  const [step, setStep] = useState(0);
  const [modelId, setModelId] = useState<number | ''>('');
  const [tap, setTap] = useState('');
  const [transcoder, setTranscoder] = useState(false);
  const [outputTap, setOutputTap] = useState('');
  // 'h<id>': a harvest's shards; 'd<id>': run the model over a dataset, no shards kept (decoder taps only).
  const [source, setSource] = useState('');
  const [arch, setArch] = useState<Arch>('topk');
  const [normalize, setNormalize] = useState(true);
  const [form, setForm] = useState({
    expansion: String(TRAIN.expansion),
    k: String(TRAIN.k),
    l1: String(TRAIN.l1Coefficient),
    steps: String(TRAIN.steps),
    batch: String(TRAIN.batchSize),
    lr: String(TRAIN.lr),
  });
  const [estimate, setEstimate] = useState<ResponseOf<'saes.estimate'> | null>(null);
  const [estimateError, setEstimateError] = useState<string | null>(null);
  const model = models?.find((m) => m.id === modelId);
  const taps = useMemo(() => (model ? model.report.components.flatMap((c) => c.tower?.taps.map((t) => t.name) ?? []) : []), [model]);
  const usable = (harvests ?? []).filter((h) => model && h.modelPath === model.path && h.stats[tap] && (!transcoder || h.stats[outputTap]));
  const fromModel = tap.startsWith('vision.') ? [] : (datasets ?? []);
  const sourceOf = () =>
    source.startsWith('d')
      ? { fromModel: { modelId: Number(modelId), datasetId: Number(source.slice(1)) } }
      : { harvestId: Number(source.slice(1)) };
  // Each field checked as typed: the estimate and Train see only valid numbers.
  const checks: Record<keyof typeof form, string | null> = {
    expansion: countError(parseCount(form.expansion, 1, 64)),
    k: arch === 'relu' ? null : countError(parseCount(form.k, 1, 1_000_000)),
    l1: arch === 'relu' ? numberError(form.l1, 0, Infinity) : null,
    steps: countError(parseCount(form.steps, 1, 10_000_000)),
    batch: countError(parseCount(form.batch, 1, 65536)),
    lr: numberError(form.lr, Number.MIN_VALUE, 10),
  };
  const valid = Object.values(checks).every((c) => c === null);
  const request: RequestOf<'saes.train'> | null =
    source === '' || !valid
      ? null
      : {
          ...sourceOf(),
          tap,
          ...(transcoder ? { outputTap } : {}),
          architecture: arch,
          expansion: Number(form.expansion),
          k: Number(form.k),
          l1Coefficient: Number(form.l1),
          steps: Number(form.steps),
          batchSize: Number(form.batch),
          lr: Number(form.lr),
          normalizeActivations: normalize ? 'expected_average_only_in' : 'none',
        };
  const key = JSON.stringify(request);
  useEffect(() => {
    if (!request || step !== 3) return;
    invoke('saes.estimate', request).then(
      (e) => {
        setEstimate(e);
        setEstimateError(null);
      },
      (e: unknown) => {
        setEstimate(null);
        setEstimateError(describeError(e).sentence);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, step]);
  const canNext = [modelId !== '', tap !== '' && (!transcoder || outputTap !== ''), source !== '', false][step];
  const field = (name: keyof typeof form, label: string, help?: string, width = 140) => (
    <TextField
      size="small"
      label={label}
      value={form[name]}
      onChange={(e) => setForm({ ...form, [name]: e.target.value })}
      error={checks[name] !== null}
      helperText={checks[name] ?? help}
      sx={{ width }}
    />
  );
  const train = () => request && invoke('saes.train', request).then(onStarted, report);

  return (
    <Stack spacing={2} data-testid="train-sae-wizard">
      <Stepper activeStep={step}>
        {STEPS.map((s) => (
          <Step key={s}>
            <StepLabel>{s}</StepLabel>
          </Step>
        ))}
      </Stepper>
      {step === 0 && (
        <TextField
          select
          size="small"
          label="Model"
          value={modelId}
          onChange={(e) => {
            setModelId(Number(e.target.value));
            setTap('');
            setSource('');
          }}
          sx={{ width: 320 }}
        >
          {(models ?? []).map((m) => (
            <MenuItem key={m.id} value={m.id}>
              {m.name}
            </MenuItem>
          ))}
        </TextField>
      )}
      {step === 1 && (
        <Stack direction="row" spacing={2} alignItems="center" flexWrap="wrap" useFlexGap>
          <TextField
            select
            size="small"
            label={transcoder ? 'Input tap' : 'Tap'}
            value={tap}
            onChange={(e) => {
              setTap(e.target.value);
              setSource('');
            }}
            sx={{ width: 320 }}
          >
            {taps.map((t) => (
              <MenuItem key={t} value={t}>
                {t}
              </MenuItem>
            ))}
          </TextField>
          <FormControlLabel
            label="Transcoder (predict another tap)"
            control={<Checkbox checked={transcoder} onChange={(e) => setTranscoder(e.target.checked)} />}
          />
          {transcoder && (
            <TextField
              select
              size="small"
              label="Output tap"
              value={outputTap}
              onChange={(e) => {
                setOutputTap(e.target.value);
                setSource('');
              }}
              sx={{ width: 320 }}
            >
              {taps.map((t) => (
                <MenuItem key={t} value={t}>
                  {t}
                </MenuItem>
              ))}
            </TextField>
          )}
        </Stack>
      )}
      {step === 2 &&
        (usable.length + fromModel.length === 0 ? (
          <Alert severity="info">
            No harvest of this model holds {transcoder ? `${tap} and ${outputTap}` : tap}. Harvest it on the Activations page first.
          </Alert>
        ) : (
          <TextField
            select
            size="small"
            label="Harvest"
            value={source}
            onChange={(e) => setSource(e.target.value)}
            helperText="Or train from the model: it runs over a dataset as training reads it and no shards are kept (an epoch is one pass over the items)."
            sx={{ width: 520 }}
          >
            {usable.map((h) => (
              <MenuItem key={`h${h.id}`} value={`h${h.id}`}>
                #{h.id}: {h.items} items, {h.stats[tap]!.rows} rows of {tap}
              </MenuItem>
            ))}
            {fromModel.map((d) => (
              <MenuItem key={`d${d.id}`} value={`d${d.id}`}>
                From the model, no shards kept: {d.name} ({d.items} items)
              </MenuItem>
            ))}
          </TextField>
        ))}
      {step === 3 && (
        <Stack spacing={2}>
          <Stack direction="row" spacing={2} flexWrap="wrap" useFlexGap>
            <TextField
              select
              size="small"
              label="Architecture"
              value={arch}
              onChange={(e) => setArch(e.target.value as Arch)}
              sx={{ width: 200 }}
            >
              <MenuItem value="topk">TopK</MenuItem>
              <MenuItem value="batchtopk">BatchTopK</MenuItem>
              <MenuItem value="relu">ReLU + L1</MenuItem>
            </TextField>
            {field('expansion', 'Expansion', 'd_sae / d_in')}
            {arch === 'relu' ? field('l1', 'L1 coefficient') : field('k', 'k', 'active features per token')}
            {field('steps', 'Steps')}
            {field('batch', 'Batch', 'tokens per step')}
            {field('lr', 'Learning rate')}
            <FormControlLabel
              label="Normalise activations (mean squared norm d_in, folded into the saved weights)"
              control={<Checkbox checked={normalize} onChange={(e) => setNormalize(e.target.checked)} />}
            />
          </Stack>
          {estimateError && <Alert severity="error">{estimateError}</Alert>}
          {estimate && (
            <Alert severity="info" data-testid="train-estimate">
              d_in {estimate.dIn} → {estimate.dSae} features ({(estimate.parameters / 1e6).toFixed(2)}M parameters), about{' '}
              {mb(estimate.memoryBytes)} of memory, {(estimate.tokens / 1e6).toFixed(2)}M training tokens;{' '}
              {estimate.seconds === null
                ? 'time: shown once a run in this workspace has measured this machine (the run page shows a live ETA)'
                : `about ${formatDuration(estimate.seconds)} at the speed of the last run`}
              .
            </Alert>
          )}
          <Typography variant="caption" color="text.secondary">
            Adam with linear warmup and cosine decay, unit-norm decoder rows (TopK / BatchTopK), AuxK for dead features, b_dec at the
            geometric median. Normalised activations (SAELens expected_average_only_in) let one L1 coefficient and learning rate suit any
            layer.
          </Typography>
        </Stack>
      )}
      <Stack direction="row" spacing={1}>
        <Button disabled={step === 0} onClick={() => setStep(step - 1)}>
          Back
        </Button>
        {step < 3 ? (
          <Button variant="contained" disabled={!canNext} onClick={() => setStep(step + 1)}>
            Next
          </Button>
        ) : (
          <Editable>
            <Button variant="contained" disabled={!request || Boolean(estimateError)} onClick={train}>
              Train
            </Button>
          </Editable>
        )}
      </Stack>
    </Stack>
  );
}
