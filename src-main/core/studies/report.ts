/**
 * The Studies report: one self-contained HTML page (inline styles and SVG, no scripts or network, a CSP
 * that forbids them) with a section each for auto-interpretation suggestions, SAE-V data filters, their
 * filtered-vs-random-vs-all comparisons, patch maskings and model diffs in a workspace, every interval with its method named.
 */
import type { DatasetComparison, Explanation } from '../../contract/contract.js';
import type { ModelDiffResult } from '../../contract/model-diff.js';
import type { FilterReport, MaskReport } from './gather.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const pts = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}`;
const sig = (v: number) => `${v >= 0 ? '+' : ''}${v.toPrecision(3)}`;

export interface StudiesInput {
  workspace: string;
  version: string;
  explanations: Explanation[];
  filters: Array<{ datasetId: number; name: string; report: FilterReport }>;
  /** dataset-compare jobs (optional so callers that predate the section still type-check). */
  comparisons?: Array<{ jobId: number; by: string; keep: number; result: DatasetComparison }>;
  masks: Array<{ jobId: number; report: MaskReport }>;
  diffs: Array<{ jobId: number; result: ModelDiffResult }>;
}

/** Horizontal bars (value with an optional 95% interval) as inline SVG; values in [lo, hi]. */
export function barsSvg(
  rows: Array<{ label: string; value: number; ci?: [number, number] }>,
  lo: number,
  hi: number,
  label: string,
): string {
  const w = 720;
  const left = 220;
  const rowH = 20;
  const h = rows.length * rowH + 28;
  const x = (v: number) => left + ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo || 1)) * (w - left - 20);
  const zero = x(Math.max(lo, Math.min(hi, 0)));
  const bars = rows.map((r, i) => {
    const y = 20 + i * rowH;
    const a = Math.min(zero, x(r.value));
    const whisker = r.ci ? `<line x1="${x(r.ci[0])}" x2="${x(r.ci[1])}" y1="${y + 9}" y2="${y + 9}" stroke="#000"/>` : '';
    return `<text x="${left - 6}" y="${y + 13}" text-anchor="end" font-size="11">${esc(r.label)}</text><rect x="${a}" y="${y + 2}" width="${Math.abs(x(r.value) - zero)}" height="${rowH - 6}" fill="#3d5afe"/>${whisker}`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => {
    const v = lo + t * (hi - lo);
    return `<line x1="${x(v)}" x2="${x(v)}" y1="14" y2="${h - 8}" stroke="#ddd"/><text x="${x(v)}" y="11" font-size="10" text-anchor="middle">${v.toPrecision(2)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="${esc(label)}">${ticks.join('')}${bars.join('')}</svg>`;
}

function explanationsSection(list: Explanation[]): string {
  if (list.length === 0) return '<p>No explanations yet (<code>ocular explain</code> or the Studies page).</p>';
  const rows = list.map((e) => {
    const d = e.scores?.detection;
    const ep = e.provenance.endpoint as { url: string; model: string } | null | undefined;
    return `<tr><td>${e.saeId}</td><td>#${e.feature}</td><td>${esc(e.explanation)}</td><td>${e.explainer}${ep ? ` (${esc(ep.model)} at ${esc(ep.url)})` : ''}</td><td>${e.confidence === null ? '' : pct(e.confidence)}</td><td>${d ? `${pct(d.accuracy)} [${pct(d.accuracyCi95[0])}, ${pct(d.accuracyCi95[1])}] n ${d.n}` : ''}</td><td>${e.scores?.simulation.r == null ? '' : e.scores.simulation.r.toFixed(3)}</td><td>${esc(String(e.provenance.promptVersion ?? ''))}</td><td>${e.status}${e.decidedBy ? ` by ${esc(e.decidedBy)}` : ''}</td></tr>`;
  });
  return `<p>Detection: Delphi's method, accuracy with a Wilson 95% interval; simulation: OpenAI's method, Pearson r.</p>
<table><tr><th>SAE</th><th>feature</th><th>explanation</th><th>explainer</th><th>confidence</th><th>detection</th><th>simulation r</th><th>prompt</th><th>status</th></tr>${rows.join('')}</table>`;
}

function filtersSection(filters: StudiesInput['filters']): string {
  if (filters.length === 0) return '<p>No filtered datasets yet (<code>ocular dataset filter</code>).</p>';
  return filters
    .map(({ datasetId, name, report: r }) => {
      const scores = r.items.map((i) => i.score);
      const lo = Math.min(...scores);
      const hi = Math.max(...scores);
      const bins = 10;
      const width = hi > lo ? (hi - lo) / bins : 1;
      const counts = Array.from({ length: bins }, () => ({ kept: 0, all: 0 }));
      for (const i of r.items) {
        const b = Math.min(bins - 1, Math.floor((i.score - lo) / width));
        counts[b]!.all++;
        if (i.kept) counts[b]!.kept++;
      }
      const max = Math.max(1, ...counts.map((c) => c.all));
      const hist = barsSvg(
        counts.map((c, b) => ({
          label: `${(lo + b * width).toPrecision(3)}–${(lo + (b + 1) * width).toPrecision(3)}: ${c.kept}/${c.all} kept`,
          value: c.all,
        })),
        0,
        max,
        'Items per score bin',
      );
      return `<h3>${esc(name)} (dataset ${datasetId})</h3><p>By ${esc(r.filter.method)}, keep ${r.filter.keep}, active above ${r.filter.bound}, analysis ${r.filter.analysisId}: kept ${r.kept} of ${r.candidates} items (${pct(r.kept / r.candidates)}).</p>${hist}`;
    })
    .join('');
}

function comparisonsSection(list: NonNullable<StudiesInput['comparisons']>): string {
  if (list.length === 0) return '<p>No filter comparisons yet (<code>ocular dataset compare</code>).</p>';
  const est = (e: { value: number; ci95: [number, number] }) => `${e.value.toFixed(3)} [${e.ci95[0].toFixed(3)}, ${e.ci95[1].toFixed(3)}]`;
  return list
    .map(({ jobId, by, keep, result: r }) => {
      const rows = r.arms.map(
        (a) =>
          `<tr><td>${a.arm}</td><td>${a.items}</td><td>${a.rows}</td><td>${est(a.fvu)}</td><td>${est(a.ceRecovered)}</td><td>${pct(a.probe.accuracy)} [${pct(a.probe.ci95[0])}, ${pct(a.probe.ci95[1])}] n ${a.probe.test}</td><td>${a.saeId}</td></tr>`,
      );
      // One chart per measure: their scales differ, and CE recovered can fall below zero.
      const measures: Array<[string, (a: DatasetComparison['arms'][number]) => { value: number; ci95: [number, number] }]> = [
        ['FVU', (a) => a.fvu],
        ['CE recovered', (a) => a.ceRecovered],
        ['Probe accuracy', (a) => ({ value: a.probe.accuracy, ci95: a.probe.ci95 })],
      ];
      const charts = measures.map(([name, of]) => {
        const ends = r.arms.flatMap((a) => [of(a).value, ...of(a).ci95]);
        const svg = barsSvg(
          r.arms.map((a) => ({ label: a.arm, value: of(a).value, ci: of(a).ci95 })),
          Math.min(0, ...ends),
          Math.max(1, ...ends),
          `${name} per training share with 95% intervals`,
        );
        return `<h4>${name}</h4>${svg}`;
      });
      return `<h3>Comparison job ${jobId}: ${esc(by)} keep ${keep}</h3>
<p>${r.poolItems} pool items, ${r.heldOutItems} held out of every arm. FVU and CE recovered: 95% percentile bootstrap over held-out items (${r.intervals.resamples} resamples, seed ${r.intervals.seed}); probe accuracy: Wilson 95% over held-out rows.</p>
<table><tr><th>share</th><th>items</th><th>rows</th><th>FVU [bootstrap 95%]</th><th>CE recovered [bootstrap 95%]</th><th>probe accuracy [Wilson 95%]</th><th>SAE</th></tr>${rows.join('')}</table>${charts.join('')}`;
    })
    .join('');
}

function masksSection(masks: StudiesInput['masks']): string {
  const done = masks.filter((m) => m.report.rows.length > 0);
  if (done.length === 0) return '<p>No evaluated patch maskings yet (<code>ocular mask</code>).</p>';
  return done
    .map(({ jobId, report }) => {
      const rows = report.rows.map(
        (r) =>
          `<tr><td>${esc(r.method)}</td><td>${pct(r.keep)}</td><td>${pct(r.accuracy)} [${pct(r.ci95[0])}, ${pct(r.ci95[1])}] n ${r.n}</td><td>${r.vsRandom ? `${pts(r.vsRandom.difference)} [${pts(r.vsRandom.ci95[0])}, ${pts(r.vsRandom.ci95[1])}]` : ''}</td><td>${r.vsRandom ? r.vsRandom.p.toPrecision(3) : ''}</td><td>${r.vsRandom ? r.vsRandom.pHolm.toPrecision(3) : ''}</td><td>${r.vsRandom ? r.vsRandom.pBh.toPrecision(3) : ''}</td></tr>`,
      );
      const chart = barsSvg(
        report.rows.map((r) => ({ label: `${r.method} ${pct(r.keep)}`, value: r.accuracy, ci: r.ci95 })),
        0,
        1,
        'Accuracy per score and kept share with Wilson 95% intervals',
      );
      return `<h3>Masking job ${jobId} (${esc(report.modelPath)})</h3>${chart}<table><tr><th>score</th><th>kept</th><th>accuracy [Wilson 95%]</th><th>vs random, points [Newcombe 95%]</th><th>p (mid-p McNemar)</th><th>p Holm</th><th>p BH</th></tr>${rows.join('')}</table>`;
    })
    .join('');
}

function diffsSection(diffs: StudiesInput['diffs']): string {
  if (diffs.length === 0) return '<p>No model diffs yet (<code>ocular diff</code>).</p>';
  return diffs
    .map(({ jobId, result: r }) => {
      const tasks = r.tasks.map(
        (t) =>
          `<tr class="${t.changed ? 'flag' : ''}"><td>${esc(t.task)}${t.changed ? ' (changed)' : ''}</td><td>${t.n}</td><td>${pct(t.base.accuracy)} [${pct(t.base.ci95[0])}, ${pct(t.base.ci95[1])}]</td><td>${pct(t.tuned.accuracy)} [${pct(t.tuned.ci95[0])}, ${pct(t.tuned.ci95[1])}]</td><td>${pts(t.change.value)} [${pts(t.change.ci95[0])}, ${pts(t.change.ci95[1])}]</td><td>${t.p.toPrecision(3)}</td><td>${t.pHolm.toPrecision(3)}</td><td>${t.pBh.toPrecision(3)}</td><td>${t.features.map((f) => `#${f.feature} ${sig(f.onTask)} [${sig(f.onTaskCi95[0])}, ${sig(f.onTaskCi95[1])}] (elsewhere ${sig(f.elsewhere)})`).join('<br>')}</td></tr>`,
      );
      const top = r.moved.slice(0, 20);
      const span = Math.max(1e-9, ...top.flatMap((f) => [Math.abs(f.meanChange.ci95[0]), Math.abs(f.meanChange.ci95[1])]));
      const chart = barsSvg(
        top.map((f) => ({ label: `#${f.feature}`, value: f.meanChange.value, ci: f.meanChange.ci95 })),
        -span,
        span,
        'Change in mean activation of the features that moved most, with 95% intervals',
      );
      const q = r.thresholds;
      return `<h3>Diff job ${jobId}: ${esc(r.baseModel)} → ${esc(r.tunedModel)}</h3>
<p>SAE ${r.saeId} at ${esc(r.tap)}, dataset ${r.datasetId}, ${r.items} items, ${r.tokens} tokens. FVU: base ${r.fvu.base.toFixed(4)}, fine-tuned ${r.fvu.tuned.toFixed(4)}. Accuracy: base ${pct(r.accuracy.base)}, fine-tuned ${pct(r.accuracy.tuned)}.</p>
<h4>Tasks</h4><p>${esc(r.methods.tasks)}. Changed: Holm-adjusted p &lt; ${q.alpha}. Linked features: ${esc(r.methods.linked)}.</p>
<table><tr><th>task</th><th>n</th><th>base</th><th>fine-tuned</th><th>change, points</th><th>p</th><th>p Holm</th><th>p BH</th><th>moved most on it</th></tr>${tasks.join('')}</table>
<h4>Features that moved most</h4><p>${esc(r.methods.changes)}. Rates: ${esc(r.methods.rates)}.</p>${chart}
<p>Appeared (base rate &lt; ${pct(q.quietRate)}, fine-tuned ≥ ${pct(q.activeRate)}): ${r.appeared.map((f) => `#${f.feature}`).join(', ') || 'none'}. Vanished (the reverse): ${r.vanished.map((f) => `#${f.feature}`).join(', ') || 'none'}.</p>`;
    })
    .join('');
}

export function studiesHtml(input: StudiesInput): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Studies — Ocular</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}tr.flag{background:#fff3e0}code{background:#f5f5f5;padding:1px 4px}</style></head>
<body><h1>Studies</h1><p>Ocular ${esc(input.version)} · workspace ${esc(input.workspace)}</p>
<h2 id="explanations">Explanations</h2>${explanationsSection(input.explanations)}
<h2 id="filter">Data filtering (SAE-V)</h2>${filtersSection(input.filters)}
<h2 id="comparison">Dataset comparisons (SAE-V filtered vs random vs all)</h2>${comparisonsSection(input.comparisons ?? [])}
<h2 id="masking">Patch masking (SAE-V)</h2>${masksSection(input.masks)}
<h2 id="diff">Model diffing</h2>${diffsSection(input.diffs)}
</body></html>
`;
}
