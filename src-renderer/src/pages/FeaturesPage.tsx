import type { AppInfo, FeatureDetail, FeatureLabel, LabelStatus } from '@contract/contract';
import {
  Alert,
  Box,
  Button,
  Card,
  CardContent,
  Dialog,
  DialogContent,
  DialogTitle,
  FormControlLabel,
  MenuItem,
  Stack,
  Switch,
  TextField,
  Typography,
} from '@mui/material';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { invoke } from '../api/client';
import { AnnotatorDialog } from '../components/AnnotatorDialog';
import { Editable } from '../components/Editable';
import { FeatureList, type FeatureListHandle } from '../components/FeatureList';
import { FeaturePanel, type FeatureTab } from '../components/FeaturePanel';
import { KeyHelp } from '../components/KeyHelp';
import { STATUSES, type LabelEditorHandle } from '../components/LabelEditor';
import { LabelsTransfer } from '../components/LabelsTransfer';
import { AnalysisSelect } from '../components/AnalysisSelect';
import { useAnalysis } from '../hooks/useAnalysis';
import { useChannel } from '../hooks/useChannel';
import { useReportError } from '../hooks/useErrorReporter';
import { useFeatureRows, type ListQuery } from '../hooks/useFeatureRows';
import { useAnnotator } from '../lib/annotator';
import { describeError } from '../lib/errors';
import { LabelQueue, type LabelPatch } from '../lib/label-queue';
import { readPersisted, usePersistentState } from '../lib/persist';
import { prefetch, invokeOnce } from '../lib/prefetch';
import { navigate, parseRoute, useRoute } from '../lib/router';

/** Start an analysis: an SAE over a harvest holding its tap. */
function NewAnalysis({ onStarted }: { onStarted: () => void }) {
  const report = useReportError();
  const { data: saes } = useChannel('saes.list', {});
  const { data: harvests } = useChannel('harvests.list', {});
  const [saeId, setSaeId] = useState<number | ''>('');
  const [harvestId, setHarvestId] = useState<number | ''>('');
  const sae = saes?.find((s) => s.id === saeId);
  const usable = (harvests ?? []).filter((h) => sae?.hookName && h.stats[sae.hookName]);
  return (
    <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap sx={{ pt: 1 }}>
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
      <Editable>
        <Button
          variant="contained"
          disabled={saeId === '' || harvestId === ''}
          onClick={() => invoke('analyses.start', { saeId: Number(saeId), harvestId: Number(harvestId) }).then(onStarted, report)}
        >
          Analyse
        </Button>
      </Editable>
    </Stack>
  );
}

const DEFAULT_QUERY: ListQuery = { sort: 'density', order: 'desc', search: '', status: null };

// A deep link's data is requested as soon as this page's code arrives (see lib/prefetch.ts).
{
  const { page, ids } = parseRoute(typeof location === 'undefined' ? '' : location.hash);
  if (page === 'features' && ids[0] !== undefined) {
    prefetch('analyses.list', {});
    prefetch('features.list', {
      analysisId: ids[0],
      offset: 0,
      limit: 200,
      ...(readPersisted<ListQuery>('features.query') ?? DEFAULT_QUERY),
    });
    if (ids[1] !== undefined) prefetch('features.get', { analysisId: ids[0], feature: ids[1] });
  }
}

