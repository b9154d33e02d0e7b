import type { FeatureDetail, LabelStatus } from '@contract/contract';
import { Alert, Box, Chip, CircularProgress, Stack, Typography } from '@mui/material';
import { BarChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { forwardRef, useEffect, useRef } from 'react';
import { LabelEditor } from './LabelEditor';
import { PatchView } from './PatchView';

echarts.use([BarChart, GridComponent, TooltipComponent, CanvasRenderer]);

function Histogram({ edges, counts }: { edges: number[]; counts: number[] }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    const used = counts.map((c, i) => [i, c] as const).filter(([, c]) => c > 0);
    const lo = used.length ? used[0]![0] : 0;
    const hi = used.length ? used[used.length - 1]![0] : 0;
    chart.setOption({
      animation: false,
      grid: { left: 48, right: 8, top: 8, bottom: 36 },
      tooltip: { trigger: 'axis' },
      xAxis: {
        type: 'category',
        name: 'activation',
        nameLocation: 'middle',
        nameGap: 24,
        data: edges.slice(lo, hi + 1).map((e) => e.toPrecision(2)),
      },
      yAxis: { type: 'value', name: 'tokens' },
      series: [{ type: 'bar', data: counts.slice(lo, hi + 1), itemStyle: { color: '#3d5afe' } }],
    });
    return () => chart.dispose();
  }, [edges, counts]);
  return <div ref={ref} style={{ width: '100%', height: 180 }} data-testid="feature-histogram" />;
}

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);

/** A feature page: statistics, histogram, logit effects, top examples (patches, heatmaps, text), label. */
export const FeaturePanel = forwardRef<
  HTMLInputElement,
  {
    detail: FeatureDetail | null;
    error: string | null;
    saeId: number;
    feature: number;
    pendingStatus: LabelStatus | null;
    onSaved: () => void;
  }
>(function FeaturePanel({ detail, error, saeId, feature, pendingStatus, onSaved }, labelRef) {
  if (error) return <Alert severity="error">{error}</Alert>;
  if (!detail) return <CircularProgress aria-label="Loading feature" />;
  const { row } = detail;
  return (
    <Stack spacing={2} data-testid="feature-panel">
      <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap>
        <Typography variant="h6" data-testid="feature-title">
          Feature {row.feature}
        </Typography>
        <Chip size="small" label={row.status} />
        <Typography variant="body2" color="text.secondary">
          density {pct(row.density)} · max {row.maxAct.toFixed(3)} · mean {row.meanAct.toFixed(3)} · median{' '}
          {detail.quantiles.q50.toFixed(3)} · p99 {detail.quantiles.q99.toFixed(3)} · image share {pct(row.imageShare)} · cross-modal{' '}
          {row.crossModal === null ? '–' : row.crossModal.toFixed(2)}
        </Typography>
      </Stack>
      <LabelEditor ref={labelRef} saeId={saeId} feature={feature} label={detail.label} status={pendingStatus} onSaved={onSaved} />
      <Stack direction={{ xs: 'column', lg: 'row' }} spacing={2}>
        <Box sx={{ flex: 1 }}>
          <Typography variant="subtitle2">Activation histogram (non-zero)</Typography>
          <Histogram edges={detail.histogram.edges} counts={detail.histogram.counts} />
        </Box>
        <Box sx={{ flex: 1 }} data-testid="logit-effects">
          <Typography variant="subtitle2">Logit effects (decoder direction through the final norm and unembedding)</Typography>
          {detail.logits ? (
            <Stack direction="row" spacing={2} sx={{ fontFamily: 'monospace', fontSize: 13 }}>
              <Box>
                <b>promotes</b>
                {detail.logits.promoted.map((t, i) => (
                  <div key={i}>
                    {JSON.stringify(t.token)} {t.activation.toFixed(2)}
                  </div>
                ))}
              </Box>
              <Box>
                <b>suppresses</b>
                {detail.logits.suppressed.map((t, i) => (
                  <div key={i}>
                    {JSON.stringify(t.token)} {t.activation.toFixed(2)}
                  </div>
                ))}
              </Box>
            </Stack>
          ) : (
            <Typography variant="body2" color="text.secondary">
              Not available for this tap or model.
            </Typography>
          )}
        </Box>
      </Stack>
      <Typography variant="subtitle2">Top activating examples</Typography>
      <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(300px, 1fr))', gap: 1.5 }} data-testid="feature-examples">
        {detail.examples.map((e) => (
          <Box key={e.row} sx={{ border: 1, borderColor: 'divider', borderRadius: 1, p: 1 }} data-testid="feature-example">
            <Typography variant="caption" component="div">
              #{e.rank + 1} · {e.activation.toFixed(3)} · {e.modality}
              {e.patchRow !== null ? ` patch (${e.patchRow}, ${e.patchCol})` : ` token ${e.position}`}
            </Typography>
            <PatchView example={e} maxActivation={row.maxAct} />
            <Box sx={{ fontFamily: 'monospace', fontSize: 12, lineHeight: 1.8, wordBreak: 'break-word' }}>
              {e.context.map((t, i) => (
                <span
                  key={i}
                  title={t.activation.toFixed(3)}
                  style={{
                    background:
                      t.activation > 0 ? `rgba(255, 61, 0, ${Math.min(0.85, 0.15 + t.activation / (row.maxAct || 1))})` : undefined,
                    outline: t.at ? '1px solid #263238' : undefined,
                    whiteSpace: 'pre',
                  }}
                >
                  {t.token}
                </span>
              ))}
            </Box>
            <Typography variant="caption" color="text.secondary" component="div" data-testid="ground-truth">
              {e.task ? `${e.task}: ` : ''}
              {e.question} → {e.answer}
              {e.object ? ` · under the patch: ${e.object.size} ${e.object.color} ${e.object.shape}` : ''}
            </Typography>
          </Box>
        ))}
      </Box>
    </Stack>
  );
});
