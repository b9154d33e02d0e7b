import type { AnalysisRecord, FeatureDetail, FeatureLabel } from '@contract/contract';
import { Alert, Box, Button, Chip, CircularProgress, Stack, ToggleButton, ToggleButtonGroup, Tooltip, Typography } from '@mui/material';
import { forwardRef, lazy, Suspense, useEffect, useRef, useState } from 'react';
import type { LabelPatch } from '../lib/label-queue';
import { CopyLink } from './CopyLink';
import { READ_ONLY_REASON, useReadOnly } from './Editable';
import { IntervalExamples, TopExamples, type Modality } from './FeatureExamples';
import { STATUS_COLOUR } from './FeatureList';
import { TabBar } from './TabBar';
import { LabelHistory, LogitEffects, NearestFeatures } from './FeatureSide';
import { LabelEditor, type LabelEditorHandle } from './LabelEditor';
import { HeatLegend, HeatModeToggle, type HeatMode } from './PatchView';

/** ECharts is fetched when the histogram scrolls into view; the input tools when their tab opens. */
const FeatureHistogram = lazy(() => import('./FeatureHistogram'));
const InputProbe = lazy(() => import('./InputWorkbench').then((m) => ({ default: m.InputProbe })));
const SteerPanel = lazy(() => import('./InputWorkbench').then((m) => ({ default: m.SteerPanel })));

/** Renders its children once it comes near the viewport (inside the feature page's own scroller too). */
function WhenVisible({ children, height }: { children: React.ReactNode; height: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || seen) return;
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && setSeen(true), { rootMargin: '200px' });
    observer.observe(el);
    return () => observer.disconnect();
  }, [seen]);
  return (
    <div ref={ref} style={{ minHeight: seen ? undefined : height }}>
      {seen ? children : null}
    </div>
  );
}

/** Agree / disagree with the label shown; disabled with the reason when it cannot be reviewed (or the server is read-only). */
function ReviewButton({
  verdict,
  blocked,
  onReview,
}: {
  verdict: 'agree' | 'disagree';
  blocked: string | null;
  onReview: (v: 'agree' | 'disagree') => void;
}) {
  const readOnly = useReadOnly();
  const agree = verdict === 'agree';
  return (
    <Tooltip title={readOnly ? READ_ONLY_REASON : (blocked ?? (agree ? 'Agree (a)' : 'Disagree (d)'))}>
      <span>
        <Button
          size="small"
          variant={agree ? 'contained' : 'outlined'}
          color={agree ? 'success' : 'inherit'}
          disabled={readOnly || blocked !== null}
          onClick={() => onReview(verdict)}
        >
          {agree ? 'Agree' : 'Disagree'}
        </Button>
      </span>
    </Tooltip>
  );
}

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
export type FeatureTab = 'image' | 'text' | 'intervals' | 'input' | 'steer';

export interface FeaturePanelProps {
  analysis: AnalysisRecord;
  feature: number;
  detail: FeatureDetail | null;
  error: string | null;
  /** The label as last saved (or loaded); undefined until known. */
  label: FeatureLabel | null | undefined;
  saving: boolean;
  onSave: (patch: LabelPatch) => void;
  onLeave: () => void;
  reviewMode: boolean;
  onReview: (verdict: 'agree' | 'disagree') => void;
  annotator: string | null;
  historyVersion: number;
  tab: FeatureTab | null;
  onTab: (tab: FeatureTab) => void;
  modelId: number | null;
  datasetId: number | null;
}

