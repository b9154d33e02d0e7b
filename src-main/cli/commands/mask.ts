import path from 'node:path';
import type { Backend } from '../../core/backend/backend.js';
import { jobResult } from '../../contract/job-results.js';
import type { Device, RequestOf } from '../../contract/contract.js';
import { maskComparison, type MaskCondition, type MaskRow } from '../../core/masking/compare.js';
import { PATCH_METHODS, type PatchMethod } from '../../core/masking/patch-scores.js';
import { requireString, UsageError, type CommandSpec } from '../args.js';
import { finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;

export function maskTable(rows: MaskRow[]): string {
  const lines = ['method        keep  accuracy [95% CI]          vs random, points [95% CI]   p (mid-p McNemar)  p Holm   p BH'];
  for (const r of rows) {
    const v = r.vsRandom;
    lines.push(
      `${r.method.padEnd(13)} ${String(r.keep).padEnd(5)} ${`${pct(r.accuracy)} [${pct(r.ci95[0])}, ${pct(r.ci95[1])}]`.padEnd(26)} ` +
        (v
          ? `${`${pts(v.difference)} [${pts(v.ci95[0])}, ${pts(v.ci95[1])}]`.padEnd(28)} ${v.p.toPrecision(3).padEnd(18)} ${v.pHolm.toPrecision(3).padEnd(8)} ${v.pBh.toPrecision(3)}`
          : ''),
    );
  }
  return lines.join('\n');
}

/** Evaluates the model on a dataset; returns each item's outcome by key. */
async function outcomes(
  backend: Backend,
  modelId: number,
  datasetId: number,
  device: Device,
  quiet: boolean,
): Promise<Map<string, boolean>> {
  const call = backend.call.bind(backend);
  const started = await call('evals.start', { modelId, datasetId, device });
  const job = await finished(backend, started.job.id, quiet);
  if (job.state !== 'succeeded') throw new UsageError(`evaluation of dataset ${datasetId} ${job.state}: ${job.error ?? ''}`);
  const out = new Map<string, boolean>();
  for (let offset = 0; ; offset += 1000) {
    const page = await call('evals.predictions', { id: started.eval.id, offset, limit: 1000 });
    for (const p of page) out.set(p.item.key, p.correct);
    if (page.length < 1000) return out;
  }
}

export const maskCommand: CommandSpec = {
  name: 'mask',
  summary:
    "Patch masking (SAE-V): keep 75/50/25% of each image's patches chosen by an SAE score (or chosen features), mask the\n" +
    'rest, evaluate the model, and compare each with keeping as many random patches (paired, Holm / BH adjusted).',
  usage:
    'ocular mask --workspace W --analysis ID [--by l0,l1,cooccurrence,cross-modal,features] [--features F,...] [--keep 0.75,0.5,0.25] [--bound B] [--seed S] [--device D] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    analysis: { type: 'string' },
    by: { type: 'string' },
    features: { type: 'string' },
    keep: { type: 'string' },
    bound: { type: 'string' },
    seed: { type: 'string' },
    device: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W     workspace holding the analysis (its SAE, harvest, model and dataset)',
    '    --analysis ID     the analysis whose SAE scores the patches',
    '    --by M,...        patch scores (default l0,l1,cooccurrence,cross-modal; random always runs as the control)',
    '    --features F,...  the chosen features (with --by features): a patch scores their summed activation',
    '    --keep S,...      shares of patches kept (default 0.75,0.5,0.25)',
    '    --bound B         a feature is active on a patch when its activation exceeds B (default 0)',
    '    --seed S          seed of the random patches (default 0)',
    '    --json            print the comparison as JSON',
  ],
  async run(values) {
    const ws = path.resolve(requireString(values, 'workspace'));
    const list = (v: unknown) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : null;
    const methods = (list(values.by) ?? ['l0', 'l1', 'cooccurrence', 'cross-modal']) as PatchMethod[];
    const unknown = methods.find((m) => !PATCH_METHODS.includes(m));
    if (unknown) throw new UsageError(`--by takes ${PATCH_METHODS.join(', ')}, not "${unknown}".`);
    const keeps = (list(values.keep) ?? ['0.75', '0.5', '0.25']).map(Number);
    if (keeps.some((k) => !(k > 0 && k <= 1))) throw new UsageError('--keep takes shares in (0, 1].');
    const features = (list(values.features) ?? []).map(Number);
    if (features.some((f) => !Number.isInteger(f) || f < 0)) throw new UsageError('--features takes feature numbers.');
    const json = Boolean(values.json);
    const device = (values.device ?? 'auto') as Device;
    const backend = nodeBackend({ pinnedWorkspace: ws });
    const call = backend.call.bind(backend);
    try {
      await call('workspace.open', {});
      const analysisId = Number(requireString(values, 'analysis'));
      const analysis = (await call('analyses.list', {})).find((a) => a.id === analysisId);
      if (!analysis) throw new UsageError(`No analysis ${analysisId} in ${ws}.`);
      const harvest = (await call('harvests.list', {})).find((h) => h.id === analysis.harvestId)!;
      const modelId =
        (await call('models.list', {})).find((m) => m.path === harvest.modelPath)?.id ??
        (await call('models.add', { path: harvest.modelPath })).id;
      const started = await call('datasets.mask', {
        analysisId,
        methods: methods as RequestOf<'datasets.mask'>['methods'],
        keeps,
        features,
        ...(values.bound === undefined ? {} : { bound: Number(values.bound) }),
        ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
      });
      const job = await finished(backend, started.id, json);
      if (job.state !== 'succeeded') {
        console.error(`masking ${job.state}: ${job.error ?? ''}`);
        return 1;
      }
      const { sourceDatasetId, masked } = jobResult(job, 'patch-mask');
      const conditions: MaskCondition[] = [
        { method: 'full', keep: 1, outcomes: await outcomes(backend, modelId, sourceDatasetId, device, json) },
      ];
      for (const m of masked)
        conditions.push({
          method: m.method as PatchMethod,
          keep: m.keep,
          outcomes: await outcomes(backend, modelId, m.datasetId, device, json),
        });
      const rows = maskComparison(conditions);
      console.log(json ? JSON.stringify({ masked, rows }, null, 2) : maskTable(rows));
      return 0;
    } finally {
      await backend.close();
    }
  },
};
