import type { FeatureExample } from '@contract/contract';
import { Box, Typography } from '@mui/material';
import { PatchView, type HeatMode } from './PatchView';

/** Text tokens shaded by the feature's activation (amber, light enough that the text stays readable). */
export function TokenStrip({ tokens, scale }: { tokens: Array<{ token: string; activation: number; at?: boolean }>; scale: number }) {
  return (
    <Box sx={{ fontFamily: 'monospace', fontSize: 12, lineHeight: 1.9, wordBreak: 'break-word' }} data-testid="token-strip">
      {tokens.map((t, i) => (
        <span
          key={i}
          title={t.activation.toFixed(3)}
          style={{
            background: t.activation > 0 ? `rgba(255, 152, 0, ${Math.min(0.75, 0.12 + (0.63 * t.activation) / (scale || 1))})` : undefined,
            outline: t.at ? '2px solid #263238' : undefined,
            whiteSpace: 'pre',
          }}
        >
          {t.token}
        </span>
      ))}
    </Box>
  );
}

export function ExampleCard({ example: e, scale, mode }: { example: FeatureExample; scale: number; mode: HeatMode }) {
  return (
    <Box
      component="li"
      sx={{ listStyle: 'none', border: 1, borderColor: 'divider', borderRadius: 1, p: 1, minWidth: 0 }}
      data-testid="feature-example"
      data-modality={e.modality}
    >
      <Typography variant="caption" component="div" sx={{ fontWeight: 600 }}>
        #{e.rank + 1} · {e.activation.toFixed(3)} · {e.modality}
        {e.patchRow !== null ? ` patch (${e.patchRow}, ${e.patchCol})` : ` token ${e.position}`}
      </Typography>
      <PatchView example={e} scale={scale} mode={mode} />
      {/* An image example's text only matters where the feature also fires on it (the question is in the line below). */}
      {e.context.length > 0 && (e.modality !== 'image' || e.context.some((t) => t.activation > 0)) && (
        <TokenStrip tokens={e.context} scale={scale} />
      )}
      <Typography variant="caption" color="text.secondary" component="div" data-testid="ground-truth" sx={{ wordBreak: 'break-word' }}>
        {e.task ? `${e.task}: ` : ''}
        {e.question} → {e.answer}
        {e.object ? ` · under the patch: ${e.object.size} ${e.object.color} ${e.object.shape}` : ''}
      </Typography>
    </Box>
  );
}

/** Example cards in a responsive grid (a list, for screen readers). */
export function ExampleGrid({
  examples,
  scale,
  mode,
  testId = 'feature-examples',
}: {
  examples: FeatureExample[];
  scale: number;
  mode: HeatMode;
  testId?: string;
}) {
  return (
    <Box
      component="ul"
      sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(232px, 1fr))', gap: 1, p: 0, m: 0 }}
      data-testid={testId}
    >
      {examples.map((e) => (
        <ExampleCard key={`${e.row}-${e.rank}`} example={e} scale={scale} mode={mode} />
      ))}
    </Box>
  );
}
