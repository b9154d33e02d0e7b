import type { AppInfo, FeatureDetail, LabelStatus } from '@contract/contract';
import { Alert, Box, Button, Card, CardContent, MenuItem, Stack, TextField, Typography } from '@mui/material';
import { useCallback, useEffect, useRef, useState } from 'react';
import { invoke } from '../api/client';
import { FeatureList } from '../components/FeatureList';
import { FeaturePanel } from '../components/FeaturePanel';
import { STATUSES } from '../components/LabelEditor';
import { LabelsTransfer } from '../components/LabelsTransfer';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { getAnnotator } from '../lib/annotator';

/** Start an analysis: an SAE over a harvest holding its tap. */
function NewAnalysis({ readOnly }: { readOnly: boolean }) {
  const report = useReportError();
  const { data: saes } = useChannel('saes.list', {});
  const { data: harvests } = useChannel('harvests.list', {});
  const [saeId, setSaeId] = useState<number | ''>('');
  const [harvestId, setHarvestId] = useState<number | ''>('');
  const sae = saes?.find((s) => s.id === saeId);
  const usable = (harvests ?? []).filter((h) => sae?.hookName && h.stats[sae.hookName]);
  return (
    <Stack direction="row" spacing={1} alignItems="center">
      <TextField
        select
        size="small"
        label="SAE"
        value={saeId}
        onChange={(e) => {
          setSaeId(Number(e.target.value));
          setHarvestId('');
        }}
        sx={{ width: 260 }}
      >
        {(saes ?? []).map((s) => (
          <MenuItem key={s.id} value={s.id}>
            #{s.id} {s.name}
          </MenuItem>
        ))}
      </TextField>
      <TextField
        select
        size="small"
        label="Harvest"
        value={harvestId}
        onChange={(e) => setHarvestId(Number(e.target.value))}
        sx={{ width: 220 }}
      >
        {usable.map((h) => (
          <MenuItem key={h.id} value={h.id}>
            #{h.id}: {h.items} items
          </MenuItem>
        ))}
      </TextField>
      <Button
        variant="outlined"
        disabled={readOnly || saeId === '' || harvestId === ''}
        onClick={() => invoke('analyses.start', { saeId: Number(saeId), harvestId: Number(harvestId) }).catch(report)}
      >
        Analyse
      </Button>
    </Stack>
  );
}

/** The feature browser: the list, a feature page, labels; j/k move, 1–4 set the status and focus the label. */
export function FeaturesPage({ info }: { info: AppInfo }) {
  const report = useReportError();
  const { data: analyses } = useChannel('analyses.list', {});
  const done = (analyses ?? []).filter((a) => a.summary);
  const [analysisId, setAnalysisId] = useState<number | null>(null);
  const analysis = done.find((a) => a.id === analysisId) ?? done[0] ?? null;
  const [feature, setFeature] = useState<number | null>(null);
  const [detail, setDetail] = useState<FeatureDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);
  const [pendingStatus, setPendingStatus] = useState<LabelStatus | null>(null);
  const order = useRef<Array<number | undefined>>([]);
  const labelField = useRef<HTMLInputElement>(null);
  const onOrder = useCallback((o: Array<number | undefined>) => {
    order.current = o;
  }, []);

  const load = useCallback(() => {
    if (!analysis || feature === null) return;
    setError(null);
    invoke('features.get', { analysisId: analysis.id, feature }).then(setDetail, (e: Error) => setError(e.message));
  }, [analysis?.id, feature]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    setDetail(null);
    setPendingStatus(null);
    load();
  }, [load]);
  // After every render: the list reports its order through a ref once it has loaded.
  // eslint-disable-next-line react-hooks/exhaustive-deps -- no dependency list on purpose (see above)
  useEffect(() => {
    if (feature === null && order.current[0] !== undefined) setFeature(order.current[0]!);
  });

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (
        !analysis ||
        ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) ||
        target.isContentEditable ||
        e.ctrlKey ||
        e.metaKey ||
        e.altKey
      )
        return;
      if (e.key === 'j' || e.key === 'k') {
        const at = order.current.indexOf(feature ?? -1);
        const next = order.current[Math.max(0, Math.min(order.current.length - 1, at + (e.key === 'j' ? 1 : -1)))];
        if (next !== undefined) setFeature(next);
      } else if (/^[1-4]$/.test(e.key) && feature !== null && detail) {
        const status = STATUSES[Number(e.key) - 1]!;
        setPendingStatus(status);
        const l = detail.label;
        invoke('labels.set', {
          saeId: analysis.saeId,
          feature,
          label: l?.label ?? '',
          tags: l?.tags ?? [],
          confidence: l?.confidence ?? null,
          status,
          annotator: getAnnotator(),
        }).then(() => {
          load();
          setRefresh((r) => r + 1);
        }, report);
        labelField.current?.focus();
        e.preventDefault();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [analysis, feature, detail, load, report]);

  return (
    <Stack spacing={2}>
      <Stack direction="row" spacing={2} alignItems="center" flexWrap="wrap" useFlexGap>
        <Typography variant="h5" component="h2">
          Features
        </Typography>
        {done.length > 0 && (
          <TextField
            select
            size="small"
            label="Analysis"
            value={analysis?.id ?? ''}
            onChange={(e) => {
              setAnalysisId(Number(e.target.value));
              setFeature(null);
            }}
            sx={{ width: 300 }}
          >
            {done.map((a) => (
              <MenuItem key={a.id} value={a.id}>
                #{a.id}: SAE {a.saeId} over harvest {a.harvestId} ({a.summary!.rows} rows)
              </MenuItem>
            ))}
          </TextField>
        )}
        {analysis && (
          <LabelsTransfer
            saeId={analysis.saeId}
            readOnly={info.readOnly}
            onChanged={() => {
              load();
              setRefresh((r) => r + 1);
            }}
          />
        )}
      </Stack>
      <Card variant="outlined">
        <CardContent>
          <NewAnalysis readOnly={info.readOnly} />
        </CardContent>
      </Card>
      {!analysis ? (
        <Alert severity="info">No finished analysis yet: pick an SAE and a harvest above (or run `ocular analyze`).</Alert>
      ) : (
        <Box sx={{ display: 'grid', gridTemplateColumns: 'minmax(420px, 5fr) 7fr', gap: 2, alignItems: 'start' }}>
          <FeatureList analysisId={analysis.id} selected={feature} onSelect={setFeature} onOrder={onOrder} refreshKey={refresh} />
          {feature === null ? (
            <Typography color="text.secondary">Select a feature.</Typography>
          ) : (
            <FeaturePanel
              ref={labelField}
              detail={detail}
              error={error}
              saeId={analysis.saeId}
              feature={feature}
              pendingStatus={pendingStatus}
              onSaved={() => {
                load();
                setRefresh((r) => r + 1);
              }}
            />
          )}
        </Box>
      )}
    </Stack>
  );
}
