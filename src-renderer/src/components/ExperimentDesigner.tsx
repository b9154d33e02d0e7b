import type { RequestOf } from '@contract/contract';
import { Button, Checkbox, FormControlLabel, MenuItem, Stack, TextField, Typography } from '@mui/material';
import { useState } from 'react';
import { invoke } from '../api/client';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';

type SetMode = 'selective' | 'features' | 'search';
interface SetForm {
  name: string;
  mode: SetMode;
  value: string;
  top: string;
}
const TASKS = ['color', 'shape', 'count', 'spatial', 'size', 'arithmetic', 'exists'];
const numbers = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map(Number);

/** The experiment designer: model, SAE and analysis, items, feature sets, operation and sweep, where, controls. */
export function ExperimentDesigner({ readOnly, onStarted }: { readOnly: boolean; onStarted: (id: number) => void }) {
  const report = useReportError();
  const { data: models } = useChannel('models.list', {});
  const { data: analyses } = useChannel('analyses.list', {});
  const { data: datasets } = useChannel('datasets.list', {});
  const [form, setForm] = useState({
    name: 'ablation',
    modelId: '' as number | '',
    analysisId: '' as number | '',
    datasetId: '' as number | '',
    tasks: [] as string[],
    limit: '',
    op: 'zero',
    values: '0, 0.5, 2',
    where: 'all',
    randomSets: '2',
    randomDirections: true,
    union: true,
  });
  const [sets, setSets] = useState<SetForm[]>([
    { name: 'set A', mode: 'selective', value: 'shape', top: '20' },
    { name: 'set B', mode: 'selective', value: 'color', top: '20' },
  ]);
  const analysis = analyses?.find((a) => a.id === form.analysisId);
  const set = (k: keyof typeof form, v: unknown) => setForm({ ...form, [k]: v });
  const spec = (): RequestOf<'experiments.start'> => ({
    name: form.name,
    modelId: Number(form.modelId),
    saeId: analysis!.saeId,
    analysisId: analysis!.id,
    datasetId: Number(form.datasetId),
    tasks: form.tasks.length ? form.tasks : null,
    limit: form.limit ? Number(form.limit) : null,
    featureSets: sets
      .filter((s) => s.value.trim())
      .map((s) =>
        s.mode === 'selective'
          ? { name: s.name, selective: { task: s.value.trim(), top: Number(s.top) || 10, margin: 0, tokens: 'answer' as const } }
          : s.mode === 'features'
            ? { name: s.name, features: numbers(s.value) }
            : { name: s.name, search: s.value.trim() },
      ),
    operation:
      form.op === 'zero' || form.op === 'mean'
        ? { op: form.op }
        : { op: form.op as 'scale' | 'clamp' | 'add', values: numbers(form.values) },
    where: form.where as 'all',
    controls: { randomSets: Number(form.randomSets) || 0, randomDirections: form.randomDirections, union: form.union },
    seed: 0,
    resamples: 2000,
    maxNewTokens: 8,
    batchSize: 16,
    device: 'auto',
  });
  const ready = form.modelId !== '' && analysis && form.datasetId !== '' && sets.some((s) => s.value.trim());
  const run = () => invoke('experiments.start', spec()).then((r) => onStarted(r.experiment.id), report);
  const sel = (label: string, value: unknown, onChange: (v: string) => void, options: Array<[string | number, string]>, width = 200) => (
    <TextField select size="small" label={label} value={value} onChange={(e) => onChange(e.target.value)} sx={{ width }}>
      {options.map(([v, t]) => (
        <MenuItem key={String(v)} value={v}>
          {t}
        </MenuItem>
      ))}
    </TextField>
  );
  return (
    <Stack spacing={1.5} data-testid="experiment-designer">
      <Stack direction="row" spacing={1} flexWrap="wrap" useFlexGap>
        <TextField size="small" label="Name" value={form.name} onChange={(e) => set('name', e.target.value)} sx={{ width: 200 }} />
        {sel(
          'Model',
          form.modelId,
          (v) => set('modelId', Number(v)),
          (models ?? []).map((m) => [m.id, m.name]),
        )}
        {sel(
          'Analysis (SAE)',
          form.analysisId,
          (v) => set('analysisId', Number(v)),
          (analyses ?? []).filter((a) => a.summary).map((a) => [a.id, `#${a.id}: SAE ${a.saeId}`]),
        )}
        {sel(
          'Dataset',
          form.datasetId,
          (v) => set('datasetId', Number(v)),
          (datasets ?? []).map((d) => [d.id, d.name]),
        )}
        <TextField
          select
          size="small"
          label="Tasks"
          value={form.tasks}
          SelectProps={{ multiple: true }}
          onChange={(e) => set('tasks', e.target.value as unknown as string[])}
          sx={{ width: 200 }}
        >
          {TASKS.map((t) => (
            <MenuItem key={t} value={t}>
              {t}
            </MenuItem>
          ))}
        </TextField>
        <TextField size="small" label="Limit items" value={form.limit} onChange={(e) => set('limit', e.target.value)} sx={{ width: 110 }} />
      </Stack>
      {sets.map((s, i) => (
        <Stack key={i} direction="row" spacing={1} alignItems="center">
          <TextField
            size="small"
            label={`Feature set ${i + 1}`}
            value={s.name}
            onChange={(e) => setSets(sets.map((x, j) => (j === i ? { ...x, name: e.target.value } : x)))}
            sx={{ width: 160 }}
          />
          {sel(
            'Picked by',
            s.mode,
            (v) => setSets(sets.map((x, j) => (j === i ? { ...x, mode: v as SetMode } : x))),
            [
              ['selective', 'task selectivity'],
              ['features', 'feature ids'],
              ['search', 'label / tag search'],
            ],
            180,
          )}
          <TextField
            size="small"
            label={s.mode === 'selective' ? 'Task' : s.mode === 'features' ? 'Features (comma-separated)' : 'Label or tag'}
            value={s.value}
            onChange={(e) => setSets(sets.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)))}
            sx={{ width: 240 }}
          />
          {s.mode === 'selective' && (
            <TextField
              size="small"
              label="Top N"
              value={s.top}
              onChange={(e) => setSets(sets.map((x, j) => (j === i ? { ...x, top: e.target.value } : x)))}
              sx={{ width: 90 }}
            />
          )}
        </Stack>
      ))}
      <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap>
        {sel(
          'Operation',
          form.op,
          (v) => set('op', v),
          [
            ['zero', 'zero-ablate'],
            ['mean', 'mean-ablate'],
            ['scale', 'scale by α'],
            ['clamp', 'clamp to value'],
            ['add', 'add decoder direction × s'],
          ],
          210,
        )}
        {!['zero', 'mean'].includes(form.op) && (
          <TextField
            size="small"
            label="Sweep values"
            value={form.values}
            onChange={(e) => set('values', e.target.value)}
            sx={{ width: 160 }}
          />
        )}
        {sel(
          'Apply at',
          form.where,
          (v) => set('where', v),
          [
            ['all', 'all tokens'],
            ['image', 'image tokens'],
            ['text', 'text tokens'],
            ['generated', 'generated tokens'],
          ],
          170,
        )}
        <TextField
          size="small"
          label="Random sets"
          value={form.randomSets}
          onChange={(e) => set('randomSets', e.target.value)}
          sx={{ width: 110 }}
        />
        <FormControlLabel
          label="norm-matched random directions"
          control={<Checkbox checked={form.randomDirections} onChange={(e) => set('randomDirections', e.target.checked)} />}
        />
        <FormControlLabel
          label="union of sets 1 and 2"
          control={<Checkbox checked={form.union} onChange={(e) => set('union', e.target.checked)} />}
        />
      </Stack>
      <Stack direction="row" spacing={1} alignItems="center">
        <Button variant="contained" disabled={!ready || readOnly} onClick={run}>
          Run experiment
        </Button>
        <Typography variant="caption" color="text.secondary">
          Baseline and controls run on the same items; CIs by bootstrap over items, p-values by paired permutation (2,000 resamples, seed
          0).
        </Typography>
      </Stack>
    </Stack>
  );
}