const isField = (el: Element | null) =>
  el instanceof HTMLElement &&
  (['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName) ||
    el.isContentEditable ||
    el.closest('[role="dialog"], [role="menu"], .MuiPopover-root') !== null);

/**
 * The feature browser at #/features/<analysis>/<feature>: the list, a feature page, labels and reviews.
 * Keyboard first (? lists the keys): j/k move, 1–4 set the status and focus the label, Enter saves
 * and returns to the list, Esc leaves a field, / searches.
 */
export function FeaturesPage({ info }: { info: AppInfo }) {
  const report = useReportError();
  const route = useRoute();
  const annotator = useAnnotator();
  const analysisId = route.ids[0] ?? null;
  const feature = route.ids[1] ?? null;
  const { loaded, error: analysesError, done, analysis, modelId, datasetId } = useAnalysis(analysisId);

  const [query, setQuery] = usePersistentState<ListQuery>('features.query', DEFAULT_QUERY);
  const [reviewMode, setReviewMode] = usePersistentState('features.review', false);
  const [tab, setTab] = usePersistentState<FeatureTab | null>('features.tab', null);
  const [help, setHelp] = useState(false);
  const [newAnalysis, setNewAnalysis] = useState(false);
  const [askName, setAskName] = useState<((name: string) => void) | null>(null);
  const [labels, setLabels] = useState<Map<number, FeatureLabel | null>>(new Map());
  const [detail, setDetail] = useState<FeatureDetail | null>(null);
  const [detailError, setDetailError] = useState<string | null>(null);
  const [saving, setSaving] = useState(0);
  const [historyVersion, setHistoryVersion] = useState(0);
  // The list and the feature page start from the URL's analysis; its record (SAE, harvest) follows.
  const list = useFeatureRows(analysisId, query);
  const listRef = useRef<FeatureListHandle>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const editorRef = useRef<LabelEditorHandle>(null);

  // No analysis in the URL: the newest one, written into the URL (one that was asked for is never swapped).
  useEffect(() => {
    if (analysisId === null && done.length > 0) navigate('features', [done[0]!.id], { replace: true });
  }, [analysisId, done]);
  // No feature in the URL: the list's first.
  const first = list.rows.get(0)?.feature;
  useEffect(() => {
    if (analysisId !== null && feature === null && first !== undefined) navigate('features', [analysisId, first], { replace: true });
  }, [analysisId, feature, first]);

  // Feature pages by feature, fetched once (the label queue reads stored labels through them too).
  const details = useRef(new Map<string, Promise<FeatureDetail>>());
  const getDetail = useCallback(
    (f: number): Promise<FeatureDetail> => {
      const key = `${analysisId}:${f}`;
      let p = details.current.get(key);
      if (!p) {
        p = invokeOnce('features.get', { analysisId: analysisId!, feature: f });
        p.catch(() => details.current.delete(key));
        details.current.set(key, p);
      }
      return p;
    },
    [analysisId],
  );
  // One save queue per SAE, made when first needed (event handlers and effects only).
  const queues = useRef(new Map<number, LabelQueue>());
  const patchRow = list.patch;
  const queueFor = useCallback(
    (saeId: number): LabelQueue => {
      let q = queues.current.get(saeId);
      if (!q) {
        q = new LabelQueue(saeId, {
          send: (req) => {
            setSaving((n) => n + 1);
            return invoke('labels.set', req).finally(() => setSaving((n) => n - 1));
          },
          load: (f) => getDetail(f).then((d) => d.label),
          saved: (l) => {
            setLabels((m) => new Map(m).set(l.feature, l));
            patchRow(l.feature, { label: l.label, status: l.status });
            setHistoryVersion((v) => v + 1);
          },
          failed: (err) => report(err),
        });
        queues.current.set(saeId, q);
      }
      return q;
    },
    [getDetail, patchRow, report],
  );

  useEffect(() => {
    if (analysisId === null || feature === null) return;
    let current = true;
    setDetail(null);
    setDetailError(null);
    getDetail(feature).then(
      (d) => {
        if (!current) return;
        setDetail(d);
      },
      (e: unknown) => current && setDetailError(describeError(e).sentence),
    );
    return () => {
      current = false;
    };
  }, [analysisId, feature, getDetail]);
  // The stored label, once the page and the analysis's SAE are known (unless a save is on its way).
  const saeId = analysis?.saeId;
  useEffect(() => {
    if (saeId === undefined || !detail) return;
    const queue = queueFor(saeId);
    queue.remember(detail.row.feature, detail.label);
    if (!queue.pending(detail.row.feature))
      setLabels((m) => (m.has(detail.row.feature) ? m : new Map(m).set(detail.row.feature, detail.label)));
  }, [saeId, detail, queueFor]);

  /** Run an edit once the annotator's name is known (asked once per browser). */
  const withAnnotator = useCallback(
    (action: (name: string) => void) => {
      if (annotator) action(annotator);
      else setAskName(() => action);
    },
    [annotator],
  );
  const save = useCallback(
    (f: number, patch: LabelPatch) => withAnnotator((name) => analysis && void queueFor(analysis.saeId).save(f, patch, name)),
    [analysis, queueFor, withAnnotator],
  );
  const review = useCallback(
    (verdict: 'agree' | 'disagree') => {
      if (!analysis || feature === null) return;
      withAnnotator((name) =>
        invoke('labels.review', { saeId: analysis.saeId, feature, verdict, annotator: name }).then((l) => {
          setLabels((m) => new Map(m).set(l.feature, l));
          list.patch(l.feature, { status: l.status });
          setHistoryVersion((v) => v + 1);
        }, report),
      );
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [analysis, feature, withAnnotator, report],
  );

  const selectedIndex = feature === null ? -1 : list.indexOf(feature);
  // Key handlers read the latest state through a ref, so keys sent faster than renders still act on what is shown.
  const latest = useRef({ analysis, feature, selectedIndex, total: list.total, reviewMode, readOnly: info.readOnly, save, review });
  useLayoutEffect(() => {
    latest.current = { analysis, feature, selectedIndex, total: list.total, reviewMode, readOnly: info.readOnly, save, review };
  });
  const rowAt = list.rowAt;
  const rows = list.rows;
  useEffect(() => {
    const move = (delta: number) => {
      const s = latest.current;
      if (!s.analysis || s.total === 0) return;
      const next = s.selectedIndex < 0 ? 0 : Math.max(0, Math.min(s.total - 1, s.selectedIndex + delta));
      const go = (f: number | undefined) => f !== undefined && navigate('features', [s.analysis!.id, f]);
      const row = rows.get(next);
      if (row) go(row.feature);
      else void rowAt(next).then((r) => go(r?.feature));
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || isField(e.target as Element)) return;
      const s = latest.current;
      if (!s.analysis) return;
      if (e.key === 'j' || e.key === 'ArrowDown') move(1);
      else if (e.key === 'k' || e.key === 'ArrowUp') move(-1);
      else if (/^[1-4]$/.test(e.key) && s.feature !== null && !s.readOnly) {
        const status = STATUSES[Number(e.key) - 1] as LabelStatus;
        s.save(s.feature, { status });
        editorRef.current?.setStatus(status);
      } else if (e.key === '/') searchRef.current?.focus();
      else if (e.key === '?') setHelp(true);
      else if (s.reviewMode && !s.readOnly && (e.key === 'a' || e.key === 'd')) s.review(e.key === 'a' ? 'agree' : 'disagree');
      else return;
      e.preventDefault();
      if (['j', 'k', 'ArrowDown', 'ArrowUp'].includes(e.key)) listRef.current?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [rowAt, rows]);

  const backToList = useCallback(() => listRef.current?.focus(), []);
  const onSave = useCallback((patch: LabelPatch) => feature !== null && save(feature, patch), [feature, save]);

  if (analysesError) return <Alert severity="error">{analysesError}</Alert>;
  const missing = loaded && analysisId !== null && !analysis;
  return (
    <Box sx={{ display: 'flex', flexDirection: 'column', gap: 1.5, height: 'calc(100vh - 48px - 32px)', minHeight: 480 }}>
      <Stack direction="row" spacing={1.5} alignItems="center" flexWrap="wrap" useFlexGap>
        <Typography variant="h5" component="h2">
          Features
        </Typography>
        <AnalysisSelect analyses={done} value={analysis?.id ?? null} onChange={(id) => navigate('features', [id])} />
        <FormControlLabel
          control={
            <Switch
              checked={reviewMode}
              onChange={(e) => {
                setReviewMode(e.target.checked);
                if (e.target.checked) setQuery({ ...query, status: 'labelled' });
              }}
            />
          }
          label="Review labels"
        />
        <Button size="small" onClick={() => setHelp(true)}>
          Keys (?)
        </Button>
        <Button size="small" onClick={() => setNewAnalysis(true)}>
          New analysis…
        </Button>
        {analysis && (
          <LabelsTransfer
            saeId={analysis.saeId}
            readOnly={info.readOnly}
            onChanged={() => {
              details.current.clear();
              setLabels(new Map());
              list.reload();
            }}
          />
        )}
        <Typography variant="caption" color="text.secondary" sx={{ ml: 'auto' }}>
          {annotator ? `Labelling as ${annotator}` : ''}
        </Typography>
      </Stack>
      {missing ? (
        <Alert severity="warning">
          There is no finished analysis #{analysisId} in this workspace.{' '}
          {done.length > 0 && <Button onClick={() => navigate('features', [done[0]!.id])}>Open the newest (#{done[0]!.id})</Button>}
        </Alert>
      ) : !analysis ? (
        loaded && (
          <Card variant="outlined">
            <CardContent>
              <Typography sx={{ mb: 1 }}>No finished analysis yet: pick an SAE and a harvest (or run `ocular analyze`).</Typography>
              <NewAnalysis onStarted={() => navigate('jobs')} />
            </CardContent>
          </Card>
        )
      ) : (
        <Box sx={{ display: 'grid', gridTemplateColumns: 'minmax(300px, 34%) minmax(0, 1fr)', gap: 2, flex: 1, minHeight: 0 }}>
          <Box sx={{ display: 'flex', flexDirection: 'column', minHeight: 0, minWidth: 0 }}>
            {list.error && <Alert severity="error">{list.error}</Alert>}
            <FeatureList
              ref={listRef}
              total={list.total}
              rows={list.rows}
              version={list.version}
              loaded={list.loaded}
              selected={feature}
              selectedIndex={selectedIndex}
              query={query}
              onQuery={setQuery}
              onSelect={(f) => navigate('features', [analysis.id, f])}
              ensure={list.ensure}
              searchRef={searchRef}
            />
          </Box>
          <Box sx={{ overflowY: 'auto', overflowX: 'hidden', minHeight: 0, minWidth: 0, pr: 0.5 }} data-testid="feature-scroll">
            {feature === null ? (
              <Typography color="text.secondary">Select a feature.</Typography>
            ) : (
              <FeaturePanel
                ref={editorRef}
                analysis={analysis}
                feature={feature}
                detail={detail?.row.feature === feature ? detail : null}
                error={detailError}
                label={labels.has(feature) ? labels.get(feature) : undefined}
                saving={saving > 0}
                onSave={onSave}
                onLeave={backToList}
                reviewMode={reviewMode}
                onReview={review}
                annotator={annotator}
                historyVersion={historyVersion}
                tab={tab}
                onTab={setTab}
                modelId={modelId}
                datasetId={datasetId}
              />
            )}
          </Box>
        </Box>
      )}
      <KeyHelp open={help} onClose={() => setHelp(false)} />
      <AnnotatorDialog
        open={askName !== null}
        onCancel={() => setAskName(null)}
        onDone={(name) => {
          const action = askName;
          setAskName(null);
          action?.(name);
          editorRef.current?.focusLabel();
        }}
      />
      <Dialog open={newAnalysis} onClose={() => setNewAnalysis(false)} aria-labelledby="new-analysis-title" maxWidth="md">
        <DialogTitle id="new-analysis-title">New analysis</DialogTitle>
        <DialogContent>
          <NewAnalysis
            onStarted={() => {
              setNewAnalysis(false);
              navigate('jobs');
            }}
          />
        </DialogContent>
      </Dialog>
    </Box>
  );
}
