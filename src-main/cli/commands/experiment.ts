import fs from 'node:fs';
import path from 'node:path';
import type { ExperimentRecord, RequestOf } from '../../contract/contract.js';
import { requireString, UsageError, type CommandSpec } from '../args.js';
import { finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function formatExperiment(e: ExperimentRecord): string {
  const r = e.results!;
  const lines = [`experiment ${e.id} "${e.name}": ${r.items} items, ${r.resamples} resamples, seed ${r.seed}`];
  for (const c of r.conditions) {
    const p = c.pVsBaseline === null ? '' : ` p=${c.pVsBaseline.toFixed(4)}`;
    lines.push(
      `  ${c.id.padEnd(44)} acc ${pct(c.accuracy)} [${pct(c.ci95[0])}, ${pct(c.ci95[1])}]  Δ ${(c.accuracyChange * 100).toFixed(1).padStart(6)} pts${p}  drift ${pct(c.drift)}  shift ${c.shiftNorm.toFixed(2)}  KL ${c.klFirstToken.toFixed(3)}${c.flagged ? '  FLAGGED: a control moved accuracy as much' : ''}`,
    );
  }
  return lines.join('\n');
}

export const experimentCommand: CommandSpec = {
  name: 'experiment',
  summary:
    'Run a steering / ablation experiment from a JSON spec (feature sets, operation and sweep, where to apply,\ncontrols), or linear probes per layer; print the results with CIs and p-values.',
  usage:
    'ocular experiment run SPEC.json --workspace W [--json] | ocular experiment probe --workspace W --harvest ID --label task|color|shape [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    harvest: { type: 'string' },
    label: { type: 'string' },
    modality: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W     workspace holding the model, SAE, analysis and dataset the spec names',
    '    --harvest ID      probe: a harvest with several layers',
    '    --label L         probe: task, color or shape',
    '    --json            print the results as JSON',
  ],
  async run(values, positionals) {
    const [action, file] = positionals;
    const json = Boolean(values.json);
    const backend = nodeBackend({ pinnedWorkspace: path.resolve(requireString(values, 'workspace')) });
    const call = backend.call.bind(backend);
    try {
      await call('workspace.open', {});
      if (action === 'run' && file) {
        let spec: RequestOf<'experiments.start'>;
        try {
          spec = JSON.parse(fs.readFileSync(path.resolve(file), 'utf8')) as RequestOf<'experiments.start'>;
        } catch (err) {
          throw new UsageError(`Cannot read ${file} as JSON: ${(err as Error).message}`);
        }
        const started = await call('experiments.start', spec);
        const job = await finished(backend, started.job.id, json);
        if (job.state !== 'succeeded') {
          console.error(`experiment ${job.state}: ${job.error ?? ''}`);
          return 1;
        }
        const e = (await call('experiments.list', {})).find((x) => x.id === started.experiment.id)!;
        console.log(json ? JSON.stringify(e, null, 2) : formatExperiment(e));
        return 0;
      }
      if (action === 'probe') {
        const started = await call('probes.start', {
          harvestId: Number(requireString(values, 'harvest')),
          label: requireString(values, 'label') as RequestOf<'probes.start'>['label'],
          ...(values.modality ? { modality: values.modality as RequestOf<'probes.start'>['modality'] } : {}),
        });
        const job = await finished(backend, started.job.id, json);
        if (job.state !== 'succeeded') {
          console.error(`probe ${job.state}: ${job.error ?? ''}`);
          return 1;
        }
        const p = (await call('probes.list', {})).find((x) => x.id === started.probe.id)!;
        if (json) console.log(JSON.stringify(p, null, 2));
        else
          for (const l of p.results!.layers)
            console.log(
              `${l.tap.padEnd(32)} ${pct(l.accuracy)} [${pct(l.ci95[0])}, ${pct(l.ci95[1])}]  shuffled labels ${pct(l.shuffledAccuracy)}  majority ${pct(l.majority)}`,
            );
        return 0;
      }
      throw new UsageError(`Usage: ${experimentCommand.usage}`);
    } finally {
      await backend.close();
    }
  },
};
