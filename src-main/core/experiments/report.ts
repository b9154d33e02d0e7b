/**
 * Exporting an experiment: JSON (spec, results, per-item outputs), CSV (one row per condition and
 * group), and a self-contained HTML report — inline styles and an inline SVG chart, no scripts or
 * network — that a lab member can open offline.
 */
import type { ConditionResult, ExperimentOutput, ExperimentRecord, ReplicationRecord } from '../../contract/contract.js';
import { csvCell } from '../util/csv.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function experimentJson(e: ExperimentRecord, outputs: ExperimentOutput[]): string {
  return JSON.stringify({ experiment: e, outputs }, null, 2) + '\n';
}

export function experimentCsv(e: ExperimentRecord): string {
  const head = [
    'condition',
    'kind',
    'set',
    'value',
    'control_for',
    'group',
    'n',
    'accuracy',
    'ci_low',
    'ci_high',
    'accuracy_change',
    'change_ci_low',
    'change_ci_high',
    'drift',
    'shift_norm',
    'kl_first_token',
    'p_vs_baseline',
    'p_vs_baseline_holm',
    'p_vs_baseline_bh',
    'flagged',
  ];
  const lines = [head.join(',')];
  for (const c of e.results?.conditions ?? []) {
    lines.push(
      [
        c.id,
        c.kind,
        c.set,
        c.value,
        c.controlFor,
        'all',
        c.n,
        c.accuracy,
        c.ci95[0],
        c.ci95[1],
        c.accuracyChange,
        c.accuracyChangeCi95[0],
        c.accuracyChangeCi95[1],
        c.drift,
        c.shiftNorm,
        c.klFirstToken,
        c.pVsBaseline,
        c.pVsBaselineHolm,
        c.pVsBaselineBh,
        c.flagged,
      ]
        .map(csvCell)
        .join(','),
    );
    for (const g of [
      ...c.byTask.map((x) => ({ ...x, key: `task:${x.key}` })),
      ...c.byDifficulty.map((x) => ({ ...x, key: `difficulty:${x.key}` })),
    ]) {
      lines.push(
        [
          c.id,
          c.kind,
          c.set,
          c.value,
          c.controlFor,
          g.key,
          g.n,
          g.accuracy,
          g.ci95[0],
          g.ci95[1],
          '',
          '',
          '',
          g.drift,
          g.shiftNorm,
          g.klFirstToken,
          g.pVsBaseline,
          g.pVsBaselineHolm,
          g.pVsBaselineBh,
          '',
        ]
          .map(csvCell)
          .join(','),
      );
    }
  }
  return lines.join('\n') + '\n';
}

