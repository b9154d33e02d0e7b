import type { AppInfo, Explanation } from '@contract/contract';
import { Button, MenuItem, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography } from '@mui/material';
import { useState } from 'react';
import { invoke } from '../../api/client';
import { useChannel } from '../../hooks/useChannel';
import { useReportError } from '../../hooks/useErrorReporter';
import { useJobs } from '../../hooks/useJobs';
import { getAnnotator } from '../../lib/annotator';
import { AnalysisSelect } from '../AnalysisSelect';
import { Editable } from '../Editable';
import { NumberField, useNumberInput } from '../NumberField';
import { ScrollTable } from '../ScrollTable';
import { JobAlerts } from './JobAlerts';

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/** Auto-interpretation: explain an analysis's features, see the suggestions with scores and provenance, decide them into labels. */
export function ExplainPanel({ info }: { info: AppInfo }) {
  const analyses = useChannel('analyses.list', {}).data ?? [];
  const endpoint = useChannel('autointerp.endpoint', {}).data ?? null;
  const jobs = useJobs(info.workspace?.path ?? null);
  const report = useReportError();
  const [analysisId, setAnalysis] = useState<number | null>(null);
  const current = analyses.find((a) => a.id === analysisId) ?? analyses[0] ?? null;
  const [explainer, setExplainer] = useState<'ground-truth' | 'llm'>('ground-truth');
  const top = useNumberInput('10', { whole: true, min: 1, max: 4096 });
  const list = useChannel('explanations.list', current ? { saeId: current.saeId } : null);
  const running = jobs.find((j) => j.kind === 'explain' && (j.state === 'running' || j.state === 'queued'));
  const failed = jobs.find((j) => j.kind === 'explain' && j.state === 'failed');
  const start = () =>
    current &&
    invoke('explanations.start', {
      analysisId: current.id,
      explainer,
      scorer: explainer === 'llm' ? 'endpoint' : 'predicate',
      top: top.value ?? 10,
    }).catch(report);
  return (
    <Stack spacing={2} data-testid="explain-panel">
      <Typography variant="body2" color="text.secondary">
        Explanations are suggestions: from the benchmark&apos;s scene ground truth, or from the chat endpoint set in Settings (
        {endpoint ? `${endpoint.model} at ${endpoint.url}` : 'none set'}). Each is scored on held-out examples by detection (Delphi) and
        simulation correlation (OpenAI); accept or edit one to make it the feature&apos;s label.
      </Typography>
      <Stack direction="row" spacing={2} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'flex-start' }}>
        <AnalysisSelect analyses={analyses} value={current?.id ?? null} onChange={setAnalysis} />
        <TextField
          select
          size="small"
          label="Explainer"
          value={explainer}
          onChange={(e) => setExplainer(e.target.value as 'ground-truth' | 'llm')}
          sx={{ width: 220 }}
        >
          <MenuItem value="ground-truth">scene ground truth</MenuItem>
          <MenuItem value="llm" disabled={!endpoint}>
            chat endpoint{endpoint ? '' : ' (set one in Settings)'}
          </MenuItem>
        </TextField>
        <NumberField input={top} label="Most active features" hint=" " width={170} />
        <Editable>
          <Button variant="contained" onClick={start} disabled={!current || top.error !== null || Boolean(running)}>
            Explain features
          </Button>
        </Editable>
      </Stack>
      <JobAlerts running={running} failed={failed} doing="Explaining" noun="Explain" />
      {list.data && list.data.length > 0 && (
        <ScrollTable label="Explanation suggestions">
          <Table size="small" aria-label="Explanation suggestions">
            <TableHead>
              <TableRow>
                <TableCell>Feature</TableCell>
                <TableCell>Explanation</TableCell>
                <TableCell>Detection [95% CI]</TableCell>
                <TableCell>Simulation r</TableCell>
                <TableCell>Decision</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {list.data.map((e) => (
                <SuggestionRow key={e.id} e={e} onDone={list.reload} />
              ))}
            </TableBody>
          </Table>
        </ScrollTable>
      )}
      {list.data && list.data.length === 0 && <Typography variant="body2">No suggestions for this SAE yet.</Typography>}
    </Stack>
  );
}

function provenance(e: Explanation): string {
  const p = e.provenance;
  const ep = p.endpoint as { url: string; model: string } | null | undefined;
  const parts = [e.explainer === 'llm' ? 'chat endpoint' : 'ground truth'];
  if (ep) parts.push(`${ep.model} at ${ep.url}`);
  if (p.promptVersion !== undefined) parts.push(`prompt ${String(p.promptVersion)}`);
  if (p.seed !== undefined) parts.push(`seed ${String(p.seed)}`);
  if (e.scores) parts.push(`scored by ${e.scores.scorer}`);
  if (e.confidence !== null) parts.push(`confidence ${pct(e.confidence)}`);
  return parts.join(' · ');
}

function SuggestionRow({ e, onDone }: { e: Explanation; onDone: () => void }) {
  const report = useReportError();
  const [text, setText] = useState<string | null>(null);
  const d = e.scores?.detection;
  const decide = (action: 'accept' | 'edit' | 'reject') => {
    const annotator = getAnnotator();
    if (!annotator) return report(new Error('Set your annotator name in Settings first: every decision records who made it.'));
    invoke('explanations.decide', { id: e.id, action, annotator, ...(action === 'edit' ? { text: text ?? e.explanation } : {}) }).then(
      () => {
        setText(null);
        onDone();
      },
      report,
    );
  };
  return (
    <TableRow data-testid={`suggestion-${e.feature}`}>
      <TableCell>#{e.feature}</TableCell>
      <TableCell sx={{ minWidth: 200 }}>
        {text === null ? (
          <>
            {e.explanation}
            <Typography variant="caption" component="div" color="text.secondary">
              {provenance(e)}
            </Typography>
          </>
        ) : (
          <TextField
            size="small"
            fullWidth
            label={`Edit explanation of #${e.feature}`}
            value={text}
            onChange={(ev) => setText(ev.target.value)}
            error={text.trim() === ''}
          />
        )}
      </TableCell>
      <TableCell>{d ? `${pct(d.accuracy)} [${pct(d.accuracyCi95[0])}, ${pct(d.accuracyCi95[1])}] (n ${d.n})` : '—'}</TableCell>
      <TableCell>{e.scores?.simulation.r == null ? '—' : e.scores.simulation.r.toFixed(2)}</TableCell>
      <TableCell>
        {e.status !== 'suggested' ? (
          `${e.status} by ${e.decidedBy ?? '?'}`
        ) : text === null ? (
          <Stack direction="row" spacing={0.5} useFlexGap sx={{ flexWrap: 'wrap' }}>
            <Editable>
              <Button size="small" onClick={() => decide('accept')} aria-label={`Accept explanation of #${e.feature}`}>
                Accept
              </Button>
            </Editable>
            <Editable>
              <Button size="small" onClick={() => setText(e.explanation)} aria-label={`Edit explanation of #${e.feature}`}>
                Edit
              </Button>
            </Editable>
            <Editable>
              <Button size="small" onClick={() => decide('reject')} aria-label={`Reject explanation of #${e.feature}`}>
                Reject
              </Button>
            </Editable>
          </Stack>
        ) : (
          <Stack direction="row" spacing={0.5}>
            <Button size="small" variant="contained" onClick={() => decide('edit')} disabled={text.trim() === ''}>
              Save label
            </Button>
            <Button size="small" onClick={() => setText(null)}>
              Cancel
            </Button>
          </Stack>
        )}
      </TableCell>
    </TableRow>
  );
}
