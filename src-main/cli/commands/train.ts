import fs from 'node:fs';
import path from 'node:path';
import { UsageError, requireString, type CommandSpec } from '../args.js';
import { ensureModelAndDataset, finished } from '../backend-calls.js';
import { runHeadlessJob } from '../headless-job.js';
import { nodeBackend } from '../node-backend.js';
import { jobResult } from '../../contract/job-results.js';
import type { z } from 'zod';
import { saeTrainRequestSchema, type Job } from '../../contract/contract.js';
import { defaultOf } from '../../contract/defaults.js';
import { readDatasetFolder } from '../../core/datasets/dataset-folder.js';
import { checkModelTaps } from '../../core/harvest/model-rows.js';
import { inspectModel } from '../../core/model/inspect.js';

const num = (v: unknown, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${String(v)}.`);
  return n;
};

/** The schema's defaults, shown in the help. */
const d = Object.fromEntries(
  Object.entries(saeTrainRequestSchema.shape).map(([k, v]) => [k, defaultOf(v as z.ZodType<unknown>)]),
) as Record<keyof typeof saeTrainRequestSchema.shape, unknown>;

export const trainCommand: CommandSpec = {
  name: 'train',
  summary:
    'Train an SAE (TopK, BatchTopK or ReLU + L1) or a transcoder on taps of a harvest in a workspace; the\ntraining step is an ONNX graph run by onnxruntime (CPU, or CUDA where available). The trained SAE is\nstored in the workspace (SAELens format).',
  usage:
    'ocular train --workspace W (--harvest ID | --from-model --model DIR --dataset DIR [--tokens image,text] [--limit N]) --tap NAME [--out-tap NAME] [--arch topk|batchtopk|relu] [--expansion N] [--k K] [--l1 C] [--steps S] [--batch B] [--lr LR] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    harvest: { type: 'string' },
    'from-model': { type: 'boolean' },
    model: { type: 'string' },
    dataset: { type: 'string' },
    tokens: { type: 'string' },
    limit: { type: 'string' },
    tap: { type: 'string' },
    'out-tap': { type: 'string' },
    arch: { type: 'string' },
    l1: { type: 'string' },
    'aux-k': { type: 'string' },
    'aux-coef': { type: 'string' },
    seed: { type: 'string' },
    'b-dec-init': { type: 'string' },
    normalize: { type: 'string' },
    'checkpoint-every': { type: 'string' },
    'log-every': { type: 'string' },
    'dead-after': { type: 'string' },
    expansion: { type: 'string' },
    k: { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    'shuffle-buffer-mb': { type: 'string' },
    device: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W     workspace holding the harvest',
    '    --harvest ID      harvest id (see the Activations page or `ocular harvest --json`)',
    '    --from-model      train without storing: run --model over --dataset and train on the rows as they are',
    '                      produced (no shards kept; an epoch is one pass over the items; decoder taps only)',
    '    --model DIR       with --from-model: model folder (registered in the workspace if new)',
    '    --dataset DIR     with --from-model: dataset folder (imported into the workspace if new)',
    '    --tokens KINDS    with --from-model: image, text or both (default image,text)',
    '    --limit N         with --from-model: only the first N items',
    "    --tap NAME        tap to train on (one of the harvest's taps)",
    '    --out-tap NAME    train a transcoder from --tap to this tap (e.g. hook_mlp_in -> hook_mlp_out)',
    '    --arch A          topk (default), batchtopk (saved as JumpReLU with the learned threshold) or relu (L1)',
    `    --expansion N     d_sae = N x d_in (default ${d.expansion})`,
    `    --k K             active features per token (default ${d.k}; mean per token for batchtopk)`,
    `    --l1 C            L1 coefficient for relu (default ${d.l1Coefficient})`,
    '    --aux-k N         AuxK dead-feature revival (default d_in / 2; 0 turns it off)',
    '    --aux-coef C      AuxK loss weight (default 1/32)',
    `    --seed N          initialisation and batch-sampling seed (default ${d.seed})`,
    '    --b-dec-init I    geometric-median (default), mean or zeros',
    '    --normalize N     expected_average_only_in (default: train on activations scaled to mean squared norm',
    '                      d_in, folded into the saved weights, as SAELens does) or none',
    `    --checkpoint-every N  steps between checkpoints (default ${d.checkpointEvery}); \`ocular jobs resume\` continues from the last`,
    `    --log-every N     steps between logged metrics (default ${d.logEvery})`,
    `    --dead-after N    steps without firing before a feature counts as dead (default ${d.deadAfterSteps})`,
    `    --steps S         optimisation steps (default ${d.steps})`,
    `    --batch B         rows per step (default ${d.batchSize})`,
    `    --lr LR           Adam learning rate (default ${d.lr})`,
    `    --shuffle-buffer-mb M  rows are drawn through a shuffle buffer of M MiB, each once per epoch (default ${d.shuffleBufferMb})`,
    '    --json            print the final metrics and history as JSON',
  ],
  async run(values) {
    const settings = {
      tap: requireString(values, 'tap'),
      outputTap: values['out-tap'] as string | undefined,
      architecture: values.arch,
      l1Coefficient: num(values.l1, 'l1'),
      auxK: num(values['aux-k'], 'aux-k'),
      auxCoefficient: num(values['aux-coef'], 'aux-coef'),
      seed: num(values.seed, 'seed'),
      bDecInit: values['b-dec-init'],
      normalizeActivations: values.normalize,
      checkpointEvery: num(values['checkpoint-every'], 'checkpoint-every'),
      logEvery: num(values['log-every'], 'log-every'),
      deadAfterSteps: num(values['dead-after'], 'dead-after'),
      expansion: num(values.expansion, 'expansion'),
      k: num(values.k, 'k'),
      steps: num(values.steps, 'steps'),
      batchSize: num(values.batch, 'batch'),
      lr: num(values.lr, 'lr'),
      shuffleBufferMb: num(values['shuffle-buffer-mb'], 'shuffle-buffer-mb'),
      device: values.device,
    };
    const workspace = path.resolve(requireString(values, 'workspace'));
    const job = values['from-model']
      ? await trainFromModel(values, workspace, settings)
      : await runHeadlessJob(
          'sae-train',
          {
            harvestId:
              num(values.harvest, 'harvest') ??
              (() => {
                throw new UsageError('--harvest is required (or --from-model with --model and --dataset).');
              })(),
            ...settings,
          },
          { workspace, quiet: Boolean(values.json) },
        );
    if (job.state !== 'succeeded') {
      console.error(`training ${job.state}: ${job.error ?? ''}`);
      return 1;
    }
    const r = jobResult(job, 'sae-train');
    const final = r.final!; // a run of one step or more logs its last step
    console.log(
      values.json
        ? JSON.stringify(job.result, null, 2)
        : `SAE ${r.saeId}: ${r.steps} steps, FVU ${final.fvu.toFixed(3)}, L0 ${final.l0.toFixed(1)}, dead ${(final.deadFraction * 100).toFixed(1)}%`,
    );
    return 0;
  },
};

