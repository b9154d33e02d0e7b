import fs from 'node:fs';
import path from 'node:path';
import type { RequestOf } from '../../contract/contract.js';
import { synthesizeBenchmark } from '../../core/benchmark/synth.js';
import { FILTER_METHODS } from '../../core/datasets/sae-v-filter.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';
import { jobResult, type JobResultOf } from '../../contract/job-results.js';
import { finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${String(value)}.`);
  return n;
}

export const datasetCommand: CommandSpec = {
  name: 'dataset',
  summary:
    'Generate the built-in synthetic multimodal reasoning benchmark (7 task types x 3 difficulties,\n' +
    'seeded and byte-for-byte deterministic) as a plain folder: images/, items.jsonl, dataset.json;\n' +
    'or keep the best share of a harvested dataset by SAE-V scores (filter), and test that filter by training\n' +
    'SAEs on the filtered share, a random share of the same size and all items (compare).',
  usage:
    'ocular dataset synth --out DIR [--seed S] [--per-cell N] [--size PX] [--json]\n' +
    '       ocular dataset filter --workspace W --analysis ID --by cross-modal|cooccurrence|l0|random [--keep 0.5] [--bound B] [--seed S] [--out DIR] [--json]\n' +
    '       ocular dataset compare --workspace W --analysis ID --by cross-modal|cooccurrence|l0 [--keep 0.5] [--held-out 0.25] [--steps N] [--ce-items N] [--probe color|shape] [--seed S] [--json]',
  options: {
    out: { type: 'string' },
    workspace: { type: 'string', short: 'w' },
    analysis: { type: 'string' },
    by: { type: 'string' },
    keep: { type: 'string' },
    bound: { type: 'string' },
    seed: { type: 'string' },
    'held-out': { type: 'string' },
    steps: { type: 'string' },
    'ce-items': { type: 'string' },
    probe: { type: 'string' },
    'per-cell': { type: 'string' },
    size: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '    --out DIR         folder to write (created)',
    '    --seed S          random seed (default 0); the same seed gives identical files',
    '    --per-cell N      items per task and difficulty (default 50)',
    '    --size PX         image width and height (default 96)',
    '    --json            print a summary as JSON',
    'filter:',
    '-w, --workspace W     workspace holding the analysis (its SAE and harvest)',
    '    --analysis ID     the analysis whose SAE scores the harvested items',
    '    --by M            cross-modal (SAE-V Algorithm 1), cooccurrence, l0, or random (a seeded share, the control)',
    '    --keep F          share of items kept, in (0, 1] (default 0.5)',
    '    --bound B         a feature is active on a token when its activation exceeds B (default 0)',
    '    --out DIR         also copy the filtered folder here (it is always added to the workspace)',
    'compare (also --by, --keep, --bound, --seed):',
    '    --held-out F      share of the scored items held out for measuring (default 0.25)',
    '    --steps N         training steps of each of the three TopK SAEs (default 400; same seed and settings)',
    '    --ce-items N      held-out items run with each SAE spliced in for CE recovered (default 64)',
    '    --probe L         probe label on image patches: color (default) or shape',
    'FVU and CE recovered carry percentile bootstrap CIs over held-out items; probe accuracy a Wilson CI.',
  ],
  async run(values, positionals) {
    if (positionals[0] === 'filter') return filter(values);
    if (positionals[0] === 'compare') return compare(values);
    if (positionals[0] !== 'synth') throw new UsageError(`Usage: ${datasetCommand.usage}`);
    const out = requireString(values, 'out');
    const seed = positiveInt(values.seed, 'seed', 0);
    const perCell = positiveInt(values['per-cell'], 'per-cell', 50);
    const size = positiveInt(values.size, 'size', 96);
    if (size < 48) throw new UsageError('--size must be at least 48 pixels.');
    const json = Boolean(values.json);
    const { items, dir } = await synthesizeBenchmark({
      out,
      seed,
      perCell,
      imageSize: size,
      onProgress: json ? undefined : (done, total) => process.stderr.write(`\r${done}/${total} items`),
    });
    if (!json) process.stderr.write('\n');
    const summary = { dir, items: items.length, seed, perCell, imageSize: size };
    console.log(json ? JSON.stringify(summary, null, 2) : `wrote ${items.length} items to ${dir}`);
    return 0;
  },
};

async function filter(values: Record<string, unknown>): Promise<number> {
  const ws = path.resolve(requireString(values, 'workspace'));
  const byArg = requireString(values, 'by');
  const by = FILTER_METHODS.find((m) => m === byArg);
  if (!by) throw new UsageError(`--by must be one of ${FILTER_METHODS.join(', ')}, not "${byArg}".`);
  const keep = values.keep === undefined ? 0.5 : Number(values.keep);
  if (!(keep > 0 && keep <= 1)) throw new UsageError(`--keep must be a share in (0, 1], got ${String(values.keep)}.`);
  const bound = values.bound === undefined ? 0 : Number(values.bound);
  if (!(bound >= 0)) throw new UsageError(`--bound must be a number >= 0, got ${String(values.bound)}.`);
  const out = typeof values.out === 'string' ? path.resolve(values.out) : null;
  if (out && fs.existsSync(out)) throw new UsageError(`${out} exists already; give a new folder.`);
  const json = Boolean(values.json);
  const backend = nodeBackend({ pinnedWorkspace: ws });
  const call = backend.call.bind(backend);
  try {
    await call('workspace.open', {});
    const started = await call('datasets.filter', {
      analysisId: Number(requireString(values, 'analysis')),
      by: by as RequestOf<'datasets.filter'>['by'],
      keep,
      bound,
      seed: positiveInt(values.seed, 'seed', 0),
    });
    const job = await finished(backend, started.id, json);
    if (job.state !== 'succeeded') {
      console.error(`filter ${job.state}: ${job.error ?? ''}`);
      return 1;
    }
    const r = jobResult(job, 'dataset-filter');
    if (out) fs.cpSync(r.path, out, { recursive: true, errorOnExist: true });
    const summary = { ...r, out };
    console.log(
      json
        ? JSON.stringify(summary, null, 2)
        : `kept ${r.kept} of ${r.candidates} items by ${by}: dataset ${r.datasetId} at ${r.path}${out ? `, copied to ${out}` : ''}`,
    );
    return 0;
  } finally {
    await backend.close();
  }
}

async function compare(values: Record<string, unknown>): Promise<number> {
  const ws = path.resolve(requireString(values, 'workspace'));
  const byArg = requireString(values, 'by');
  const methods = ['cross-modal', 'cooccurrence', 'l0'] as const;
  const by = methods.find((m) => m === byArg);
  if (!by) throw new UsageError(`--by must be one of ${methods.join(', ')}, not "${byArg}" (random is the comparison's own control).`);
  const share = (name: string, fallback: number, max: number) => {
    const v = values[name] === undefined ? fallback : Number(values[name]);
    if (!(v > 0 && v <= max && !(max < 1 && v >= 1)))
      throw new UsageError(`--${name} must be a share in (0, ${max}${max < 1 ? ')' : ']'}, got ${String(values[name])}.`);
    return v;
  };
  const probe = values.probe === undefined ? 'color' : String(values.probe);
  if (probe !== 'color' && probe !== 'shape') throw new UsageError(`--probe must be color or shape, not "${probe}".`);
  const request = {
    analysisId: Number(requireString(values, 'analysis')),
    by,
    keep: share('keep', 0.5, 1),
    heldOut: share('held-out', 0.25, 0.99),
    bound: values.bound === undefined ? 0 : Number(values.bound),
    seed: positiveInt(values.seed, 'seed', 0),
    steps: positiveInt(values.steps, 'steps', 400),
    ceItems: positiveInt(values['ce-items'], 'ce-items', 64),
    probe: probe as 'color' | 'shape',
  };
  if (!(request.bound >= 0)) throw new UsageError(`--bound must be a number >= 0, got ${String(values.bound)}.`);
  if (request.steps < 1 || request.ceItems < 1) throw new UsageError('--steps and --ce-items must be at least 1.');
  const json = Boolean(values.json);
  const backend = nodeBackend({ pinnedWorkspace: ws });
  const call = backend.call.bind(backend);
  try {
    await call('workspace.open', {});
    const job = await finished(backend, (await call('datasets.compare', request)).id, json);
    if (job.state !== 'succeeded') {
      console.error(`compare ${job.state}: ${job.error ?? ''}`);
      return 1;
    }
    const r = jobResult(job, 'dataset-compare');
    console.log(json ? JSON.stringify(r, null, 2) : formatComparison(r, by, request.keep));
    return 0;
  } finally {
    await backend.close();
  }
}

export function formatComparison(r: JobResultOf<'dataset-compare'>, by: string, keep: number): string {
  const ci = (e: { value: number; ci95: [number, number] }, d = 3) =>
    `${e.value.toFixed(d)} [${e.ci95[0].toFixed(d)}, ${e.ci95[1].toFixed(d)}]`;
  const lines = [
    `SAEs trained on ${by} keep ${keep}, a random share of the same size, and all ${r.poolItems} pool items; measured on ${r.heldOutItems} held-out items`,
    `(FVU and CE recovered: 95% percentile bootstrap over items, ${r.intervals.resamples} resamples; probe: Wilson 95%)`,
    `${'share'.padEnd(9)} ${'items'.padStart(5)} ${'rows'.padStart(7)}  ${'FVU'.padEnd(22)} ${'CE recovered'.padEnd(22)} probe accuracy`,
  ];
  for (const a of r.arms)
    lines.push(
      `${a.arm.padEnd(9)} ${String(a.items).padStart(5)} ${String(a.rows).padStart(7)}  ${ci(a.fvu).padEnd(22)} ${ci(a.ceRecovered).padEnd(22)} ${(a.probe.accuracy * 100).toFixed(1)}% [${(a.probe.ci95[0] * 100).toFixed(1)}, ${(a.probe.ci95[1] * 100).toFixed(1)}] (SAE ${a.saeId})`,
    );
  return lines.join('\n');
}
