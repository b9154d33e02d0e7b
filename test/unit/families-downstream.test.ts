/**
 * Everything downstream of generation on the families with dynamic resolution (tiny random-weight
 * exports of Qwen2.5-VL, Qwen3-VL, Qwen3.5, Idefics3 with image splitting and LLaVA-OneVision's anyres): harvest of decoder and vision
 * taps for image, text and generated tokens (values equal to a direct run of the tapped graph,
 * every image row with its tile and its box in the original image's pixels), SAE training,
 * analysis with patch heatmaps, spliced evaluation and an ablation experiment with controls.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HarvestStore } from '../../src-main/core/harvest/harvest-store';
import { SessionPool } from '../../src-main/core/runtime/session-pool';
import { Workspace } from '../../src-main/core/store/workspace';
import { backendWithBenchmark } from '../helpers/backend';
import { directDecoderTap } from '../helpers/direct-run';
import { repoRoot, sessionHostEntry } from '../helpers/tmp';

const FAMILIES: Array<{ fixture: string; vision: boolean }> = [
  { fixture: 'tiny-qwen2_5_vl', vision: true },
  { fixture: 'tiny-qwen3_vl', vision: true },
  { fixture: 'tiny-qwen3_5', vision: true },
  { fixture: 'tiny-idefics3-split', vision: true },
  { fixture: 'tiny-llava_onevision', vision: true },
];

for (const { fixture, vision } of FAMILIES) {
  const model = path.join(repoRoot, 'test', 'fixtures', 'vlm', fixture);
  const taps = ['blocks.1.hook_resid_post', ...(vision ? ['vision.blocks.1.hook_resid_post'] : [])];

  describe(`${fixture} downstream`, () => {
    it('harvest -> train -> analyze -> evaluate -> experiment', async () => {
      const { b, ws, call, until, done, datasetId } = await backendWithBenchmark(5, 1);
      const { id: modelId } = await call('models.add', { path: model });
      const started = await call('harvests.start', {
        modelId,
        datasetId,
        taps,
        tokenKinds: ['image', 'text', 'generated'],
        dtype: 'fp32',
        limit: 6,
        batchSize: 3,
        maxNewTokens: 3,
        shardRows: 64,
        device: 'cpu',
      });
      const harvested = await until(started.job.id, done);
      expect(harvested.error).toBeNull();
      const h = (await call('harvests.list', {})).find((x) => x.id === started.harvest.id)!;

      const workspace = Workspace.open(ws, { readOnly: true });
      try {
        const store = new HarvestStore(workspace.db, ws);
        const index = store.rowIndex(h.id, 'decoder');
        expect(new Set(index.map((r) => r.modality))).toEqual(new Set(['image', 'text', 'generated']));
        const images = index.filter((r) => r.modality === 'image');
        // Every image row knows its tile and its box, inside the original image.
        // (LLaVA-OneVision's newline tokens, one per grid row, stand for no pixels: no cell, no box.)
        const patches = images.filter((r) => r.patchRow !== null);
        expect(images.filter((r) => r.patchRow === null).every((r) => r.box === null || fixture !== 'tiny-llava_onevision')).toBe(true);
        expect(patches.every((r) => r.tile !== null && r.box !== null && r.box[2] > r.box[0] && r.box[3] > r.box[1])).toBe(true);
        if (vision) {
          const v = store.rowIndex(h.id, 'vision');
          expect(v.length).toBe(h.rows.vision);
          expect(v.every((r) => r.box !== null && r.patchRow !== null)).toBe(true);
        }
        // The first item's prompt rows equal a direct run of the tapped decoder.
        const decoded = store.readTap(h.id, 'blocks.1.hook_resid_post');
        const pool = new SessionPool({ hostEntry: sessionHostEntry, size: 1 });
        try {
          const first = index[0]!.itemId;
          const direct = await directDecoderTap(workspace, pool, model, first, 'blocks.1.hook_resid_post');
          let worst = 0;
          index.forEach((r, i) => {
            if (r.itemId !== first || r.modality === 'generated') return;
            for (let k = 0; k < 32; k++) worst = Math.max(worst, Math.abs(decoded.data[i * 32 + k]! - direct[r.position * 32 + k]!));
          });
          expect(worst).toBeLessThan(1e-4);
        } finally {
          await pool.close();
        }
      } finally {
        workspace.close();
      }

      const train = await call('saes.train', {
        harvestId: h.id,
        tap: 'blocks.1.hook_resid_post',
        expansion: 2,
        k: 4,
        steps: 40,
        batchSize: 32,
        checkpointEvery: 20,
        logEvery: 10,
        device: 'cpu',
      });
      const trained = await until(train.id, done);
      expect(trained.error).toBeNull();
      const saeId = (trained.result as { saeId: number }).saeId;

      const analysis = await call('analyses.start', {
        saeId,
        harvestId: h.id,
        topN: 5,
        device: 'cpu',
      });
      expect((await until(analysis.job.id, done)).error).toBeNull();
      const features = await call('features.list', {
        analysisId: analysis.analysis.id,
        sort: 'density',
        order: 'desc',
        limit: 5,
      });
      const top = features.features[0]!;
      const detail = await call('features.get', { analysisId: analysis.analysis.id, feature: top.feature });
      const withImage = detail.examples.find((e) => e.heatmap !== null);
      expect(withImage).toBeDefined();
      // The heatmap's cells carry boxes in original-image pixels; its grid is one tile of one image.
      expect(withImage!.heatmap!.cells!.length).toBeGreaterThan(0);
      expect(withImage!.heatmap!.values).toHaveLength(withImage!.heatmap!.rows * withImage!.heatmap!.cols);

      const evaluation = await call('saes.evaluate', {
        saeId,
        modelId,
        datasetId,
        limit: 4,
        batchSize: 2,
        maxNewTokens: 3,
        device: 'cpu',
      });
      const evaluated = await until(evaluation.id, done);
      expect(evaluated.error).toBeNull();

      const experiment = await call('experiments.start', {
        name: `${fixture} ablation`,
        modelId,
        saeId,
        analysisId: analysis.analysis.id,
        datasetId,
        limit: 6,
        featureSets: [{ name: 'top', features: features.features.slice(0, 2).map((f) => f.feature) }],
        operation: { op: 'zero' },
        controls: { randomSets: 1, randomDirections: true, union: false },
        resamples: 200,
        maxNewTokens: 3,
        batchSize: 3,
        device: 'cpu',
      });
      const ran = await until(experiment.job.id, done);
      expect(ran.error).toBeNull();
      const record = (await call('experiments.list', {})).find((x) => x.id === experiment.experiment.id)!;
      expect(record.results!.conditions.map((c) => c.kind)).toEqual(['baseline', 'intervention', 'random-set', 'random-direction']);

      if (vision) {
        // An intervention in the vision tower (Qwen's packed [patches, d] tokens, images of several
        // sizes in one batch), clamped where the features fire; the decoder reads the edited features.
        const vtrain = await until(
          (
            await call('saes.train', {
              harvestId: h.id,
              tap: 'vision.blocks.1.hook_resid_post',
              expansion: 2,
              k: 4,
              steps: 40,
              batchSize: 32,
              checkpointEvery: 20,
              logEvery: 10,
              device: 'cpu',
            })
          ).id,
          done,
        );
        expect(vtrain.error).toBeNull();
        const vSae = (vtrain.result as { saeId: number }).saeId;
        const va = await call('analyses.start', {
          saeId: vSae,
          harvestId: h.id,
          topN: 5,
          device: 'cpu',
        });
        expect((await until(va.job.id, done)).error).toBeNull();
        const vTop = await call('features.list', {
          analysisId: va.analysis.id,
          sort: 'density',
          order: 'desc',
          limit: 2,
        });
        const vx = await call('experiments.start', {
          name: `${fixture} vision clamp`,
          modelId,
          saeId: vSae,
          analysisId: va.analysis.id,
          datasetId,
          limit: 6,
          featureSets: [{ name: 'top', features: vTop.features.map((f) => f.feature) }],
          operation: { op: 'clamp', values: [5] },
          where: 'image',
          patches: 'firing',
          controls: { randomSets: 1, randomDirections: true, union: false },
          resamples: 200,
          maxNewTokens: 3,
          batchSize: 3,
          device: 'cpu',
        });
        expect((await until(vx.job.id, done)).error).toBeNull();
        const vr = (await call('experiments.list', {})).find((x) => x.id === vx.experiment.id)!.results!;
        const [base, clamp, , direction] = vr.conditions;
        expect(vr.conditions.map((c) => c.kind)).toEqual(['baseline', 'intervention', 'random-set', 'random-direction']);
        expect(base!.shiftNorm).toBe(0);
        expect(clamp!.shiftNorm).toBeGreaterThan(0);
        expect(direction!.shiftNorm).toBeCloseTo(clamp!.shiftNorm, 3);
        expect(clamp!.klFirstToken).toBeGreaterThan(0);
      }
      void b;
    }, 400_000);
  });
}
