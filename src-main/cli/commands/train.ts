import path from 'node:path';
import { UsageError, requireString, type CommandSpec } from '../args.js';
import { runHeadlessJob } from '../headless-job.js';

const num = (v: unknown, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${String(v)}.`);
  return n;
};

export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'Train a TopK SAE on one tap of a harvest in a workspace; the training step is an ONNX graph run by\nonnxruntime (CPU, or CUDA where available). The trained SAE is stored in the workspace (SAELens format).',
  usage: 'ocular train --workspace W --harvest ID --tap NAME [--expansion N] [--k K] [--steps S] [--batch B] [--lr LR] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    harvest: { type: 'string' },
    tap: { type: 'string' },
    expansion: { type: 'string' },
    k: { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    device: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W     workspace holding the harvest',
    '    --harvest ID      harvest id (see the Activations page or `ocular harvest --json`)',
    '    --tap NAME        tap to train on (one of the harvest\'s taps)',
    '    --expansion N     d_sae = N x d_in (default 8)',
    '    --k K             active features per token (default 32)',
    '    --steps S         optimisation steps (default 2000)',
    '    --batch B         rows per step (default 1024)',
    '    --lr LR           Adam learning rate (default 4e-4)',
    '    --json            print the final metrics and history as JSON',
  ],
  async run(values) {
    const job = await runHeadlessJob(
      'sae-train',
      {
        harvestId: num(values.harvest, 'harvest') ?? (() => { throw new UsageError('--harvest is required.'); })(),
        tap: requireString(values, 'tap'),
        expansion: num(values.expansion, 'expansion'),
        k: num(values.k, 'k'),
        steps: num(values.steps, 'steps'),
        batchSize: num(values.batch, 'batch'),
        lr: num(values.lr, 'lr'),
        device: values.device,
      },
      { workspace: path.resolve(requireString(values, 'workspace')), quiet: Boolean(values.json) },
    );
    if (job.state !== 'succeeded') {
      console.error(`training ${job.state}: ${job.error ?? ''}`);
      return 1;
    }
    const r = job.result as { saeId: number; steps: number; final: { fvu: number; l0: number; deadFraction: number } };
    console.log(values.json ? JSON.stringify(job.result, null, 2) : `SAE ${r.saeId}: ${r.steps} steps, FVU ${r.final.fvu.toFixed(3)}, L0 ${r.final.l0.toFixed(1)}, dead ${(r.final.deadFraction * 100).toFixed(1)}%`);
    return 0;
  },
};
