import type { FeatureExample } from '@contract/contract';
import { Box, ToggleButton, ToggleButtonGroup, Tooltip } from '@mui/material';
import { useEffect, useRef } from 'react';
import { workspaceFileUrl } from '../api/client';
import { viridisCss, viridisGradient } from '../lib/colormap';

export type HeatMode = 'overlay' | 'outline';
export interface Heat {
  rows: number;
  cols: number;
  values: number[];
}

/** Loads an image once per URL (the same item appears in several examples). */
const images = new Map<string, Promise<HTMLImageElement>>();
export function loadImage(url: string): Promise<HTMLImageElement> {
  let p = images.get(url);
  if (!p) {
    p = new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error(`cannot load ${url}`));
      img.src = url;
    });
    images.set(url, p);
  }
  return p;
}

/**
 * A feature over an image's patches, in a perceptual colormap (viridis) scaled to `scale`. Overlay:
 * the picture in grey, dimmed, under coloured cells, so the map never clashes with the picture's own
 * colours. Outline: the picture as it is, with each active patch framed (dark edge, colour by strength,
 * thicker when stronger).
 */
export function drawHeat(
  c: CanvasRenderingContext2D,
  img: CanvasImageSource,
  heat: Heat,
  scale: number,
  mode: HeatMode,
  size: number,
): void {
  const { rows, cols, values } = heat;
  c.clearRect(0, 0, size, size);
  c.filter = mode === 'overlay' ? 'grayscale(1) contrast(0.55) brightness(1.15)' : 'none';
  c.drawImage(img, 0, 0, size, size);
  c.filter = 'none';
  const cw = size / cols;
  const ch = size / rows;
  for (let r = 0; r < rows; r++)
    for (let q = 0; q < cols; q++) {
      const v = Math.min(1, values[r * cols + q]! / (scale > 0 ? scale : 1));
      if (!(v > 0)) continue;
      if (mode === 'overlay') {
        c.fillStyle = viridisCss(v, 0.6 + 0.4 * v);
        c.fillRect(q * cw, r * ch, cw, ch);
      } else if (v > 0.05) {
        const w = 1 + 2.5 * v;
        c.lineWidth = w + 2;
        c.strokeStyle = 'rgba(0, 0, 0, 0.85)';
        c.strokeRect(q * cw + w / 2 + 1, r * ch + w / 2 + 1, cw - w - 2, ch - w - 2);
        c.lineWidth = w;
        c.strokeStyle = viridisCss(0.25 + 0.75 * v);
        c.strokeRect(q * cw + w / 2 + 1, r * ch + w / 2 + 1, cw - w - 2, ch - w - 2);
      }
    }
}

/** The patch with one patch of context around it, the patch itself outlined. */
function drawCrop(c: CanvasRenderingContext2D, img: HTMLImageElement, heat: Heat, row: number, col: number, size: number): void {
  const pw = img.naturalWidth / heat.cols;
  const ph = img.naturalHeight / heat.rows;
  const r0 = Math.max(0, row - 1);
  const c0 = Math.max(0, col - 1);
  const r1 = Math.min(heat.rows, row + 2);
  const c1 = Math.min(heat.cols, col + 2);
  c.imageSmoothingEnabled = false;
  c.clearRect(0, 0, size, size);
  c.drawImage(img, c0 * pw, r0 * ph, (c1 - c0) * pw, (r1 - r0) * ph, 0, 0, size, size);
  const x = ((col - c0) / (c1 - c0)) * size;
  const y = ((row - r0) / (r1 - r0)) * size;
  const w = size / (c1 - c0);
  const h = size / (r1 - r0);
  c.lineWidth = 4;
  c.strokeStyle = '#000';
  c.strokeRect(x, y, w, h);
  c.lineWidth = 2;
  c.strokeStyle = '#fff';
  c.strokeRect(x, y, w, h);
}

function Canvases({ example, scale, size, mode }: { example: FeatureExample; scale: number; size: number; mode: HeatMode }) {
  const crop = useRef<HTMLCanvasElement>(null);
  const heat = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!example.imagePath || !example.heatmap) return;
    let cancelled = false;
    void loadImage(workspaceFileUrl(example.imagePath)).then(
      (img) => {
        if (cancelled) return;
        const c = crop.current?.getContext('2d');
        if (c && example.patchRow !== null && example.patchCol !== null)
          drawCrop(c, img, example.heatmap!, example.patchRow, example.patchCol, size);
        const h = heat.current?.getContext('2d');
        if (h) drawHeat(h, img, example.heatmap!, scale, mode, size);
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [example, scale, size, mode]);
  return (
    <span style={{ display: 'inline-flex', gap: 4 }}>
      {example.modality === 'image' && (
        <canvas
          ref={crop}
          width={size}
          height={size}
          data-testid="patch-crop"
          aria-label={`Patch (${example.patchRow}, ${example.patchCol}) with one patch of context`}
          role="img"
        />
      )}
      <canvas
        ref={heat}
        width={size}
        height={size}
        data-testid="patch-heatmap"
        aria-label="This feature over every image patch"
        role="img"
      />
    </span>
  );
}

/** An example's patch crop and heatmap; hovering (or focusing) shows both larger. */
export function PatchView({ example, scale, mode, size = 104 }: { example: FeatureExample; scale: number; mode: HeatMode; size?: number }) {
  if (!example.imagePath || !example.heatmap) return null;
  return (
    <Tooltip
      enterDelay={200}
      placement="right-start"
      slotProps={{ tooltip: { sx: { bgcolor: 'background.paper', color: 'text.primary', boxShadow: 4, maxWidth: 'none', p: 1 } } }}
      title={
        <Box data-testid="patch-enlarged">
          <Canvases example={example} scale={scale} size={256} mode={mode} />
        </Box>
      }
    >
      <Box
        component="span"
        tabIndex={0}
        sx={{ display: 'inline-flex', borderRadius: 0.5 }}
        aria-label="Enlarge the patch and heatmap"
        role="button"
      >
        <Canvases example={example} scale={scale} size={size} mode={mode} />
      </Box>
    </Tooltip>
  );
}

/** The colour scale of the heatmaps: 0 to the feature's maximum activation. */
export function HeatLegend({ max }: { max: number }) {
  return (
    <Box sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.75, fontSize: 12 }} data-testid="heat-legend">
      <span>0</span>
      <Box sx={{ width: 120, height: 10, borderRadius: 0.5, background: viridisGradient }} aria-hidden />
      <span>{max.toFixed(2)} (max)</span>
    </Box>
  );
}

/** Overlay (colour over the picture in grey) or outline (the picture as it is, active patches framed). */
export function HeatModeToggle({ mode, onMode }: { mode: HeatMode; onMode: (m: HeatMode) => void }) {
  return (
    <ToggleButtonGroup size="small" exclusive value={mode} onChange={(_, m: HeatMode | null) => m && onMode(m)} aria-label="Heatmap style">
      <ToggleButton value="overlay" sx={{ py: 0.25 }}>
        Overlay
      </ToggleButton>
      <ToggleButton value="outline" sx={{ py: 0.25 }}>
        Outline
      </ToggleButton>
    </ToggleButtonGroup>
  );
}
