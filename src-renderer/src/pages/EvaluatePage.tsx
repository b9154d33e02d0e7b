import type { AppInfo, EvalSummary } from '@contract/contract';
import {
  Alert,
  Box,
  Button,
  Card,
  CardContent,
  Chip,
  FormControlLabel,
  MenuItem,
  Stack,
  Switch,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { AccuracyChart } from '../components/AccuracyChart';
import { Editable } from '../components/Editable';
import { NumberField, useNumberInput } from '../components/NumberField';
import { ScrollTable } from '../components/ScrollTable';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { download } from '../lib/download';
import { navigate, useRoute } from '../lib/router';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function EvaluatePage(_props: { info: AppInfo }) {
  const route = useRoute();
  const { data: evals } = useChannel('evals.list', {});
  // #/evaluate/<id>: that evaluation; without one, the newest (written into the URL).
  const current = route.ids[0] ?? null;
  useEffect(() => {
    if (current === null && evals?.[0]) navigate('evaluate', [evals[0].id], { replace: true });
  }, [current, evals]);
  return (
    <Stack spacing={2}>
      <Typography variant="h5" component="h2">
        Evaluate
      </Typography>
      <Datasets />
      <NewEvaluation onStarted={(id) => navigate('evaluate', [id])} />
      {evals && evals.length > 0 && (
        <TextField
          select
          size="small"
          label="Evaluation"
          value={current ?? ''}
          onChange={(e) => navigate('evaluate', [Number(e.target.value)])}
          sx={{ maxWidth: 640 }}
        >
          {evals.map((e) => (
            <MenuItem key={e.id} value={e.id}>
              #{e.id} · {e.modelPath.split(/[\\/]/).pop()} on {e.datasetName} · {e.predictions} graded
              {e.accuracy === null ? '' : ` · ${pct(e.accuracy)}`}
            </MenuItem>
          ))}
        </TextField>
      )}
      {current !== null && <EvalResults id={current} />}
    </Stack>
  );
}

function Datasets() {
  const report = useReportError();
  const { data: datasets } = useChannel('datasets.list', {});
  const seed = useNumberInput('0', { whole: true, min: 0, max: 2 ** 31 - 1 });
  const perCell = useNumberInput('20', { whole: true, min: 1, max: 5000 });
  const [importPath, setImportPath] = useState('');
  const run = (p: Promise<unknown>) => p.catch(report);
  return (
    <Card variant="outlined">
      <CardContent>
        <Typography variant="subtitle1">Datasets</Typography>
        {datasets && datasets.length > 0 ? (
          <ScrollTable label="Datasets">
            <Table size="small" aria-label="Datasets">
              <TableBody>
                {datasets.map((d) => (
                  <TableRow key={d.id}>
                    <TableCell>{d.name}</TableCell>
                    <TableCell>{d.items} items</TableCell>
                    <TableCell>
                      <Chip size="small" label={d.source} />
                    </TableCell>
                    <TableCell sx={{ fontFamily: 'monospace', fontSize: 12, wordBreak: 'break-all' }}>{d.path}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </ScrollTable>
        ) : (
          <Typography color="text.secondary">
            No datasets yet: generate the built-in benchmark or import a folder of images with a JSONL/CSV of questions and answers.
          </Typography>
        )}
        <Stack direction="row" spacing={2} sx={{ mt: 2 }} alignItems="center">
          <NumberField input={seed} label="Seed" width={110} />
          <NumberField input={perCell} label="Items per task & difficulty" width={210} />
          <Editable>
            <Button
              variant="outlined"
              disabled={seed.value === null || perCell.value === null}
              onClick={() => run(invoke('datasets.synth', { seed: seed.value!, perCell: perCell.value! }))}
            >
              Generate benchmark
            </Button>
          </Editable>
        </Stack>
        <Stack direction="row" spacing={2} sx={{ mt: 2 }} alignItems="center">
          <TextField
            size="small"
            label="Dataset folder to import"
            value={importPath}
            onChange={(e) => setImportPath(e.target.value)}
            sx={{ flexGrow: 1, minWidth: 0 }}
          />
          <Editable>
            <Button
              variant="outlined"
              disabled={!importPath}
              onClick={() => run(invoke('datasets.import', { path: importPath }).then(() => setImportPath('')))}
            >
              Import
            </Button>
          </Editable>
        </Stack>
      </CardContent>
    </Card>
  );
}

function NewEvaluation({ onStarted }: { onStarted: (id: number) => void }) {
  const report = useReportError();
  const { data: models } = useChannel('models.list', {});
  const { data: datasets } = useChannel('datasets.list', {});
  const [modelId, setModelId] = useState<number | ''>('');
  const [datasetId, setDatasetId] = useState<number | ''>('');
  const maxNewTokens = useNumberInput('32', { whole: true, min: 1, max: 8192 });
  const [template, setTemplate] = useState('{question}');
  const templateCheck = template.includes('{question}') ? null : 'must contain {question}';
  const start = async () => {
    try {
      const r = await invoke('evals.start', {
        modelId: Number(modelId),
        datasetId: Number(datasetId),
        maxNewTokens: maxNewTokens.value!,
        promptTemplate: template,
      });
      onStarted(r.eval.id);
    } catch (err) {
      report(err);
    }
  };
  return (
    <Card variant="outlined">
      <CardContent>
        <Typography variant="subtitle1" sx={{ mb: 1 }}>
          New evaluation
        </Typography>
        <Stack direction="row" spacing={2} alignItems="center" flexWrap="wrap" useFlexGap>
          <TextField
            select
            size="small"
            label="Model"
            value={modelId}
            onChange={(e) => setModelId(Number(e.target.value))}
            sx={{ width: 240 }}
          >
            {(models ?? []).map((m) => (
              <MenuItem key={m.id} value={m.id}>
                {m.name}
              </MenuItem>
            ))}
          </TextField>
          <TextField
            select
            size="small"
            label="Dataset"
            value={datasetId}
            onChange={(e) => setDatasetId(Number(e.target.value))}
            sx={{ width: 240 }}
          >
            {(datasets ?? []).map((d) => (
              <MenuItem key={d.id} value={d.id}>
                {d.name}
              </MenuItem>
            ))}
          </TextField>
          <NumberField input={maxNewTokens} label="Max new tokens" width={150} />
          <TextField
            size="small"
            label="Prompt template"
            value={template}
            onChange={(e) => setTemplate(e.target.value)}
            error={templateCheck !== null}
            helperText={templateCheck}
            sx={{ width: 280 }}
          />
          <Editable>
            <Button
              variant="contained"
              disabled={modelId === '' || datasetId === '' || maxNewTokens.error !== null || templateCheck !== null}
              onClick={start}
            >
              Evaluate
            </Button>
          </Editable>
        </Stack>
      </CardContent>
    </Card>
  );
}

function EvalResults({ id }: { id: number }) {
  const report = useReportError();
  const { data: summary } = useChannel('evals.get', { id });
  const [onlyWrong, setOnlyWrong] = useState(false);
  const [page, setPage] = useState(0);
  const { data: predictions } = useChannel('evals.predictions', { id, offset: page * 25, limit: 25, onlyWrong });
  if (!summary) return null;
  const exportAs = (format: 'csv' | 'json') =>
    invoke('evals.export', { id, format }).then(
      (r) => download(r.filename, r.content, format === 'csv' ? 'text/csv' : 'application/json'),
      report,
    );
  return (
    <Stack spacing={2} data-testid="eval-results">
      {summary.hitLimitShare > 0.05 && (
        <Alert severity="warning" data-testid="token-limit-warning">
          {pct(summary.hitLimitShare)} of outputs hit the token limit of {summary.eval.params.maxNewTokens}. Truncated answers are graded as
          given: raise the limit before trusting these numbers.
        </Alert>
      )}
      <Stack direction="row" spacing={2} alignItems="center">
        <Typography variant="h6" sx={{ flexGrow: 1 }} data-testid="overall-accuracy">
          {pct(summary.overall.accuracy)} overall ({summary.overall.correct}/{summary.overall.n}), 95% CI {pct(summary.overall.ci95[0])}–
          {pct(summary.overall.ci95[1])}
        </Typography>
        <Button size="small" onClick={() => exportAs('csv')}>
          Export CSV
        </Button>
        <Button size="small" onClick={() => exportAs('json')}>
          Export JSON
        </Button>
      </Stack>
      <AccuracyChart groups={summary.byTask} />
      <GroupTable title="By difficulty" groups={summary.byDifficulty} />
      <GroupTable title="By answer type" groups={summary.byAnswerType} />
      <GroupTable title="By task and difficulty" groups={summary.byTaskAndDifficulty} />
      <Typography variant="caption" color="text.secondary">
        Confidence intervals: {summary.intervals.level * 100}%{' '}
        {summary.intervals.method === 'wilson' ? 'Wilson score' : summary.intervals.method} intervals (not collapsed at 0% or 100%).{' '}
        {summary.extractionFailures} outputs had no extractable answer.
      </Typography>
      <Stack direction="row" alignItems="center" spacing={2}>
        <Typography variant="subtitle1" sx={{ flexGrow: 1 }}>
          Predictions
        </Typography>
        <FormControlLabel
          control={
            <Switch
              checked={onlyWrong}
              onChange={(e) => {
                setOnlyWrong(e.target.checked);
                setPage(0);
              }}
            />
          }
          label="Only wrong"
        />
        <Button size="small" disabled={page === 0} onClick={() => setPage(page - 1)}>
          Previous
        </Button>
        <Button size="small" disabled={(predictions?.length ?? 0) < 25} onClick={() => setPage(page + 1)}>
          Next
        </Button>
      </Stack>
      <ScrollTable label="Predictions">
        <Table size="small" aria-label="Predictions">
          <TableHead>
            <TableRow>
              <TableCell>Item</TableCell>
              <TableCell>Question</TableCell>
              <TableCell>Expected</TableCell>
              <TableCell>Raw output</TableCell>
              <TableCell>Extracted</TableCell>
              <TableCell>Grade</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {(predictions ?? []).map((p) => (
              <TableRow key={p.item.id}>
                <TableCell>{p.item.key}</TableCell>
                <TableCell>{p.item.question}</TableCell>
                <TableCell>{String(p.item.answer.value)}</TableCell>
                <TableCell sx={{ fontFamily: 'monospace', fontSize: 12, maxWidth: 360, wordBreak: 'break-word' }}>
                  {p.raw}
                  {p.hitLimit && <Chip size="small" label="token limit" color="warning" sx={{ ml: 1 }} />}
                </TableCell>
                <TableCell>
                  {p.extracted === null ? '—' : String(p.extracted)}{' '}
                  <Typography variant="caption" color="text.secondary">
                    ({p.method})
                  </Typography>
                </TableCell>
                <TableCell>
                  <Chip size="small" label={p.correct ? 'correct' : 'wrong'} color={p.correct ? 'success' : 'default'} />
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </ScrollTable>
    </Stack>
  );
}

function GroupTable({ title, groups }: { title: string; groups: EvalSummary['byTask'] }) {
  return (
    <Box>
      <Typography variant="subtitle2">{title}</Typography>
      <Table size="small" aria-label={title}>
        <TableBody>
          {groups.map((g) => (
            <TableRow key={g.key}>
              <TableCell sx={{ width: 200 }}>{g.key}</TableCell>
              <TableCell sx={{ width: 80 }}>{g.n}</TableCell>
              <TableCell sx={{ width: 90 }}>{pct(g.accuracy)}</TableCell>
              <TableCell>
                [{pct(g.ci95[0])}, {pct(g.ci95[1])}]
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Box>
  );
}
