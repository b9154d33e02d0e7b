import fs from 'node:fs';
import path from 'node:path';
import type { Device } from '../../contract/contract.js';
import { requireString, UsageError, type CommandSpec } from '../args.js';
import { finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';

export const analyzeCommand: CommandSpec = {
  name: 'analyze',
  summary:
    "Analyse an SAE's features over harvested activations, streaming over the shards: density, maxima, quantiles,\n" +
    'histograms, top-activating tokens and patches, image/text share, cross-modal weight, logit effects.',
  usage: 'ocular analyze --workspace W --sae ID (--harvest ID | --dataset DIR) [--top N] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    sae: { type: 'string' },
    harvest: { type: 'string' },
    dataset: { type: 'string' },
    top: { type: 'string' },
    device: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W     workspace holding the SAE and the harvest',
    '    --sae ID          SAE id (see `ocular sae list`)',
    "    --harvest ID      harvest holding the SAE's tap",
    "    --dataset DIR     or: the dataset folder; its latest harvest holding the SAE's tap is used",
    '    --top N           top-activating examples kept per feature (default 20)',
    '    --json            print the analysis record as JSON',
  ],
  async run(values) {
    const ws = path.resolve(requireString(values, 'workspace'));
    const json = Boolean(values.json);
    const backend = nodeBackend({ pinnedWorkspace: ws });
    const call = backend.call.bind(backend);
    try {
      await call('workspace.open', {});
      const saeId = Number(requireString(values, 'sae'));
      const sae = (await call('saes.list', {})).find((s) => s.id === saeId);
      if (!sae) throw new UsageError(`No SAE ${saeId} in ${ws}.`);
      let harvestId = values.harvest === undefined ? null : Number(values.harvest);
      if (harvestId === null) {
        if (typeof values.dataset !== 'string') throw new UsageError('Give --harvest ID or --dataset DIR.');
        const dir = fs.realpathSync(path.resolve(values.dataset));
        const datasets = (await call('datasets.list', {}))
          .filter((d) => fs.existsSync(d.path) && fs.realpathSync(d.path) === dir)
          .map((d) => d.id);
        const h = (await call('harvests.list', {})).find((x) => datasets.includes(x.datasetId) && sae.hookName && x.stats[sae.hookName]);
        if (!h)
          throw new UsageError(`No harvest of ${dir} holds ${sae.hookName}; run \`ocular harvest --tap ${sae.hookName}\` over it first.`);
        harvestId = h.id;
      }
      const started = await call('analyses.start', {
        saeId,
        harvestId,
        ...(values.top === undefined ? {} : { topN: Number(values.top) }),
        device: (values.device ?? 'auto') as Device,
      });
      const job = await finished(backend, started.job.id, json);
      if (job.state !== 'succeeded') {
        console.error(`analysis ${job.state}: ${job.error ?? ''}`);
        return 1;
      }
      const record = (await call('analyses.list', {})).find((a) => a.id === started.analysis.id)!;
      if (json) console.log(JSON.stringify(record, null, 2));
      else {
        const s = record.summary!;
        console.log(
          `analysis ${record.id}: SAE ${saeId} over harvest ${harvestId}: ${s.rows} rows, ${s.features} features (${s.neverFired} never fired), ${s.seconds.toFixed(1)} s${s.logitEffects ? '' : '; logit effects unavailable for this model'}`,
        );
      }
      return 0;
    } finally {
      await backend.close();
    }
  },
};