/**
 * `--from-model`: the taps checked against the model's own report and the dataset folder read
 * before the workspace is touched, then the model registered and the dataset imported if new, and
 * the run started through saes.train (which checks again).
 */
async function trainFromModel(
  values: Record<string, unknown>,
  ws: string,
  settings: Record<string, unknown> & { tap: string; outputTap?: string },
): Promise<Job> {
  if (values.harvest !== undefined) throw new UsageError('Give --harvest or --from-model, not both.');
  const modelDir = path.resolve(requireString(values, 'model'));
  const datasetDir = path.resolve(requireString(values, 'dataset'));
  const tokenKinds = typeof values.tokens === 'string' ? values.tokens.split(',').map((t) => t.trim()) : ['image', 'text'];
  for (const t of tokenKinds)
    if (t !== 'image' && t !== 'text')
      throw new UsageError(`--tokens with --from-model takes image and/or text, not '${t}' (generated tokens need a stored harvest).`);
  const limit = num(values.limit, 'limit');
  checkModelTaps(inspectModel(modelDir), settings.tap, settings.outputTap);
  await readDatasetFolder(datasetDir, { checkImages: false });
  // The settings checked as saes.train will check them (ids not known yet), so nothing is registered for a run it would refuse.
  const fromModel = { tokenKinds: tokenKinds as Array<'image' | 'text'>, limit: limit ?? null };
  const checked = saeTrainRequestSchema.strict().safeParse({ ...settings, fromModel: { modelId: 1, datasetId: 1, ...fromModel } });
  if (!checked.success)
    throw new UsageError(checked.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; '));
  const backend = nodeBackend({ pinnedWorkspace: ws });
  const call = backend.call.bind(backend);
  try {
    await call(fs.existsSync(path.join(ws, 'workspace.sqlite')) ? 'workspace.open' : 'workspace.create', {});
    const { modelId, datasetId } = await ensureModelAndDataset(backend, modelDir, datasetDir);
    const job = await call('saes.train', { ...checked.data, fromModel: { ...checked.data.fromModel!, modelId, datasetId } });
    return await finished(backend, job.id, Boolean(values.json));
  } finally {
    await backend.close();
  }
}
