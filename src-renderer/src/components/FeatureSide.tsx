import type { FeatureDetail, FeatureLabel, NearestFeature } from '@contract/contract';
import { Box, Chip, Link, Stack, Table, TableBody, TableCell, TableHead, TableRow, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke } from '../api/client';
import { formatRoute } from '../lib/router';

/** Tokens the feature's decoder direction most promotes and suppresses (special tokens left out by the backend). */
export function LogitEffects({ logits }: { logits: FeatureDetail['logits'] }) {
  if (!logits)
    return (
      <Typography variant="body2" color="text.secondary">
        Not available for this tap or model.
      </Typography>
    );
  const list = (title: string, tokens: Array<{ token: string; activation: number }>, colour: 'success' | 'error') => (
    <Box sx={{ minWidth: 0 }}>
      <Typography variant="caption" component="h4" sx={{ fontWeight: 600 }}>
        {title}
      </Typography>
      <Stack direction="row" flexWrap="wrap" useFlexGap spacing={0.5}>
        {tokens.map((t, i) => (
          <Chip
            key={i}
            size="small"
            variant="outlined"
            color={colour}
            label={`${JSON.stringify(t.token).slice(1, -1)} ${t.activation >= 0 ? '+' : ''}${t.activation.toFixed(2)}`}
            sx={{ fontFamily: 'monospace' }}
          />
        ))}
      </Stack>
    </Box>
  );
  return (
    <Stack spacing={1} data-testid="logit-effects">
      {list('Promotes', logits.promoted, 'success')}
      {list('Suppresses', logits.suppressed, 'error')}
    </Stack>
  );
}

/** Features with the closest decoder directions, as links. */
export function NearestFeatures({ analysisId, feature }: { analysisId: number; feature: number }) {
  const [nearest, setNearest] = useState<NearestFeature[] | null>(null);
  useEffect(() => {
    setNearest(null);
    invoke('features.nearest', { analysisId, feature, n: 8 }).then(setNearest, () => setNearest([]));
  }, [analysisId, feature]);
  if (!nearest) return null;
  return (
    <Table size="small" aria-label="Nearest features by decoder cosine" data-testid="nearest-features">
      <TableHead>
        <TableRow>
          <TableCell>Feature</TableCell>
          <TableCell>Cosine</TableCell>
          <TableCell>Label</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {nearest.map((n) => (
          <TableRow key={n.feature}>
            <TableCell>
              <Link href={formatRoute({ page: 'features', ids: [analysisId, n.feature] })}>#{n.feature}</Link>
            </TableCell>
            <TableCell>{n.cosine.toFixed(3)}</TableCell>
            <TableCell sx={{ wordBreak: 'break-word' }}>{n.label ?? '—'}</TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

const VERB: Record<string, string> = { edit: 'labelled', import: 'imported', 'review:agree': 'agreed', 'review:disagree': 'disagreed' };

/** Every change to the label: who, when, what (reviews included). */
export function LabelHistory({ saeId, feature, version }: { saeId: number; feature: number; version: number }) {
  const [history, setHistory] = useState<Array<FeatureLabel & { source: string }> | null>(null);
  useEffect(() => {
    invoke('labels.history', { saeId, feature }).then(setHistory, () => setHistory([]));
  }, [saeId, feature, version]);
  if (!history) return null;
  if (history.length === 0)
    return (
      <Typography variant="body2" color="text.secondary" data-testid="label-history">
        No label history yet.
      </Typography>
    );
  return (
    <Table size="small" aria-label="Label history" data-testid="label-history">
      <TableHead>
        <TableRow>
          <TableCell>When</TableCell>
          <TableCell>Who</TableCell>
          <TableCell>What</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {history.map((h, i) => (
          <TableRow key={i} data-testid="history-entry">
            <TableCell sx={{ whiteSpace: 'nowrap' }}>{new Date(h.updatedAt).toLocaleString()}</TableCell>
            <TableCell>{h.annotator}</TableCell>
            <TableCell sx={{ wordBreak: 'break-word' }}>
              {VERB[h.source] ?? h.source}: “{h.label}” ({h.status}
              {h.tags.length ? `; ${h.tags.join(', ')}` : ''}
              {h.confidence !== null ? `; confidence ${h.confidence}` : ''})
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
