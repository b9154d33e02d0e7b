import path from 'node:path';
import { jobResult } from '../../contract/job-results.js';
import type { ModelDiffResult } from '../../contract/model-diff.js';
import { requireString, UsageError, type CommandSpec } from '../args.js';
import { finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
const num = (x: number) => (x >= 0 ? '+' : '') + x.toPrecision(3);

export function diffReport(r: ModelDiffResult): string {
  const lines = [
    `SAE ${r.saeId} at ${r.tap}, ${r.items} items, ${r.tokens} tokens per model`,
    `FVU: base ${r.fvu.base.toFixed(4)}  fine-tuned ${r.fvu.tuned.toFixed(4)}`,
    `accuracy: base ${pct(r.accuracy.base)}  fine-tuned ${pct(r.accuracy.tuned)}`,
    '',
    `tasks (${r.methods.tasks}):`,
    'task        n    base [95% CI]            fine-tuned [95% CI]      change, points [95% CI]   p       p Holm  p BH    features that moved most on it',
  ];
  for (const t of r.tasks)
    lines.push(
      `${(t.changed ? '* ' : '  ') + t.task.padEnd(10)}${String(t.n).padEnd(5)}` +
        `${`${pct(t.base.accuracy)} [${pct(t.base.ci95[0])}, ${pct(t.base.ci95[1])}]`.padEnd(25)}` +
        `${`${pct(t.tuned.accuracy)} [${pct(t.tuned.ci95[0])}, ${pct(t.tuned.ci95[1])}]`.padEnd(25)}` +
        `${`${pts(t.change.value)} [${pts(t.change.ci95[0])}, ${pts(t.change.ci95[1])}]`.padEnd(26)}` +
        `${t.p.toPrecision(3).padEnd(8)}${t.pHolm.toPrecision(3).padEnd(8)}${t.pBh.toPrecision(3).padEnd(8)}` +
        t.features.map((f) => `#${f.feature} ${num(f.onTask)}`).join(', '),
    );
  lines.push(
    `  (* changed: Holm-adjusted p < ${r.thresholds.alpha}; ${r.methods.linked})`,
    '',
    `features that moved most (${r.methods.changes}):`,
  );
  lines.push('feature  rate base -> fine-tuned            mean activation base -> fine-tuned   change [95% CI]');
  for (const f of r.moved.slice(0, 15))
    lines.push(
      `#${String(f.feature).padEnd(7)} ${`${pct(f.rate.base)} -> ${pct(f.rate.tuned)}`.padEnd(32)} ` +
        `${`${f.meanChange.base.toPrecision(3)} -> ${f.meanChange.tuned.toPrecision(3)}`.padEnd(36)} ` +
        `${num(f.meanChange.value)} [${num(f.meanChange.ci95[0])}, ${num(f.meanChange.ci95[1])}]`,
    );
  const q = r.thresholds;
  lines.push(
    '',
    `appeared (base rate < ${pct(q.quietRate)}, fine-tuned >= ${pct(q.activeRate)}): ${r.appeared.map((f) => `#${f.feature}`).join(', ') || 'none'}`,
    `vanished (the reverse): ${r.vanished.map((f) => `#${f.feature}`).join(', ') || 'none'}`,
  );
  return lines.join('\n');
}

export const diffCommand: CommandSpec = {
  name: 'diff',
  summary:
    'Model diffing: a base model and its fine-tune (one architecture) over the same items through one SAE: FVU on each,\n' +
    'per-feature firing rate and mean activation change with CIs, features that appear or vanish, and the tasks whose\n' +
    'accuracy changed (Newcombe, McNemar, Holm / BH) linked to the features that moved most on them.',
  usage:
    'ocular diff --workspace W --sae ID --tuned DIR [--base DIR] [--dataset ID|DIR] [--limit N] [--tokens image,text] [--bound B] [--quiet-rate R] [--active-rate R] [--seed S] [--device D] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    sae: { type: 'string' },
    base: { type: 'string' },
    tuned: { type: 'string' },
    dataset: { type: 'string' },
    limit: { type: 'string' },
    tokens: { type: 'string' },
    bound: { type: 'string' },
    'quiet-rate': { type: 'string' },
    'active-rate': { type: 'string' },
    seed: { type: 'string' },
    device: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W      workspace holding the SAE',
    '    --sae ID           an SAE on a decoder tap of the base model',
    '    --tuned DIR        the fine-tuned model folder (same architecture, else refused naming the difference)',
    "    --base DIR         the base model folder (default: the model the SAE's harvest ran)",
    "    --dataset ID|DIR   a dataset id or folder (default: the SAE's harvest's dataset)",
    '    --limit N          at most N items, stratified by task (default 200)',
    '    --tokens K,...     token kinds the SAE reads: image,text (default both)',
    '    --bound B          a feature fires when its activation exceeds B (default 0)',
    '    --quiet-rate R     appears: base rate below R ... (default 0.001)',
    '    --active-rate R    ... and fine-tuned rate at least R; vanishes: the reverse (default 0.01)',
    '    --seed S           bootstrap seed (default 0)',
    '    --json             print the result as JSON',
  ],
  async run(values) {
    const ws = path.resolve(requireString(values, 'workspace'));
    const saeId = Number(requireString(values, 'sae'));
    if (!Number.isInteger(saeId) || saeId <= 0) throw new UsageError('--sae takes an SAE id.');
    const tunedDir = path.resolve(requireString(values, 'tuned'));
    const json = Boolean(values.json);
    const optNum = (name: string) => {
      const v = values[name];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new UsageError(`--${name} takes a number, not "${String(v)}".`);
      return n;
    };
    const backend = nodeBackend({ pinnedWorkspace: ws });
    const call = backend.call.bind(backend);
    try {
      await call('workspace.open', {});
      const sae = (await call('saes.list', {})).find((s) => s.id === saeId);
      if (!sae) throw new UsageError(`No SAE ${saeId} in ${ws}.`);
      // A trained SAE's harvest (its training job's params) gives the default base model and dataset.
      const trainParams = sae.jobId === null ? null : ((await call('jobs.get', { id: sae.jobId })).params as { harvestId?: unknown });
      const harvestId = typeof trainParams?.harvestId === 'number' ? trainParams.harvestId : null;
      const trainedOn = harvestId === null ? null : ((await call('harvests.list', {})).find((h) => h.id === harvestId) ?? null);
      const baseDir = values.base ? path.resolve(String(values.base)) : trainedOn?.modelPath;
      if (!baseDir) throw new UsageError(`SAE ${saeId} has no harvest to take the base model from; give --base DIR.`);
      const modelId = async (dir: string) =>
        (await call('models.list', {})).find((m) => m.path === dir)?.id ?? (await call('models.add', { path: dir })).id;
      let datasetId: number;
      const ds = values.dataset === undefined ? undefined : String(values.dataset);
      if (ds === undefined) {
        if (!trainedOn) throw new UsageError(`SAE ${saeId} has no harvest to take the dataset from; give --dataset.`);
        datasetId = trainedOn.datasetId;
      } else if (/^\d+$/.test(ds)) datasetId = Number(ds);
      else {
        const dir = path.resolve(ds);
        datasetId = (await call('datasets.list', {})).find((d) => d.path === dir)?.id ?? (await call('datasets.import', { path: dir })).id;
      }
      const tokens =
        values.tokens === undefined
          ? undefined
          : String(values.tokens)
              .split(',')
              .map((s) => s.trim());
      const started = await call('diffs.start', {
        saeId,
        baseModelId: await modelId(baseDir),
        tunedModelId: await modelId(tunedDir),
        datasetId,
        limit: optNum('limit'),
        tokenKinds: tokens as Array<'image' | 'text'> | undefined,
        bound: optNum('bound'),
        quietRate: optNum('quiet-rate'),
        activeRate: optNum('active-rate'),
        seed: optNum('seed'),
        device: values.device as 'auto' | 'cpu' | 'cuda' | undefined,
      });
      const job = await finished(backend, started.id, json);
      if (job.state !== 'succeeded') {
        console.error(`model diff ${job.state}: ${job.error ?? ''}`);
        return 1;
      }
      const result = jobResult(job, 'model-diff');
      console.log(json ? JSON.stringify(result, null, 2) : diffReport(result));
      return 0;
    } finally {
      await backend.close();
    }
  },
};
