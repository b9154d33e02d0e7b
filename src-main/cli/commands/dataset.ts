import { synthesizeBenchmark } from '../../core/benchmark/synth.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';

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
    'seeded and byte-for-byte deterministic) as a plain folder: images/, items.jsonl, dataset.json.',
  usage: 'ocular dataset synth --out DIR [--seed S] [--per-cell N] [--size PX] [--json]',
  options: {
    out: { type: 'string' },
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
  ],
  async run(values, positionals) {
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
