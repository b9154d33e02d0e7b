import type { AnalysisRecord, FeatureDetail, FeatureLabel } from '@contract/contract';
import {
  Alert,
  Box,
  Button,
  Chip,
  CircularProgress,
  Stack,
  Tab,
  Tabs,
  ToggleButton,
  ToggleButtonGroup,
  Tooltip,
  Typography,
} from '@mui/material';
import { forwardRef, lazy, Suspense, useState } from 'react';
import type { LabelPatch } from '../lib/label-queue';
import { CopyLink } from './CopyLink';
import { Editable } from './Editable';
import { IntervalExamples, TopExamples, type Modality } from './FeatureExamples';
import { STATUS_COLOUR } from './FeatureList';
import { LabelHistory, LogitEffects, NearestFeatures } from './FeatureSide';
import { InputProbe, SteerPanel } from './InputWorkbench';
import { LabelEditor, type LabelEditorHandle } from './LabelEditor';
import { HeatLegend, type HeatMode } from './PatchView';

/** ECharts is fetched after the examples have painted. */
const FeatureHistogram = lazy(() => import('./FeatureHistogram'));

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
const TAB = { minHeight: 40, minWidth: 0, px: 1.5 } as const;
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

  return (
    <Stack spacing={1.25} data-testid="feature-panel" sx={{ minWidth: 0 }}>
      <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap>
        <Typography variant="h6" component="h3" data-testid="feature-title">
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
        <Typography variant="body2" color="text.secondary" data-testid="feature-stats">
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
              <Editable>
                <Tooltip title={ownLabel ? 'This label is yours: a review must come from someone else.' : 'Agree (a)'}>
                  <span>
                    <Button
                      size="small"
                      variant="contained"
                      color="success"
                      disabled={!label?.label || Boolean(ownLabel)}
                      onClick={() => p.onReview('agree')}
                    >
                      Agree
                    </Button>
                  </span>
                </Tooltip>
              </Editable>
              <Editable>
                <Tooltip title={ownLabel ? 'This label is yours: a review must come from someone else.' : 'Disagree (d)'}>
                  <span>
                    <Button
                      size="small"
                      variant="outlined"
                      color="inherit"
                      disabled={!label?.label || Boolean(ownLabel)}
                      onClick={() => p.onReview('disagree')}
                    >
                      Disagree
                    </Button>
                  </span>
                </Tooltip>
              </Editable>
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
        <Tabs
          value={tab}
          onChange={(_, t: FeatureTab) => p.onTab(t)}
          aria-label="Examples and tools"
          variant="scrollable"
          scrollButtons="auto"
          sx={{ minHeight: 40, flex: 1, minWidth: 0 }}
        >
          <Tab value="image" label="Image" sx={TAB} data-testid="tab-image" />
          <Tab value="text" label="Text" sx={TAB} data-testid="tab-text" />
          <Tab value="intervals" label="Quantiles" sx={TAB} data-testid="tab-intervals" />
          <Tab value="input" label="Your input" sx={TAB} data-testid="tab-input" />
          <Tab value="steer" label="Steer" sx={TAB} data-testid="tab-steer" />
        </Tabs>
      </Stack>
      <Box role="tabpanel" aria-label={tab} sx={{ minWidth: 0 }}>
        {(tab === 'image' || tab === 'intervals') && (
          <Stack direction="row" spacing={1} alignItems="center" sx={{ mb: 1 }} flexWrap="wrap" useFlexGap>
            <ToggleButtonGroup
              size="small"
              exclusive
              value={mode}
              onChange={(_, m: HeatMode | null) => m && setMode(m)}
              aria-label="Heatmap style"
            >
              <ToggleButton value="overlay" sx={{ py: 0.25 }}>
                Overlay
              </ToggleButton>
              <ToggleButton value="outline" sx={{ py: 0.25 }}>
                Outline
              </ToggleButton>
            </ToggleButtonGroup>
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
        {tab === 'input' && <InputProbe analysisId={analysis.id} feature={feature} scale={row?.maxAct ?? null} />}
        {tab === 'steer' && <SteerPanel analysisId={analysis.id} feature={feature} modelId={p.modelId} datasetId={p.datasetId} />}
      </Box>
      {detail && (
        <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(300px, 1fr))', gap: 2, pt: 1 }}>
          <Box component="section" aria-label="Activation density">
            <Typography variant="subtitle2" component="h4">
              Activation density (non-zero tokens)
            </Typography>
            <Suspense fallback={<CircularProgress size={20} aria-label="Loading the chart" />}>
              <FeatureHistogram
                edges={detail.histogram.edges}
                counts={detail.histogram.counts}
                shown={tab === 'input' || tab === 'steer' ? [] : shown}
              />
            </Suspense>
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
