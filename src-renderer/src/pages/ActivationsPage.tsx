import type { AppInfo } from '@contract/contract';
import {
  Alert,
  Button,
  Card,
  CardContent,
  Checkbox,
  FormControlLabel,
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
import { useEffect, useMemo, useState } from 'react';
import { invoke } from '../api/client';
import { Editable } from '../components/Editable';
import { IdSelect } from '../components/IdSelect';
import { ScrollTable } from '../components/ScrollTable';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { countError, parseCount } from '../lib/validate';

const KINDS = ['image', 'text', 'generated'] as const;
const mb = (bytes: number) => (bytes > 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`);

/** Harvest activations: model -> taps -> dataset -> token kinds, with the disk estimate before starting. */
export function ActivationsPage(_props: { info: AppInfo }) {
  const report = useReportError();
  const { data: models } = useChannel('models.list', {});
  const { data: datasets } = useChannel('datasets.list', {});
  const { data: harvests } = useChannel('harvests.list', {});
  const [modelId, setModelId] = useState<number | ''>('');
  const [datasetId, setDatasetId] = useState<number | ''>('');
  const [taps, setTaps] = useState<string[]>([]);
  const [kinds, setKinds] = useState<string[]>(['image', 'text']);
  const [dtype, setDtype] = useState<'fp16' | 'fp32'>('fp16');
  const [limit, setLimit] = useState('');
  const [estimate, setEstimate] = useState<{ bytes: number; freeBytes: number | null } | null>(null);
  const model = models?.find((m) => m.id === modelId);
  const limitCheck = countError(parseCount(limit, 1, 100_000_000, true));
  const available = useMemo(() => (model ? model.report.components.flatMap((c) => c.tower?.taps.map((t) => t.name) ?? []) : []), [model]);
  const request =
    modelId !== '' && datasetId !== '' && taps.length > 0 && kinds.length > 0 && limitCheck === null
      ? {
          modelId: Number(modelId),
          datasetId: Number(datasetId),
          taps,
          tokenKinds: kinds as Array<(typeof KINDS)[number]>,
          dtype,
          limit: limit ? Number(limit) : null,
        }
      : null;
  const requestKey = JSON.stringify(request);
  useEffect(() => {
    if (!request) return setEstimate(null);
    invoke('harvests.estimate', request).then(setEstimate, () => setEstimate(null));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [requestKey]);
  const start = () => request && invoke('harvests.start', request).catch(report);
  const tooBig = estimate && estimate.freeBytes !== null && estimate.bytes > estimate.freeBytes;

  return (
    <Stack spacing={2}>
      <Typography variant="h5" component="h2">
        Activations
      </Typography>
      <Card variant="outlined">
        <CardContent>
          <Typography variant="subtitle1" sx={{ mb: 1 }}>
            Harvest
          </Typography>
          <Stack direction="row" spacing={2} flexWrap="wrap" useFlexGap>
            <IdSelect
              label="Model"
              value={modelId}
              onChange={(id) => {
                setModelId(id);
                setTaps([]);
              }}
              options={(models ?? []).map((m) => [m.id, m.name])}
              width={240}
            />
            <IdSelect
              label="Dataset"
              value={datasetId}
              onChange={setDatasetId}
              options={(datasets ?? []).map((d) => [d.id, `${d.name} (${d.items})`])}
              width={240}
            />
            <TextField
              select
              size="small"
              label="Taps"
              value={taps}
              SelectProps={{ multiple: true }}
              onChange={(e) => setTaps(e.target.value as unknown as string[])}
              sx={{ width: 360 }}
            >
              {available.map((t) => (
                <MenuItem key={t} value={t}>
                  {t}
                </MenuItem>
              ))}
            </TextField>
            <TextField
              select
              size="small"
              label="dtype"
              value={dtype}
              onChange={(e) => setDtype(e.target.value as 'fp16' | 'fp32')}
              sx={{ width: 100 }}
            >
              <MenuItem value="fp16">fp16</MenuItem>
              <MenuItem value="fp32">fp32</MenuItem>
            </TextField>
            <TextField
              size="small"
              label="Item limit"
              placeholder="all"
              value={limit}
              onChange={(e) => setLimit(e.target.value)}
              error={limitCheck !== null}
              helperText={limitCheck}
              sx={{ width: 130 }}
            />
          </Stack>
          <Stack direction="row" spacing={1} sx={{ mt: 1 }}>
            {KINDS.map((k) => (
              <FormControlLabel
                key={k}
                label={`${k} tokens`}
                control={
                  <Checkbox
                    checked={kinds.includes(k)}
                    onChange={(e) => setKinds(e.target.checked ? [...kinds, k] : kinds.filter((x) => x !== k))}
                  />
                }
              />
            ))}
          </Stack>
          {estimate && (
            <Alert severity={tooBig ? 'error' : 'info'} sx={{ mt: 1 }} data-testid="harvest-estimate">
              About {mb(estimate.bytes)} on disk{estimate.freeBytes === null ? '' : `; ${mb(estimate.freeBytes)} free`}.
              {tooBig ? ' Not enough space: harvest fewer items, taps or token kinds, or use fp16.' : ''}
            </Alert>
          )}
          <Stack direction="row" sx={{ mt: 1 }}>
            <Editable>
              <Button variant="contained" disabled={!request || Boolean(tooBig)} onClick={start}>
                Harvest
              </Button>
            </Editable>
          </Stack>
        </CardContent>
      </Card>
      {harvests && harvests.length > 0 && (
        <ScrollTable label="Harvests">
          <Table size="small" aria-label="Harvests">
            <TableHead>
              <TableRow>
                <TableCell>#</TableCell>
                <TableCell>Taps</TableCell>
                <TableCell>Items</TableCell>
                <TableCell>Rows (decoder / vision)</TableCell>
                <TableCell>Mean norm</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {harvests.map((h) => (
                <TableRow key={h.id} data-testid={`harvest-${h.id}`}>
                  <TableCell>{h.id}</TableCell>
                  <TableCell>{h.params.taps.join(', ')}</TableCell>
                  <TableCell>{h.items}</TableCell>
                  <TableCell>
                    {h.rows.decoder} / {h.rows.vision}
                  </TableCell>
                  <TableCell>
                    {Object.entries(h.stats)
                      .map(([t, s]) => `${t}: ${s.meanNorm.toFixed(2)}`)
                      .join('; ')}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </ScrollTable>
      )}
    </Stack>
  );
}
