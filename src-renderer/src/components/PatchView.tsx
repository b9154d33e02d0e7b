import type { FeatureExample } from '@contract/contract';
import { useEffect, useRef } from 'react';
import { workspaceFileUrl } from '../api/client';

/** Loads an image once per URL (the same item appears in several examples). */
const images = new Map<string, Promise<HTMLImageElement>>();
function loadImage(url: string): Promise<HTMLImageElement> {
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
 * An example's image patch: the crop around the patch (one patch of margin, the patch outlined),
 * and the whole image with this feature's activation over every image token as a heatmap.
 */
export function PatchView({ example, maxActivation, size = 112 }: { example: FeatureExample; maxActivation: number; size?: number }) {
  const crop = useRef<HTMLCanvasElement>(null);
  const heat = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!example.imagePath || !example.heatmap) return;
    let cancelled = false;
    void loadImage(workspaceFileUrl(example.imagePath)).then(
      (img) => {
        if (cancelled) return;
        const { rows, cols, values } = example.heatmap!;
        const pw = img.naturalWidth / cols;
        const ph = img.naturalHeight / rows;
        const c = crop.current?.getContext('2d');
        if (c && example.patchRow !== null && example.patchCol !== null) {
          const r0 = Math.max(0, example.patchRow - 1);
          const c0 = Math.max(0, example.patchCol - 1);
          const r1 = Math.min(rows, example.patchRow + 2);
          const c1 = Math.min(cols, example.patchCol + 2);
          c.imageSmoothingEnabled = false;
          c.clearRect(0, 0, size, size);
          c.drawImage(img, c0 * pw, r0 * ph, (c1 - c0) * pw, (r1 - r0) * ph, 0, 0, size, size);
          c.strokeStyle = '#00e5ff';
          c.lineWidth = 2;
          c.strokeRect(
            ((example.patchCol - c0) / (c1 - c0)) * size,
            ((example.patchRow - r0) / (r1 - r0)) * size,
            size / (c1 - c0),
            size / (r1 - r0),
          );
        }
        const h = heat.current?.getContext('2d');
        if (h) {
          h.drawImage(img, 0, 0, size, size);
          const scale = maxActivation > 0 ? maxActivation : 1;
          for (let r = 0; r < rows; r++) {
            for (let q = 0; q < cols; q++) {
              const v = Math.min(1, values[r * cols + q]! / scale);
              if (v <= 0) continue;
              h.fillStyle = `rgba(255, 61, 0, ${0.15 + 0.7 * v})`;
              h.fillRect((q * size) / cols, (r * size) / rows, size / cols, size / rows);
            }
          }
        }
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [example, maxActivation, size]);
  if (!example.imagePath || !example.heatmap) return null;
  return (
    <span style={{ display: 'inline-flex', gap: 4 }}>
      {example.modality === 'image' && (
        <canvas ref={crop} width={size} height={size} data-testid="patch-crop" title="Patch (outlined) with one patch of context" />
      )}
      <canvas ref={heat} width={size} height={size} data-testid="patch-heatmap" title="This feature over every image token" />
    </span>
  );
}