/** A feature page: what it is (label, status), its examples first, then its statistics, logit effects and neighbours. */
export const FeaturePanel = forwardRef<LabelEditorHandle, FeaturePanelProps>(function FeaturePanel(p, editorRef) {
  const { analysis, feature, detail, label } = p;
  const [mode, setMode] = useState<HeatMode>('overlay');
  const [shown, setShown] = useState<number[]>([]);
  const [intervalModality, setIntervalModality] = useState<Modality | null>(null);
  const row = detail?.row;
  const defaultTab: FeatureTab = row && row.imageShare !== null && row.imageShare >= 0.5 ? 'image' : 'text';
  const tab = p.tab ?? defaultTab;
  const modality: Modality = intervalModality ?? (defaultTab === 'image' ? 'image' : 'text');
  const scale = row?.maxAct ?? 1;
  const status = label?.status ?? row?.status ?? 'unlabelled';
  const ownLabel = label && p.annotator !== null && label.annotator === p.annotator;
  const reviewBlock = !label?.label
    ? 'There is no label to review.'
    : ownLabel
      ? 'This label is yours: a review must come from someone else.'
      : null;

  return (
    <Stack spacing={1.25} data-testid="feature-panel" sx={{ minWidth: 0 }}>
      <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap>
        <Typography variant="h6" component="h3" data-testid="feature-title" {...{ elementtiming: 'feature-title' }}>
          Feature {feature}
        </Typography>
        <Chip
          size="small"
          label={status}
          sx={{ bgcolor: STATUS_COLOUR[status], color: '#fff', fontWeight: 600 }}
          data-testid="feature-status"
        />
        {label?.label && (
          <Typography sx={{ fontWeight: 600, minWidth: 0, wordBreak: 'break-word' }} data-testid="feature-label">
            “{label.label}”
          </Typography>
        )}
        <Box sx={{ flexGrow: 1 }} />
        {p.saving && <CircularProgress size={16} aria-label="Saving" />}
        <CopyLink page="features" ids={[analysis.id, feature]} />
      </Stack>
      {row ? (
        <Typography variant="body2" color="text.secondary" data-testid="feature-stats" {...{ elementtiming: 'feature-stats' }}>
          density {pct(row.density)} · max {row.maxAct.toFixed(3)} · mean {row.meanAct.toFixed(3)} · median{' '}
          {detail!.quantiles.q50.toFixed(3)} · p99 {detail!.quantiles.q99.toFixed(3)} · image share {pct(row.imageShare)} · cross-modal{' '}
          {row.crossModal === null ? '–' : row.crossModal.toFixed(2)}
          {label ? ` · labelled by ${label.annotator}, ${new Date(label.updatedAt).toLocaleString()}` : ''}
        </Typography>
      ) : p.error ? (
        <Alert severity="error">{p.error}</Alert>
      ) : (
        <Typography variant="body2" color="text.secondary">
          Loading feature {feature}…
        </Typography>
      )}
      {p.reviewMode && (
        <Alert
          severity={label?.label ? 'info' : 'warning'}
          data-testid="review-bar"
          action={
            <Stack direction="row" spacing={1}>
              <ReviewButton verdict="agree" blocked={reviewBlock} onReview={p.onReview} />
              <ReviewButton verdict="disagree" blocked={reviewBlock} onReview={p.onReview} />
            </Stack>
          }
        >
          {label?.label
            ? `Review: “${label.label}” by ${label.annotator} — does it describe the examples?`
            : 'No label to review on this feature.'}
        </Alert>
      )}
      <LabelEditor key={`${analysis.saeId}:${feature}`} ref={editorRef} label={label} onSave={p.onSave} onLeave={p.onLeave} />
      <Stack direction="row" alignItems="center" spacing={1} sx={{ borderBottom: 1, borderColor: 'divider' }} flexWrap="wrap" useFlexGap>
        <TabBar
          label="Examples and tools"
          value={tab}
          onChange={p.onTab}
          tabs={[
            ['image', 'Image'],
            ['text', 'Text'],
            ['intervals', 'Quantiles'],
            ['input', 'Your input'],
            ['steer', 'Steer'],
          ]}
        />
      </Stack>
      <Box role="tabpanel" aria-labelledby={`tab-${tab}`} sx={{ minWidth: 0 }}>
        {(tab === 'image' || tab === 'intervals') && (
          <Stack direction="row" spacing={1} alignItems="center" sx={{ mb: 1 }} flexWrap="wrap" useFlexGap>
            <HeatModeToggle mode={mode} onMode={setMode} />
            <HeatLegend max={scale} />
          </Stack>
        )}
        {(tab === 'image' || tab === 'text') && (
          <TopExamples analysisId={analysis.id} feature={feature} modality={tab} scale={scale} mode={mode} onShown={setShown} />
        )}
        {tab === 'intervals' && (
          <Stack spacing={1}>
            <ToggleButtonGroup
              size="small"
              exclusive
              value={modality}
              onChange={(_, m: Modality | null) => m && setIntervalModality(m)}
              aria-label="Tokens sampled"
            >
              <ToggleButton value="image">Image patches</ToggleButton>
              <ToggleButton value="text">Text tokens</ToggleButton>
              <ToggleButton value="any">All tokens</ToggleButton>
            </ToggleButtonGroup>
            <IntervalExamples analysisId={analysis.id} feature={feature} modality={modality} scale={scale} mode={mode} onShown={setShown} />
          </Stack>
        )}
        <Suspense fallback={<CircularProgress size={20} aria-label="Loading" />}>
          {tab === 'input' && <InputProbe analysisId={analysis.id} feature={feature} scale={row?.maxAct ?? null} />}
          {tab === 'steer' && <SteerPanel analysisId={analysis.id} feature={feature} modelId={p.modelId} datasetId={p.datasetId} />}
        </Suspense>
      </Box>
      {detail && (shown.length > 0 || tab === 'input' || tab === 'steer') && (
        <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(300px, 1fr))', gap: 2, pt: 1 }}>
          <Box component="section" aria-label="Activation density">
            <Typography variant="subtitle2" component="h4">
              Activation density (non-zero tokens)
            </Typography>
            <WhenVisible height={200}>
              <Suspense fallback={<CircularProgress size={20} aria-label="Loading the chart" />}>
                <FeatureHistogram
                  edges={detail.histogram.edges}
                  counts={detail.histogram.counts}
                  shown={tab === 'input' || tab === 'steer' ? [] : shown}
                />
              </Suspense>
            </WhenVisible>
          </Box>
          <Box component="section" aria-label="Logit effects">
            <Typography variant="subtitle2" component="h4">
              Logit effects (decoder direction through the final norm and unembedding)
            </Typography>
            <LogitEffects logits={detail.logits} />
          </Box>
          <Box component="section" aria-label="Nearest features">
            <Typography variant="subtitle2" component="h4">
              Nearest features (decoder cosine)
            </Typography>
            <NearestFeatures analysisId={analysis.id} feature={feature} />
          </Box>
          <Box component="section" aria-label="Label history">
            <Typography variant="subtitle2" component="h4">
              Label history
            </Typography>
            <LabelHistory saeId={analysis.saeId} feature={feature} version={p.historyVersion} />
          </Box>
        </Box>
      )}
    </Stack>
  );
});
