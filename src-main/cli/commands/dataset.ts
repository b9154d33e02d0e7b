import fs from 'node:fs';
import path from 'node:path';
import { synthesizeBenchmark } from '../../core/benchmark/synth.js';
import { FILTER_METHODS } from '../../core/datasets/sae-v-filter.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';
import { jobResult } from '../../contract/job-results.js';
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
    'or keep the best share of a harvested dataset by SAE-V scores (filter).',
  usage:
    'ocular dataset synth --out DIR [--seed S] [--per-cell N] [--size PX] [--json]\n' +
    '       ocular dataset filter --workspace W --analysis ID --by cross-modal|cooccurrence|l0|random [--keep 0.5] [--bound B] [--seed S] [--out DIR] [--json]',
  options: {
    out: { type: 'string' },
    workspace: { type: 'string', short: 'w' },
    analysis: { type: 'string' },
    by: { type: 'string' },
    keep: { type: 'string' },
    bound: { type: 'string' },
    seed: { type: 'string' },
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
  ],
  async run(values, positionals) {
    if (positionals[0] === 'filter') return filter(values);
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
      by,
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
