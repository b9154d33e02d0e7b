import type { ExperimentPlan, RequestOf } from '@contract/contract';
import { Alert, Button, Checkbox, FormControlLabel, IconButton, MenuItem, Stack, TextField, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { defaultExperimentForm, EXPERIMENT_FORM_KEY, type ExperimentForm, type SetForm, type SetMode } from '../lib/experiment-form';
import { usePersistentState } from '../lib/persist';
import { countError, parseCount, parseNumbers } from '../lib/validate';
import { Editable } from './Editable';

const OPS: Array<[ExperimentForm['op'], string]> = [
  ['zero', 'zero-ablate'],
  ['mean', 'mean-ablate'],
  ['scale', 'scale by α'],
  ['clamp', 'clamp to value'],
  ['add', 'add decoder direction × s'],
];

const err = (r: { value: number | null } | { error: string }) => countError(r) ?? undefined;

/**
 * The experiment designer: model, SAE (through its analysis) and dataset; tasks picked from the
 * dataset's own task types with a stratified item plan; feature sets; operation and sweep; where;
 * controls. Every number is checked as it is typed, the form survives navigation, and Run is enabled
 * only when the spec is valid.
 */
export function ExperimentDesigner({ onStarted }: { onStarted: (id: number) => void }) {
  const report = useReportError();
  const { data: models } = useChannel('models.list', {});
  const { data: analyses } = useChannel('analyses.list', {});
  const { data: datasets } = useChannel('datasets.list', {});
  const { data: harvests } = useChannel('harvests.list', {});
  const { data: saes } = useChannel('saes.list', {});
  const [form, setForm] = usePersistentState<ExperimentForm>(EXPERIMENT_FORM_KEY, defaultExperimentForm);
  const [plan, setPlan] = useState<ExperimentPlan | null>(null);
  const [allTasks, setAllTasks] = useState<ExperimentPlan['tasks']>([]);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof ExperimentForm>(k: K, v: ExperimentForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const setSet = (i: number, change: Partial<SetForm>) =>
    setForm((f) => ({ ...f, sets: f.sets.map((s, j) => (j === i ? { ...s, ...change } : s)) }));
  const analysis = analyses?.find((a) => a.id === form.analysisId);
  const sae = saes?.find((s) => s.id === analysis?.saeId);
  // A vision-tower SAE edits image patches: all of them, or where the set's features fire.
  const visionSae = Boolean(sae?.hookName?.startsWith('vision.'));

  const limit = parseCount(form.limit, 1, 1_000_000, true);
  const randomSets = parseCount(form.randomSets, 0, 10);
  const values = parseNumbers(form.values);
  const sweep = form.op !== 'zero' && form.op !== 'mean';
  const setErrors = form.sets.map((s) => {
    if (!s.value.trim()) return null;
    if (s.mode === 'selective') return err(parseCount(s.top, 1, 1024)) ? `Top N: ${err(parseCount(s.top, 1, 1024))}` : null;
    if (s.mode === 'features') {
      const f = parseNumbers(s.value, true);
      if ('bad' in f) return `“${f.bad}” is not a feature number`;
      const outside = sae ? f.values.find((v) => v < 0 || v >= sae.dSae) : undefined;
      return outside !== undefined ? `the SAE has features 0–${sae!.dSae - 1}; there is no ${outside}` : null;
    }
    return null;
  });

  // Choosing an analysis fills in its harvest's model and dataset (the usual pairing; both can be changed).
  useEffect(() => {
    if (!analysis || !harvests || !models) return;
    const h = harvests.find((x) => x.id === analysis.harvestId);
    const m = models.find((x) => x.path === h?.modelPath);
    setForm((f) => ({
      ...f,
      modelId: f.modelId === '' && m ? m.id : f.modelId,
      datasetId: f.datasetId === '' && h ? h.datasetId : f.datasetId,
    }));
  }, [analysis, harvests, models, setForm]);
  // The dataset's task types (for the pickers), and the plan of what would run.
  useEffect(() => {
    if (form.datasetId === '') return setAllTasks([]);
    invoke('experiments.plan', { datasetId: form.datasetId }).then(
      (p) => setAllTasks(p.tasks),
      () => setAllTasks([]),
    );
  }, [form.datasetId]);
  const limitValue = 'value' in limit ? limit.value : null;
  useEffect(() => {
    if (form.datasetId === '' || 'error' in limit) return setPlan(null);
    invoke('experiments.plan', { datasetId: form.datasetId, tasks: form.tasks.length ? form.tasks : null, limit: limitValue }).then(
      setPlan,
      () => setPlan(null),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [form.datasetId, JSON.stringify(form.tasks), limitValue]);

  const starved = plan?.tasks.filter((t) => t.requested && t.selected === 0) ?? [];
  const usedSets = form.sets.filter((s) => s.value.trim());
  const problems = [
    form.modelId === '' && 'choose a model',
    !analysis && 'choose an analysis',
    form.datasetId === '' && 'choose a dataset',
    !form.name.trim() && 'name the experiment',
    usedSets.length === 0 && 'define at least one feature set',
    'error' in limit && `item limit: ${limit.error}`,
    'error' in randomSets && `random sets: ${randomSets.error}`,
    sweep &&
      ('bad' in values ? `sweep values: “${values.bad}” is not a number` : values.values.length === 0 && 'give at least one sweep value'),
    ...setErrors.filter(Boolean),
    plan && plan.total === 0 && 'no items would run',
  ].filter(Boolean) as string[];

  const spec = (): RequestOf<'experiments.start'> => ({
    name: form.name.trim(),
    modelId: Number(form.modelId),
    saeId: analysis!.saeId,
    analysisId: analysis!.id,
    datasetId: Number(form.datasetId),
    tasks: form.tasks.length ? form.tasks : null,
    limit: limitValue,
    featureSets: usedSets.map((s) =>
      s.mode === 'selective'
        ? {
            name: s.name,
            // A vision SAE sees image patches only: its task means are over those.
            selective: {
              task: s.value.trim(),
              top: Number(s.top),
              margin: 0,
              tokens: visionSae ? ('image' as const) : ('answer' as const),
            },
          }
        : s.mode === 'features'
          ? { name: s.name, features: (parseNumbers(s.value, true) as { values: number[] }).values }
          : { name: s.name, search: s.value.trim() },
    ),
    operation: sweep
      ? { op: form.op as 'scale' | 'clamp' | 'add', values: (values as { values: number[] }).values }
      : { op: form.op as 'zero' | 'mean' },
    where: visionSae ? 'image' : form.where,
    patches: visionSae ? (form.patches ?? 'all') : 'all',
    controls: { randomSets: Number(form.randomSets), randomDirections: form.randomDirections, union: form.union && usedSets.length >= 2 },
  });
  const run = () => {
    setBusy(true);
    invoke('experiments.start', spec())
      .then((r) => onStarted(r.experiment.id), report)
      .finally(() => setBusy(false));
  };
  const select = (label: string, value: unknown, onChange: (v: string) => void, options: Array<[string | number, string]>, width = 200) => (
    <TextField select size="small" label={label} value={value} onChange={(e) => onChange(e.target.value)} sx={{ width }}>
      {options.map(([v, t]) => (
        <MenuItem key={String(v)} value={v}>
          {t}
        </MenuItem>
      ))}
    </TextField>
  );
  const taskOptions: Array<[string, string]> = allTasks.map((t) => [t.task, `${t.task} (${t.available})`]);

  return (
    <Stack spacing={1.5} data-testid="experiment-designer">
      <Stack direction="row" spacing={1} flexWrap="wrap" useFlexGap>
        <TextField size="small" label="Name" value={form.name} onChange={(e) => set('name', e.target.value)} sx={{ width: 220 }} />
        {select(
          'Analysis (SAE)',
          form.analysisId,
          (v) => set('analysisId', Number(v)),
          (analyses ?? []).filter((a) => a.summary).map((a) => [a.id, `#${a.id}: SAE ${a.saeId}`]),
        )}
        {select(
          'Model',
          form.modelId,
          (v) => set('modelId', Number(v)),
          (models ?? []).map((m) => [m.id, m.name]),
        )}
        {select(
          'Dataset',
          form.datasetId,
          (v) => setForm((f) => ({ ...f, datasetId: Number(v), tasks: [] })),
          (datasets ?? []).map((d) => [d.id, d.name]),
          240,
        )}
        <TextField
          select
          size="small"
          label="Tasks"
          value={form.tasks}
          SelectProps={{ multiple: true, renderValue: (v) => ((v as string[]).length ? (v as string[]).join(', ') : 'all tasks') }}
          InputLabelProps={{ shrink: true }}
          onChange={(e) => set('tasks', e.target.value as unknown as string[])}
          sx={{ width: 220 }}
          disabled={allTasks.length === 0}
        >
          {taskOptions.map(([v, t]) => (
            <MenuItem key={v} value={v}>
              {t}
            </MenuItem>
          ))}
        </TextField>
        <TextField
          size="small"
          label="Item limit"
          placeholder="all"
          value={form.limit}
          onChange={(e) => set('limit', e.target.value)}
          error={'error' in limit}
          helperText={err(limit)}
          sx={{ width: 120 }}
          inputProps={{ inputMode: 'numeric' }}
        />
      </Stack>
      {plan && (
        <Typography variant="body2" color="text.secondary" data-testid="experiment-plan">
          Runs {plan.total} items
          {plan.tasks.some((t) => t.selected > 0)
            ? `: ${plan.tasks
                .filter((t) => t.selected > 0)
                .map((t) => `${t.task} ${t.selected}`)
                .join(', ')}`
            : ''}
          {form.limit ? ' (the limit is shared out evenly across tasks)' : ''}.
        </Typography>
      )}
      {starved.length > 0 && (
        <Alert severity="warning" data-testid="experiment-plan-warning">
          {starved.map((t) => t.task).join(', ')} would get no items{' '}
          {starved.some((t) => t.available === 0)
            ? '(this dataset has none of that task)'
            : `with a limit of ${form.limit}: raise the limit to at least ${form.tasks.length}`}
          .
        </Alert>
      )}
      {form.sets.map((s, i) => (
        <Stack key={i} direction="row" spacing={1} alignItems="flex-start" flexWrap="wrap" useFlexGap data-testid={`feature-set-${i}`}>
          <TextField
            size="small"
            label={`Feature set ${i + 1} name`}
            value={s.name}
            onChange={(e) => setSet(i, { name: e.target.value })}
            sx={{ width: 190 }}
          />
          {select(
            'Picked by',
            s.mode,
            (v) => setSet(i, { mode: v as SetMode, value: '' }),
            [
              ['selective', 'task selectivity'],
              ['features', 'feature numbers'],
              ['search', 'label / tag search'],
            ],
            180,
          )}
          {s.mode === 'selective' ? (
            select(`Task selective for (set ${i + 1})`, s.value, (v) => setSet(i, { value: v }), taskOptions, 250)
          ) : (
            <TextField
              size="small"
              label={s.mode === 'features' ? 'Features, comma-separated' : 'Label or tag'}
              value={s.value}
              onChange={(e) => setSet(i, { value: e.target.value })}
              error={Boolean(setErrors[i])}
              helperText={setErrors[i] ?? undefined}
              sx={{ width: 230 }}
            />
          )}
          {s.mode === 'selective' && (
            <TextField
              size="small"
              label="Top N"
              value={s.top}
              onChange={(e) => setSet(i, { top: e.target.value })}
              error={Boolean(setErrors[i])}
              helperText={setErrors[i] ? err(parseCount(s.top, 1, 1024)) : undefined}
              sx={{ width: 90 }}
            />
          )}
          {form.sets.length > 1 && (
            <IconButton
              aria-label={`Remove feature set ${i + 1}`}
              onClick={() => setForm((f) => ({ ...f, sets: f.sets.filter((_, j) => j !== i) }))}
            >
              ×
            </IconButton>
          )}
        </Stack>
      ))}
      {form.sets.length < 4 && (
        <Stack direction="row">
          <Button
            size="small"
            onClick={() =>
              setForm((f) => ({
                ...f,
                sets: [...f.sets, { name: `set ${String.fromCharCode(65 + f.sets.length)}`, mode: 'selective', value: '', top: '20' }],
              }))
            }
          >
            Add a feature set
          </Button>
        </Stack>
      )}
      <Stack direction="row" spacing={1} alignItems="flex-start" flexWrap="wrap" useFlexGap>
        {select('Operation', form.op, (v) => set('op', v as ExperimentForm['op']), OPS, 220)}
        {sweep && (
          <TextField
            size="small"
            label="Sweep values"
            value={form.values}
            onChange={(e) => set('values', e.target.value)}
            error={'bad' in values}
            helperText={'bad' in values ? `“${values.bad}” is not a number` : 'comma-separated'}
            sx={{ width: 170 }}
          />
        )}
        {visionSae
          ? select(
              'Patches (vision tower)',
              form.patches ?? 'all',
              (v) => set('patches', v as 'all' | 'firing'),
              [
                ['all', 'every image patch'],
                ['firing', "where the set's features fire"],
              ],
              250,
            )
          : select(
              'Apply at',
              form.where,
              (v) => set('where', v as ExperimentForm['where']),
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
          error={'error' in randomSets}
          helperText={err(randomSets) ?? 'same size, same operation'}
          sx={{ width: 150 }}
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
      <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap>
        <Editable>
          <Button variant="contained" disabled={problems.length > 0 || busy} onClick={run}>
            Run experiment
          </Button>
        </Editable>
        <Typography variant="caption" color={problems.length ? 'error' : 'text.secondary'} data-testid="experiment-problems">
          {problems.length
            ? `To run: ${problems.join('; ')}.`
            : 'Baseline and controls run on the same items; accuracy CIs by Wilson score, the change against the baseline by Newcombe, p-values by paired permutation (2,000 resamples, seed 0) with Holm and BH adjustments.'}
        </Typography>
      </Stack>
    </Stack>
  );
}
