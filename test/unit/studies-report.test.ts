/**
 * The Studies HTML report on hand-made inputs: one section each for explanations, filters, maskings and
 * diffs, numbers with their intervals and methods, escaped text, and nothing active (no script, a CSP).
 */
import { describe, expect, it } from 'vitest';
import type { DatasetComparison, Explanation } from '../../src-main/contract/contract';
import type { ModelDiffResult } from '../../src-main/contract/model-diff';
import { barsSvg, studiesHtml } from '../../src-main/core/studies/report';

const explanation: Explanation = {
  id: 1,
  saeId: 2,
  analysisId: 1,
  jobId: 3,
  feature: 17,
  explanation: 'fires on <red> patches',
  explainer: 'ground-truth',
  provenance: { promptVersion: 'gt-1', seed: 0, endpoint: null },
  confidence: 0.8,
  scores: {
    detection: {
      n: 20,
      positives: 10,
      tp: 9,
      fp: 1,
      tn: 9,
      fn: 1,
      accuracy: 0.9,
      accuracyCi95: [0.7, 0.97],
      balancedAccuracy: 0.9,
      precision: 0.9,
      recall: 0.9,
      f1: 0.9,
    },
    simulation: { r: 0.61, n: 20 },
    scorer: 'predicate',
  },
  status: 'accepted',
  decidedBy: 'ana',
  decidedAt: 'x',
  createdAt: 'x',
};
const ci = (a: number, b: number): [number, number] => [a, b];
const feature = {
  feature: 5,
  rate: { base: 0, tuned: 0.3, baseCi95: ci(0, 0.01), tunedCi95: ci(0.25, 0.35) },
  rateChange: { value: 0.3, ci95: ci(0.25, 0.35) },
  meanChange: { base: 0, tuned: 0.2, value: 0.2, ci95: ci(0.15, 0.25) },
  status: 'appears' as const,
};
const diff: ModelDiffResult = {
  saeId: 1,
  tap: 'blocks.0.hook_resid_post',
  datasetId: 1,
  baseModel: '/m/base',
  tunedModel: '/m/tuned',
  items: 84,
  tokens: 6000,
  fvu: { base: 0.12, tuned: 0.2 },
  accuracy: { base: 0.95, tuned: 0.8 },
  thresholds: { bound: 0, quietRate: 0.001, activeRate: 0.01, alpha: 0.05 },
  methods: {
    rates: 'Wilson',
    changes: 'paired bootstrap over items',
    tasks: 'Wilson; Newcombe; mid-p McNemar; Holm, BH',
    linked: 'ranked',
  },
  moved: [feature],
  appeared: [feature],
  vanished: [],
  tasks: [
    {
      task: 'exists',
      n: 12,
      base: { accuracy: 1, ci95: ci(0.76, 1) },
      tuned: { accuracy: 0, ci95: ci(0, 0.24) },
      change: { value: -1, ci95: ci(-1, -0.6) },
      p: 0.0002,
      pHolm: 0.0017,
      pBh: 0.0017,
      changed: true,
      features: [{ feature: 5, onTask: 0.4, onTaskCi95: ci(0.3, 0.5), elsewhere: 0.01 }],
    },
  ],
};

const arm = (name: 'filtered' | 'random' | 'all', fvu: number, ce: number, acc: number): DatasetComparison['arms'][number] => ({
  arm: name,
  items: name === 'all' ? 60 : 30,
  rows: name === 'all' ? 6000 : 3000,
  saeId: { filtered: 7, random: 8, all: 9 }[name],
  fvu: { value: fvu, ci95: ci(fvu - 0.02, fvu + 0.03) },
  ceRecovered: { value: ce, ci95: ci(ce - 0.1, ce + 0.05) },
  ce: { clean: 0.1, spliced: 0.3, zero: 2, items: 12, tokens: 24 },
  probe: { accuracy: acc, ci95: ci(acc === 1 ? 0.93 : acc - 0.1, acc === 1 ? 1 : acc + 0.05), train: 400, test: 50 },
});
const comparison: DatasetComparison = {
  heldOutItems: 20,
  poolItems: 60,
  intervals: { fvu: 'bootstrap-items', ceRecovered: 'bootstrap-items', probe: 'wilson', resamples: 2000, seed: 0 },
  arms: [arm('filtered', 0.21, 0.8, 1), arm('random', 0.25, -0.2, 0.9), arm('all', 0.2, 0.85, 0.94)],
};