/** Accuracy per condition with CI whiskers, as inline SVG. */
function chart(conditions: ConditionResult[]): string {
  const w = 760;
  const rowH = 22;
  const left = 300;
  const h = conditions.length * rowH + 30;
  const x = (v: number) => left + v * (w - left - 20);
  const rows = conditions.map((c, i) => {
    const y = 20 + i * rowH;
    const colour = c.kind === 'baseline' ? '#607d8b' : c.kind === 'intervention' || c.kind === 'union' ? '#3d5afe' : '#ff9800';
    return `<text x="${left - 6}" y="${y + 14}" text-anchor="end" font-size="11">${esc(c.id)}</text><rect x="${left}" y="${y + 3}" width="${x(c.accuracy) - left}" height="${rowH - 8}" fill="${colour}"/><line x1="${x(c.ci95[0])}" x2="${x(c.ci95[1])}" y1="${y + 11}" y2="${y + 11}" stroke="#000"/>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(
    (t) =>
      `<line x1="${x(t)}" x2="${x(t)}" y1="14" y2="${h - 10}" stroke="#ddd"/><text x="${x(t)}" y="12" font-size="10" text-anchor="middle">${t * 100}%</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="Accuracy per condition with 95% CIs">${ticks.join('')}${rows.join('')}</svg>`;
}

/** The experiment's replications across SAE seeds as a table per replication (none: no section). */
function replicationSection(replications: ReplicationRecord[]): string {
  const pts = (v: number) => `${v > 0 ? '+' : ''}${(v * 100).toFixed(1)}`;
  return replications
    .filter((x) => x.results)
    .map((x) => {
      const rows = x.results!.effects.map(
        (f) =>
          `<tr><td>${esc(f.set ?? f.condition)}</td><td>${esc(f.task ?? 'all items')}</td><td>${f.perSeed.map((s) => `${pts(s.effect)} (seed ${s.saeSeed ?? '?'}, #${s.experimentId})`).join('<br>')}</td><td>${pts(f.min)} .. ${pts(f.max)}</td><td>${pts(f.median)}</td><td>${pts(f.mean)}</td><td>${f.ci95 ? `[${pts(f.ci95[0])}, ${pts(f.ci95[1])}]` : f.min === f.max ? 'the same for every seed' : ''}</td></tr>`,
      );
      return `<h2>Across ${x.results!.seeds} SAE seeds: ${esc(x.name)}</h2><p>Accuracy change against the baseline in points; interval: Student t over seeds (df = seeds - 1), clipped to ±100.</p>
<table><tr><th>features</th><th>task</th><th>per seed</th><th>range</th><th>median</th><th>mean</th><th>95% t CI</th></tr>${rows.join('\n')}</table>`;
    })
    .join('\n');
}

export function experimentHtml(e: ExperimentRecord, outputs: ExperimentOutput[], replications: ReplicationRecord[] = []): string {
  const r = e.results;
  const table = (r?.conditions ?? [])
    .map(
      (c) =>
        `<tr class="${c.flagged ? 'flag' : ''}"><td>${esc(c.id)}</td><td>${c.kind}</td><td>${pct(c.accuracy)} [${pct(c.ci95[0])}, ${pct(c.ci95[1])}]</td><td>${(c.accuracyChange * 100).toFixed(1)} pts [${(c.accuracyChangeCi95[0] * 100).toFixed(1)}, ${(c.accuracyChangeCi95[1] * 100).toFixed(1)}]</td><td>${pct(c.drift)}</td><td>${c.shiftNorm.toFixed(3)}</td><td>${c.klFirstToken.toFixed(4)}</td><td>${c.pVsBaseline === null ? '' : c.pVsBaseline.toFixed(4)}</td><td>${c.pVsBaselineHolm === null ? '' : c.pVsBaselineHolm.toFixed(4)}</td><td>${c.pVsBaselineBh === null ? '' : c.pVsBaselineBh.toFixed(4)}</td><td>${Object.entries(
          c.pVsControls,
        )
          .map(([k, p]) => `${esc(k)}: ${p.toFixed(4)}`)
          .join('<br>')}</td><td>${c.flagged ? 'a control moved accuracy as much' : ''}</td></tr>`,
    )
    .join('\n');
  const baseline = new Map(outputs.filter((o) => o.condition === 'baseline').map((o) => [o.itemId, o]));
  const changed = outputs.filter((o) => o.condition !== 'baseline' && baseline.get(o.itemId)?.extracted !== o.extracted).slice(0, 200);
  const items = changed
    .map(
      (o) =>
        `<tr><td>${esc(o.condition)}</td><td>${esc(o.question)}</td><td>${esc(o.answer)}</td><td>${esc(baseline.get(o.itemId)?.raw ?? '')}</td><td>${esc(o.raw)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(e.name)} — Ocular experiment</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}tr.flag{background:#fff3e0}code{background:#f5f5f5;padding:1px 4px}</style></head>
<body><h1>${esc(e.name)}</h1>
<p>Ocular ${esc(r?.version ?? '')} · ${r?.items ?? 0} items · ${r?.resamples ?? 0} permutation resamples · seed ${r?.seed ?? 0} · ${r ? r.seconds.toFixed(0) : 0} s</p>
<h2>Accuracy per condition (95% CI)</h2>${chart(r?.conditions ?? [])}
<h2>Results</h2><table><tr><th>condition</th><th>kind</th><th>accuracy</th><th>change vs baseline</th><th>drift</th><th>shift norm</th><th>KL first token</th><th>p vs baseline</th><th>p Holm</th><th>p BH</th><th>p vs controls</th><th>flag</th></tr>
${table}</table>
${replicationSection(replications)}
<h2>Feature sets</h2><ul>${Object.entries(r?.featureSets ?? {})
    .map(([k, v]) => `<li>${esc(k)}: ${v.join(', ')}</li>`)
    .join('')}</ul>
<h2>Items whose answer changed (first 200)</h2><table><tr><th>condition</th><th>question</th><th>answer</th><th>baseline output</th><th>output</th></tr>${items}</table>
<h2>Spec</h2><pre><code>${esc(JSON.stringify(e.spec, null, 2))}</code></pre>
</body></html>
`;
}
