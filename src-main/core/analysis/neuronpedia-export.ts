/**
 * Sharing an analysis: Neuronpedia's bulk export layout for the text side —
 * {modelId}/{source}/features|activations|explanations/batch-N.jsonl.gz, one JSON object per line,
 * field names as in Neuronpedia's exports — and Ocular's own records beside it, which carry what
 * Neuronpedia's schema has no place for (image-patch examples, heatmaps, the images themselves).
 */
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FeatureDetail } from '../../contract/contract.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { AnalysisStore } from './analysis-store.js';
import type { FeatureDetails } from './feature-detail.js';
import type { LabelStore } from './label-store.js';

export interface NeuronpediaExportOptions {
  modelId: string;
  source: string;
  hookName: string;
  out: string;
  batchSize?: number;
  workspaceDir: string;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function exportNeuronpedia(
  analysisId: number,
  saeId: number,
  stores: { analyses: AnalysisStore; details: FeatureDetails; labels: LabelStore },
  o: NeuronpediaExportOptions,
): { features: number; explanations: number; files: string[] } {
  for (const [name, v] of [
    ['model id', o.modelId],
    ['source', o.source],
  ] as const)
    if (!SAFE_ID.test(v)) throw new Error(`The ${name} '${v}' must be letters, digits, '.', '_' or '-' (it becomes a folder name).`);
  const a = stores.analyses.get(analysisId);
  const edges = a.summary?.histogramEdges ?? [];
  const root = path.join(o.out, o.modelId, o.source);
  const batch = o.batchSize ?? 1000;
  const all = stores.analyses.features(analysisId, {
    offset: 0,
    limit: 1_000_000,
    sort: 'feature',
    order: 'asc',
    search: '',
    status: null,
  }).features;
  const labels = new Map(stores.labels.all(saeId).map((l) => [l.feature, l]));
  const files: string[] = [];
  const write = (kind: string, n: number, lines: unknown[]) => {
    if (lines.length === 0) return;
    const file = path.join(root, kind, `batch-${n}.jsonl.gz`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, gzipSync(lines.map((l) => JSON.stringify(l)).join('\n') + '\n'));
    files.push(path.relative(o.out, file));
  };
  const imageDir = path.join(root, 'ocular', 'images');
  let explanations = 0;
  for (let start = 0, n = 0; start < all.length; start += batch, n++) {
    const features: unknown[] = [];
    const activations: unknown[] = [];
    const explained: unknown[] = [];
    const ocular: unknown[] = [];
    for (const row of all.slice(start, start + batch)) {
      const d: FeatureDetail = stores.details.get(analysisId, row.feature);
      const index = String(row.feature);
      // Neuronpedia's histogram arrays are parallel: one bar value (its bin's lower edge) per height.
      features.push({
        modelId: o.modelId,
        layer: o.source,
        index,
        hookName: o.hookName,
        maxActApprox: row.maxAct,
        frac_nonzero: row.density,
        freq_hist_data_bar_heights: d.histogram.counts,
        freq_hist_data_bar_values: edges,
        pos_str: d.logits?.promoted.map((t) => t.token) ?? [],
        pos_values: d.logits?.promoted.map((t) => t.activation) ?? [],
        neg_str: d.logits?.suppressed.map((t) => t.token) ?? [],
        neg_values: d.logits?.suppressed.map((t) => t.activation) ?? [],
      });
      for (const e of d.examples.filter((x) => x.modality !== 'image' && x.context.length > 0)) {
        const values = e.context.map((t) => t.activation);
        activations.push({
          modelId: o.modelId,
          layer: o.source,
          index,
          tokens: e.context.map((t) => t.token),
          values,
          maxValue: Math.max(...values),
          maxValueTokenIndex: e.context.findIndex((t) => t.at),
          minValue: Math.min(...values),
        });
      }
      const label = labels.get(row.feature);
      if (label && label.label.trim()) {
        explained.push({
          modelId: o.modelId,
          layer: o.source,
          index,
          description: label.label,
          typeName: 'ocular-human',
          explanationModelName: `human:${label.annotator}`,
          createdAt: label.updatedAt,
        });
        explanations++;
      }
      ocular.push({
        index,
        density: row.density,
        maxAct: row.maxAct,
        imageShare: row.imageShare,
        crossModal: row.crossModal,
        label: label ?? null,
        examples: d.examples.map((e) => {
          let image: string | null = null;
          if (e.imagePath) {
            image = path.basename(e.imagePath);
            fs.mkdirSync(imageDir, { recursive: true });
            const target = path.join(imageDir, image);
            if (!fs.existsSync(target)) fs.copyFileSync(path.join(o.workspaceDir, e.imagePath), target);
          }
          return { ...e, imagePath: undefined, image: image ? `images/${image}` : null };
        }),
      });
    }
    write('features', n, features);
    write('activations', n, activations);
    write('explanations', n, explained);
    write('ocular', n, ocular);
  }
  return { features: all.length, explanations, files };
}
