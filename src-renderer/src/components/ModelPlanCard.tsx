import type { ModelRecord, RequestOf } from '@contract/contract';
import {
  Alert,
  Button,
  Card,
  CardContent,
  Chip,
  MenuItem,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useState } from 'react';
import { useChannel } from '../hooks/useChannel';

type PlanRequest = RequestOf<'models.plan'>;

/** Binary units, as `ocular model plan` prints them. */
const size = (bytes: number) =>
  bytes >= 2 ** 30
    ? `${(bytes / 2 ** 30).toFixed(2)} GiB`
    : bytes >= 2 ** 20
      ? `${(bytes / 2 ** 20).toFixed(1)} MiB`
      : `${(bytes / 1024).toFixed(1)} KiB`;

/** What Ocular can do with the model (generate, harvest, edit), with the reason, as inspection found it. */
export function ModelCapabilities({ model }: { model: ModelRecord }) {
  const caps = model.report.capabilities;
  if (!caps) return null;
  return (
    <Stack spacing={0.5} sx={{ mb: 1 }} data-testid="model-capabilities">
      {Object.entries(caps).map(([what, c]) => (
        <Stack key={what} direction="row" spacing={1} alignItems="center">
          <Chip size="small" color={c.ok ? 'success' : 'default'} label={`${what}: ${c.ok ? 'yes' : 'no'}`} sx={{ minWidth: 110 }} />
          <Typography variant="body2" color="text.secondary" sx={{ wordBreak: 'break-word' }}>
            {c.detail}
          </Typography>
        </Stack>
      ))}
    </Stack>
  );
}

/**
 * Memory for weights, caches and prefill logits, and the disk a harvest takes, estimated from the graphs
 * and config alone (the models.plan channel), for the batch, context, tokens and taps the researcher enters.
 * Render it keyed by the model's id, so another model starts from the defaults.
 */
export function ModelPlanCard({ model }: { model: ModelRecord }) {
  const [form, setForm] = useState({ batch: '1', context: '4096', tokens: '1000000', taps: '', harvestDtype: 'fp16', gpuGiB: '24' });
  const [request, setRequest] = useState<PlanRequest>({ id: model.id, gpuGiB: 24 });
  const { data: plan, error } = useChannel('models.plan', request);
  const field = (name: keyof typeof form, label: string, width = 120) => (
    <TextField
      size="small"
      label={label}
      value={form[name]}
      onChange={(e) => setForm({ ...form, [name]: e.target.value })}
      sx={{ width }}
    />
  );
  const apply = () =>
    setRequest({
      id: model.id,
      batch: Number(form.batch),
      context: Number(form.context),
      tokens: Number(form.tokens),
      taps: form.taps
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t),
      harvestDtype: form.harvestDtype as 'fp16' | 'fp32',
      ...(form.gpuGiB ? { gpuGiB: Number(form.gpuGiB) } : {}),
    });
  const rows: Array<[string, string, string]> = plan
    ? [
        ['Weights', size(plan.weights.bytes), plan.weights.components.map((c) => `${c.role} ${size(c.bytes)}`).join(' · ')],
        ...plan.caches.groups.map((g): [string, string, string] => [
          g.grows ? 'KV cache' : 'State',
          size(g.bytes),
          `${g.name}: ${g.tensors} × [${g.shape.join(', ')}] ${g.dtype}`,
        ]),
        ['Prefill logits', size(plan.prefillLogitsBytes), `a prefill of ${plan.options.context} tokens`],
        ...plan.harvest.taps.map((t): [string, string, string] => [
          'Harvest (disk)',
          size(t.bytes),
          `${t.name} · width ${t.width} · ${plan.harvest.dtype}`,
        ]),
      ]
    : [];
  return (
    <Card variant="outlined" sx={{ mb: 2 }}>
      <CardContent>
        <Typography variant="subtitle1">Plan for real sizes</Typography>
        <Stack direction="row" spacing={1} sx={{ my: 1, flexWrap: 'wrap', rowGap: 1 }} alignItems="center">
          {field('batch', 'Batch', 90)}
          {field('context', 'Context tokens')}
          {field('tokens', 'Harvest tokens', 130)}
          {field('taps', 'Taps (comma-separated)', 260)}
          <TextField
            size="small"
            select
            label="Harvest dtype"
            value={form.harvestDtype}
            onChange={(e) => setForm({ ...form, harvestDtype: e.target.value })}
            sx={{ width: 120 }}
          >
            <MenuItem value="fp16">fp16</MenuItem>
            <MenuItem value="fp32">fp32</MenuItem>
          </TextField>
          {field('gpuGiB', 'GPU GiB', 90)}
          <Button variant="outlined" onClick={apply}>
            Estimate
          </Button>
        </Stack>
        {error && <Alert severity="error">{error}</Alert>}
        {plan && (
          <>
            <Typography data-testid="plan-memory" sx={{ mb: 1 }}>
              Memory {size(plan.memoryBytes)} (weights + caches + prefill logits)
              {plan.fits !== null && ` · ${plan.fits ? 'fits in' : 'does not fit in'} ${plan.options.gpuGiB} GiB`} · harvest{' '}
              {size(plan.harvest.bytes)} on disk
            </Typography>
            <Table size="small" aria-label="Plan">
              <TableBody>
                {rows.map(([what, bytes, detail], i) => (
                  <TableRow key={i}>
                    <TableCell>{what}</TableCell>
                    <TableCell align="right">{bytes}</TableCell>
                    <TableCell sx={{ wordBreak: 'break-word' }}>{detail}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
            {plan.notes.map((n) => (
              <Typography key={n} variant="caption" color="text.secondary" component="div">
                {n}
              </Typography>
            ))}
          </>
        )}
      </CardContent>
    </Card>
  );
}