describe('the Studies report', () => {
  it('has the four sections with their numbers, intervals and methods, escaped, and no active content', () => {
    const html = studiesHtml({
      workspace: '/ws',
      version: '1',
      explanations: [explanation],
      filters: [
        {
          datasetId: 4,
          name: 'filtered a1 l0 keep 0.5',
          report: {
            filter: { method: 'l0', keep: 0.5, bound: 0, seed: 0, analysisId: 1 },
            candidates: 4,
            kept: 2,
            items: [
              { key: 'a', score: 1, kept: false },
              { key: 'b', score: 2, kept: false },
              { key: 'c', score: 3, kept: true },
              { key: 'd', score: 4, kept: true },
            ],
          },
        },
      ],
      masks: [
        {
          jobId: 9,
          report: {
            modelPath: '/m/base',
            datasets: [],
            rows: [
              { method: 'full', keep: 1, n: 10, accuracy: 1, ci95: [0.72, 1], vsRandom: null },
              {
                method: 'l0',
                keep: 0.5,
                n: 10,
                accuracy: 0.8,
                ci95: [0.49, 0.94],
                vsRandom: { difference: 0.2, ci95: [-0.1, 0.5], p: 0.2, pHolm: 0.2, pBh: 0.2 },
              },
              { method: 'random', keep: 0.5, n: 10, accuracy: 0.6, ci95: [0.31, 0.83], vsRandom: null },
            ],
          },
        },
      ],
      diffs: [{ jobId: 11, result: diff }],
      comparisons: [{ jobId: 12, by: 'cross-modal', keep: 0.5, result: comparison }],
    });
    for (const id of ['explanations', 'filter', 'comparison', 'masking', 'diff']) expect(html).toContain(`<h2 id="${id}">`);
    expect(html).toContain('fires on &lt;red&gt; patches');
    expect(html).not.toContain('<red>');
    expect(html).toContain('90.0% [70.0%, 97.0%] n 20');
    expect(html).toContain('kept 2 of 4 items (50.0%)');
    expect(html).toContain('80.0% [49.0%, 94.0%] n 10');
    expect(html).toContain('+20.0 [-10.0, +50.0]');
    expect(html).toContain('exists (changed)');
    expect(html).toContain('-100.0 [-100.0, -60.0]');
    expect(html).toContain('#5 +0.400 [+0.300, +0.500]');
    expect(html).toContain('FVU: base 0.1200, fine-tuned 0.2000');
    expect(html).toContain('Appeared (base rate &lt; 0.1%, fine-tuned ≥ 1.0%): #5');
    // The comparison: each arm's three measures with their intervals, the methods named, one chart per measure.
    expect(html).toContain('Comparison job 12: cross-modal keep 0.5');
    expect(html).toContain('60 pool items, 20 held out of every arm');
    expect(html).toContain('95% percentile bootstrap over held-out items (2000 resamples, seed 0)');
    expect(html).toContain('probe accuracy: Wilson 95% over held-out rows');
    expect(html).toContain(
      '<tr><td>filtered</td><td>30</td><td>3000</td><td>0.210 [0.190, 0.240]</td><td>0.800 [0.700, 0.850]</td><td>100.0% [93.0%, 100.0%] n 50</td><td>7</td></tr>',
    );
    expect(html).toContain('<td>random</td><td>30</td><td>3000</td><td>0.250 [0.230, 0.280]</td><td>-0.200 [-0.300, -0.150]</td>');
    for (const m of ['FVU', 'CE recovered', 'Probe accuracy'])
      expect(html).toContain(`aria-label="${m} per training share with 95% intervals"`);
    // CE recovered below zero widens its axis to -0.3 rather than clipping the random arm's whisker.
    const ceSvg = html.slice(html.indexOf('<h4>CE recovered</h4>'), html.indexOf('<h4>Probe accuracy</h4>'));
    expect(ceSvg).toContain('>-0.30</text>');
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain("default-src 'none'");
  });

  it('says so where a study has not been run', () => {
    const html = studiesHtml({ workspace: '/ws', version: '1', explanations: [], filters: [], masks: [], diffs: [] });
    expect(html).toContain('No explanations yet');
    expect(html).toContain('No model diffs yet');
    expect(html).toContain('No filter comparisons yet');
  });

  it('draws bars from zero with interval whiskers', () => {
    const svg = barsSvg([{ label: 'a', value: -0.5, ci: [-0.6, -0.4] }], -1, 1, 'x');
    expect(svg).toContain('<line x1="316" x2="364"');
    expect(svg).toMatch(/<rect x="340" y="22" width="120"/);
  });
});
