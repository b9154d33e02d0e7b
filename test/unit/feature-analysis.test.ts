/**
 * Feature analysis on the bundled demo model: harvest its first decoder layer into several shards,
 * train a TopK SAE, analyse it, and check the analysis against a direct computation, its feature
 * pages against the analysis, the real structure the benchmark's scene annotations reveal (features
 * whose top patches are one colour, others one shape), logit effects through the sliced
 * unembedding, labels (history, export/import round trip, conflicts never overwritten), and the feature
 * workbench (samples and intervals, neighbours, content search, your own input, steering) against
 * direct computations.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureDetail } from '../../src-main/contract/contract';
import { AnalysisStore } from '../../src-main/core/analysis/analysis-store';
import { ContentSearch } from '../../src-main/core/analysis/content-search';
import { FeatureDetails } from '../../src-main/core/analysis/feature-detail';
import { FeatureSamples } from '../../src-main/core/analysis/feature-samples';
import { LabelStore } from '../../src-main/core/analysis/label-store';
import { nearestByDecoderCosine } from '../../src-main/core/analysis/nearest';
import { exportNeuronpedia } from '../../src-main/core/analysis/neuronpedia-export';
import { InputWorkbench } from '../../src-main/core/analysis/probe-input';
import { DatasetStore } from '../../src-main/core/datasets/dataset-store';
import { gunzipSync } from 'node:zlib';
import { pureFeatures } from '../../src-main/core/analysis/purity';
import { HarvestStore } from '../../src-main/core/harvest/harvest-store';
import { ShardReader } from '../../src-main/core/harvest/shard-reader';
import { writeEditedGraph, writeUnembedGraph } from '../../src-main/core/onnx/edited-graph';
import { SessionPool } from '../../src-main/core/runtime/session-pool';
import { encode } from '../../src-main/core/sae/sae-io';
import { SaeStore } from '../../src-main/core/sae/sae-store';
import { Workspace } from '../../src-main/core/store/workspace';
import { VlmPipeline } from '../../src-main/core/vlm/pipeline';
import { DEMO, demoSaeWorkspace } from '../helpers/demo-workspace';
import { sessionHostEntry } from '../helpers/tmp';

const TAP = 'blocks.0.hook_resid_post';
let root: string;
let ws: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-analysis-'));
  ws = path.join(root, 'ws');
  await demoSaeWorkspace(root, {
    tap: TAP,
    seed: 21,
    perCell: 10,
    steps: 600,
    analyze: true,
    harvestExtra: ['--shard-rows', '3000'],
    timeoutMs: 180_000,
  });
}, 400_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function withWorkspace<T>(fn: (w: Workspace) => T, readOnly = true): T {
  const w = Workspace.open(ws, { readOnly });
  try {
    return fn(w);
  } finally {
    w.close();
  }
}

describe('the analysis pass', () => {
  it('streams several shards and agrees with a direct computation over all rows', () => {
    withWorkspace((w) => {
      const harvests = new HarvestStore(w.db, ws);
      const shards = (w.db.prepare('SELECT count(*) AS n FROM harvest_shards WHERE harvest_id = 1').get() as { n: number }).n;
      expect(shards).toBeGreaterThan(3);
      const { data, rows } = harvests.readTap(1, TAP);
      const sae = new SaeStore(w.db, ws).load(1);
      const acts = encode(sae, data);
      const store = new AnalysisStore(w.db);
      const a = store.get(1);
      expect(a.summary!.rows).toBe(rows);
      const list = store.features(1, { offset: 0, limit: 1000, sort: 'feature', order: 'asc', search: '', status: null }).features;
      expect(list).toHaveLength(sae.dSae);
      let checked = 0;
      for (const f of list.filter((x) => x.density > 0.01).slice(0, 40)) {
        let count = 0;
        let max = 0;
        let argmax = -1;
        for (let r = 0; r < rows; r++) {
          const v = acts[r * sae.dSae + f.feature]!;
          if (v > 0) count++;
          if (v > max) [max, argmax] = [v, r];
        }
        // TopK ties at the k-th place can differ between float32 in ONNX Runtime and the reference.
        expect(Math.abs(f.density - count / rows), `density of ${f.feature}`).toBeLessThan(0.002);
        expect(f.maxAct).toBeCloseTo(max, 3);
        expect(store.feature(1, f.feature).examples.top[0]!.row).toBe(argmax);
        checked++;
      }
      expect(checked).toBeGreaterThan(20);
    });
  });

  it('finds features whose top-20 patches are >= 80% one ground-truth colour, and others one shape', () => {
    withWorkspace((w) => {
      const details = new FeatureDetails(w.db, ws);
      const list = new AnalysisStore(w.db)
        .features(1, { offset: 0, limit: 1000, sort: 'feature', order: 'asc', search: '', status: null })
        .features.filter((f) => f.density > 0);
      const pure = pureFeatures(
        list.map((f) => details.get(1, f.feature)),
        { minExamples: 20, threshold: 0.8 },
      );
      expect(pure.examined).toBeGreaterThan(100);
      expect(pure.colour.length).toBeGreaterThan(0);
      expect(pure.shape.length).toBeGreaterThan(0);
      // Several distinct colours and shapes, not one artefact repeated.
      expect(new Set(pure.colour.map((p) => p.value)).size).toBeGreaterThan(1);
      expect(new Set(pure.shape.map((p) => p.value)).size).toBeGreaterThan(1);
    });
  });

  it("feature pages recompute each example's activation from the encoder column (heatmaps and contexts agree with the analysis)", () => {
    withWorkspace((w) => {
      const details = new FeatureDetails(w.db, ws);
      const list = new AnalysisStore(w.db).features(1, {
        offset: 0,
        limit: 30,
        sort: 'density',
        order: 'desc',
        search: '',
        status: null,
      }).features;
      let image = 0;
      let text = 0;
      for (const f of list) {
        const d: FeatureDetail = details.get(1, f.feature);
        expect(d.histogram.counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
        expect(d.logits!.promoted).toHaveLength(10);
        for (const e of d.examples) {
          expect(e.question.length).toBeGreaterThan(0);
          if (e.modality === 'image') {
            expect(e.imagePath).toMatch(/^blobs\/analyses\/1\/images\//);
            expect(fs.existsSync(path.join(ws, e.imagePath!))).toBe(true);
            // Image tokens without a grid position (a CLS-like token) have no heatmap cell.
            if (e.patchRow === null) continue;
            expect(e.heatmap!.values[e.patchRow * e.heatmap!.cols + e.patchCol!]).toBeCloseTo(e.activation, 3);
            image++;
          } else {
            const at = e.context.find((t) => t.at)!;
            expect(at.activation).toBeCloseTo(e.activation, 3);
            expect(at.token.trim().length).toBeGreaterThan(0);
            text++;
          }
        }
      }
      expect(image).toBeGreaterThan(0);
      expect(text).toBeGreaterThan(0);
    });
  });
});

describe('logit effects', () => {
  it("the sliced unembedding graph gives the model's own logits from its last residual stream", async () => {
    const pool = new SessionPool({ hostEntry: sessionHostEntry, size: 1 });
    try {
      const vlm = await VlmPipeline.load(DEMO, pool, 'cpu');
      const exposed = writeEditedGraph(vlm.files.decoder, { expose: ['blocks.2.hook_resid_post'] }, { cacheDir: path.join(root, 'cache') });
      const session = await pool.load(exposed.path, 'cpu');
      const bench = path.join(root, 'bench');
      const items = JSON.parse(
        `[${fs.readFileSync(path.join(bench, 'items.jsonl'), 'utf8').trim().split('\n').slice(0, 2).join(',')}]`,
      ) as Array<{ image: string; question: string }>;
      const prefix = await vlm.prepare(items.map((it) => ({ image: path.join(bench, it.image), prompt: it.question })));
      const out = await pool.run(session, vlm.prefillFeeds(prefix));
      const resid = out['blocks.2.hook_resid_post']!;
      const unembed = writeUnembedGraph(vlm.files.decoder, { cacheDir: path.join(root, 'cache') });
      const s = await ort.InferenceSession.create(unembed.path);
      const logits = (await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', resid.data as Float32Array, resid.dims) })).logits!
        .data as Float32Array;
      const expected = out.logits!.data as Float32Array;
      expect(logits.length).toBe(expected.length);
      let diff = 0;
      for (let i = 0; i < logits.length; i++) diff = Math.max(diff, Math.abs(logits[i]! - expected[i]!));
      expect(diff).toBeLessThan(1e-4);
    } finally {
      await pool.close();
    }
  });
});

describe('labels', () => {
  it('keep their history, round-trip through JSON and CSV, and list conflicting imports without overwriting', () => {
    withWorkspace((w) => {
      const labels = new LabelStore(w.db);
      labels.set(1, { feature: 3, label: 'red patches', tags: ['colour', 'red'], confidence: 0.9, status: 'labelled', annotator: 'ana' });
      labels.set(1, { feature: 3, label: 'red objects', tags: ['colour'], confidence: 0.8, status: 'labelled', annotator: 'ana' });
      labels.set(1, { feature: 7, label: 'triangles, "pointy"', tags: [], confidence: null, status: 'needs-review', annotator: 'ben' });
      expect(labels.history(1, 3).map((h) => h.label)).toEqual(['red objects', 'red patches']);
      for (const format of ['json', 'csv'] as const) {
        const exported = labels.export(1, format);
        const parsed = LabelStore.parse(format, exported.content);
        expect(parsed).toEqual(labels.all(1));
        // Importing our own export changes nothing.
        expect(labels.import(1, parsed)).toEqual({ applied: 0, unchanged: 2, conflicts: [] });
      }
      // Another annotator's file: one new label merges, one different label is a conflict and is not applied.
      const theirs = LabelStore.parse('json', labels.export(1, 'json').content).map((l) =>
        l.feature === 3 ? { ...l, label: 'warm colours', annotator: 'cleo' } : l,
      );
      theirs.push({
        feature: 11,
        label: 'circles',
        tags: ['shape'],
        confidence: 0.5,
        status: 'labelled',
        annotator: 'cleo',
        updatedAt: new Date().toISOString(),
      });
      const r = labels.import(1, theirs);
      expect(r.applied).toBe(1);
      expect(r.conflicts.map((c) => [c.feature, c.ours.label, c.theirs.label])).toEqual([[3, 'red objects', 'warm colours']]);
      expect(labels.get(1, 3)!.label).toBe('red objects');
      expect(labels.get(1, 11)!.label).toBe('circles');
      // Choosing their side for feature 3 applies it, and the history shows both.
      expect(labels.import(1, theirs, [3]).applied).toBe(1);
      expect(labels.get(1, 3)!.label).toBe('warm colours');
      expect(labels.history(1, 3)[0]).toMatchObject({ label: 'warm colours', source: 'import', annotator: 'cleo' });
      expect(() =>
        LabelStore.parse('csv', 'feature,label,tags,confidence,status,annotator,updated_at\nx,a,,,labelled,me,2026-01-01T00:00:00Z\n'),
      ).toThrow(/row 2: feature/);
    }, false);
  });
});

describe('sharing', () => {
  it("writes Neuronpedia's bulk layout for the text side and Ocular's records (with image patches) beside it", () => {
    withWorkspace((w) => {
      const out = path.join(root, 'share');
      const labels = new LabelStore(w.db);
      const labelled = labels.all(1).filter((l) => l.label.trim()).length;
      expect(labelled).toBeGreaterThan(0); // from the labels test
      const r = exportNeuronpedia(
        1,
        1,
        { analyses: new AnalysisStore(w.db), details: new FeatureDetails(w.db, ws), labels },
        { modelId: 'ocular-demo-vlm', source: '0-ocular-res-512', hookName: TAP, out, batchSize: 200, workspaceDir: ws },
      );
      expect(r.features).toBe(512);
      expect(r.explanations).toBe(labelled);
      const read = (rel: string) =>
        gunzipSync(fs.readFileSync(path.join(out, rel)))
          .toString()
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, any>);
      expect(r.files).toContain('ocular-demo-vlm/0-ocular-res-512/features/batch-2.jsonl.gz');
      const features = read('ocular-demo-vlm/0-ocular-res-512/features/batch-0.jsonl.gz');
      expect(features).toHaveLength(200);
      expect(features[0]).toMatchObject({ modelId: 'ocular-demo-vlm', layer: '0-ocular-res-512', index: '0', hookName: TAP });
      expect(features[0]!.freq_hist_data_bar_heights).toHaveLength(features[0]!.freq_hist_data_bar_values.length);
      const explanations = r.files.filter((f) => f.includes('/explanations/')).flatMap(read);
      expect(explanations.map((e) => e.description)).toContain('warm colours');
      const ocular = read('ocular-demo-vlm/0-ocular-res-512/ocular/batch-0.jsonl.gz');
      const patch = ocular.flatMap((f) => f.examples).find((e: any) => e.modality === 'image' && e.image);
      expect(patch.heatmap.values.length).toBe(patch.heatmap.rows * patch.heatmap.cols);
      expect(fs.existsSync(path.join(out, 'ocular-demo-vlm/0-ocular-res-512/ocular', patch.image))).toBe(true);
    });
  });
});

describe('the feature workbench', () => {
  it('samples a feature by modality and quantile interval exactly as a direct computation over every row ranks it', () => {
    withWorkspace((w) => {
      const harvests = new HarvestStore(w.db, ws);
      const { data, rows } = harvests.readTap(1, TAP);
      const sae = new SaeStore(w.db, ws).load(1);
      const acts = encode(sae, data);
      const details = new FeatureDetails(w.db, ws);
      const samples = new FeatureSamples(w.db, ws, details);
      const modality = new Map(
        (
          w.db.prepare("SELECT row, modality FROM harvest_rows WHERE harvest_id = 1 AND stream = 'decoder'").all() as Array<{
            row: number;
            modality: string;
          }>
        ).map((r) => [r.row, r.modality]),
      );
      const features = new AnalysisStore(w.db)
        .features(1, { offset: 0, limit: 6, sort: 'density', order: 'desc', search: '', status: null })
        .features.map((f) => f.feature);
      for (const f of features) {
        const direct = Array.from({ length: rows }, (_, r) => ({ row: r, a: acts[r * sae.dSae + f]! }))
          .filter((x) => x.a > 0 && modality.get(x.row) === 'image')
          .sort((x, y) => y.a - x.a || x.row - y.row);
        const top = samples.examples({ analysisId: 1, feature: f, modality: 'image', interval: null, offset: 0, limit: 10 });
        expect(top.scannedRows).toBe(rows);
        // TopK ties at the k-th place can differ by float rounding between the graph and the reference.
        expect(Math.abs(top.total - direct.length)).toBeLessThanOrEqual(Math.ceil(direct.length * 0.002));
        top.examples.forEach((e, i) => expect(e.activation).toBeCloseTo(direct[i]!.a, 3));
        // "More" continues the ranking where the first page ended.
        const next = samples.examples({ analysisId: 1, feature: f, modality: 'image', interval: null, offset: 10, limit: 5 });
        next.examples.forEach((e, i) => expect(e.activation).toBeCloseTo(direct[10 + i]!.a, 3));
        // Each interval's samples lie inside it, and the intervals share out every firing token.
        expect(top.intervals.reduce((s, iv) => s + iv.count, 0)).toBe(top.total);
        for (let j = 0; j < top.intervals.length; j++) {
          const iv = top.intervals[j]!;
          const s = samples.examples({ analysisId: 1, feature: f, modality: 'image', interval: j, offset: 0, limit: 6 });
          expect(s.examples.length).toBe(Math.min(6, iv.count));
          for (const e of s.examples) {
            expect(e.activation).toBeGreaterThanOrEqual(iv.lo);
            expect(e.activation).toBeLessThanOrEqual(iv.hi);
            expect(e.modality).toBe('image');
          }
        }
      }
    });
  });

  it('finds neighbours by decoder cosine, and content matches that agree with the ground truth under the patches', () => {
    withWorkspace((w) => {
      const sae = new SaeStore(w.db, ws).load(1);
      const d = sae.dIn;
      const f = 7;
      const cos = (g: number) => {
        let dot = 0;
        let a = 0;
        let b = 0;
        for (let i = 0; i < d; i++) {
          dot += sae.W_dec[f * d + i]! * sae.W_dec[g * d + i]!;
          a += sae.W_dec[f * d + i]! ** 2;
          b += sae.W_dec[g * d + i]! ** 2;
        }
        return dot / Math.sqrt(a * b);
      };
      const best = Array.from({ length: sae.dSae }, (_, g) => g)
        .filter((g) => g !== f)
        .sort((x, y) => cos(y) - cos(x))
        .slice(0, 5);
      expect(nearestByDecoderCosine(sae.W_dec, sae.dSae, f, 5).map((n) => n.feature)).toEqual(best);

      const details = new FeatureDetails(w.db, ws);
      const search = new ContentSearch(w.db, ws, details);
      const red = search.search(1, 'color:red', 5);
      expect(red.features.length).toBeGreaterThan(0);
      for (const m of red.features.slice(0, 3)) {
        const examples = details.get(1, m.feature).examples;
        const onRed = examples.filter((e) => e.object?.color === 'red').length;
        expect(m.score).toBeCloseTo(onRed / examples.length, 6);
      }
      const promotes = search.search(1, 'promotes:red', 5).features[0]!;
      expect(details.get(1, promotes.feature).logits!.promoted.some((t) => t.token.trim() === 'red')).toBe(true);
      expect(() => search.search(1, 'nonsense', 5)).toThrow(/kind:value/);
    });
  });

  it("runs your own image and prompt with the SAE: a feature's activation on every token equals the harvest's; steering by 1 is the identity", async () => {
    const pool = new SessionPool({ hostEntry: sessionHostEntry, size: 1 });
    const w = Workspace.open(ws, { readOnly: true });
    try {
      const sae = new SaeStore(w.db, ws).load(1);
      const harvests = new HarvestStore(w.db, ws);
      const h = harvests.meta(1);
      const dataset = new DatasetStore(w.db).get(h.datasetId);
      const item = new DatasetStore(w.db).items(dataset.id)[3]!;
      const image = fs.readFileSync(path.join(dataset.path, item.image));
      const rowsOfItem = w.db
        .prepare(
          "SELECT row, modality FROM harvest_rows WHERE harvest_id = 1 AND stream = 'decoder' AND item_id = ? AND modality != 'generated' ORDER BY position",
        )
        .all(item.id) as Array<{ row: number; modality: string }>;
      const x = new ShardReader(w.db, ws, h, TAP).readRows(rowsOfItem.map((r) => r.row));
      const harvested = encode(sae, x);
      // The item's strongest feature in the harvest.
      let feature = 0;
      for (let i = 0; i < harvested.length; i++) if (harvested[i]! > harvested[feature]!) feature = i;
      feature %= sae.dSae;
      const inputs = new InputWorkbench(pool, ws);
      const probe = await inputs.probe({
        sae,
        modelPath: DEMO,
        image,
        prompt: item.question,
        feature,
        top: 10,
        device: 'cpu',
        label: () => null,
      });
      expect(probe.tokens.map((t) => t.modality)).toEqual(rowsOfItem.map((r) => (r.modality === 'image' ? 'image' : 'text')));
      probe.tokens.forEach((t, i) => expect(t.activation!).toBeCloseTo(harvested[i * sae.dSae + feature]!, 3));
      expect(probe.grid).toEqual({ rows: 8, cols: 8 });
      const top = probe.topFeatures[0]!;
      let max = 0;
      for (let i = 0; i < rowsOfItem.length; i++) max = Math.max(max, harvested[i * sae.dSae + top.feature]!);
      expect(top.max).toBeCloseTo(max, 3);
      expect(probe.topFeatures.some((t) => t.feature === feature)).toBe(true);

      const vlm = await VlmPipeline.load(DEMO, pool, 'cpu');
      const plain = (await vlm.generate([{ image: path.join(dataset.path, item.image), prompt: item.question }], { maxNewTokens: 8 }))
        .outputs[0]!.text;
      const same = await inputs.steer({
        sae,
        modelPath: DEMO,
        image,
        prompt: item.question,
        feature,
        op: 'scale',
        value: 1,
        where: 'all',
        maxNewTokens: 8,
        device: 'cpu',
      });
      expect(same).toMatchObject({ baseline: plain, steered: plain, shiftNorm: 0 });
      const pushed = await inputs.steer({
        sae,
        modelPath: DEMO,
        image,
        prompt: item.question,
        feature,
        op: 'add',
        value: 30,
        where: 'all',
        maxNewTokens: 8,
        device: 'cpu',
      });
      expect(pushed.baseline).toBe(plain);
      expect(pushed.shiftNorm).toBeGreaterThan(1);
      await expect(
        inputs.probe({
          sae,
          modelPath: DEMO,
          image: Buffer.from('not an image'),
          prompt: 'x',
          feature: null,
          top: 5,
          device: 'cpu',
          label: () => null,
        }),
      ).rejects.toThrow('The image must be a PNG or JPEG file.');
    } finally {
      w.close();
      await pool.close();
    }
  }, 120_000);
});
