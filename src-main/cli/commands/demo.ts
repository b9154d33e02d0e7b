import fs from 'node:fs';
import path from 'node:path';
import type { EvalSummary, Job } from '../../contract/contract.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';

import { formatSummary } from './eval.js';
import { nodeBackend } from '../node-backend.js';

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'Run the pipeline headless on the bundled demo model: generate the benchmark into a workspace, then\nevaluate the model on it and print accuracy with confidence intervals.',
  usage: 'ocular demo --workspace DIR [--per-cell N] [--model DIR] [--json]',
  options: { workspace: { type: 'string', short: 'w' }, 'per-cell': { type: 'string' }, model: { type: 'string' }, json: { type: 'boolean' } },
  help: [
    '-w, --workspace DIR   workspace folder (created if needed)',
    '    --per-cell N      benchmark items per task and difficulty (default 20)',
    '    --model DIR       use this model folder instead of the bundled demo model',
    '    --json            print the evaluation summary as JSON',
  ],
  async run(values) {
    const dir = path.resolve(requireString(values, 'workspace'));
    const perCell = values['per-cell'] === undefined ? 20 : Number(values['per-cell']);
    if (!Number.isInteger(perCell) || perCell < 1) throw new UsageError('--per-cell must be a positive integer.');
    const json = Boolean(values.json);
    const backend = nodeBackend({ pinnedWorkspace: dir });
    const log = (line: string) => {
      if (!json) console.error(line);
    };
    try {
      const opened = fs.existsSync(path.join(dir, 'workspace.sqlite')) ? await backend.invoke('workspace.open', {}) : await backend.invoke('workspace.create', {});
      if (!opened.ok) throw new UsageError(opened.error.message);
      const model = typeof values.model === 'string' ? path.resolve(values.model) : (backend.demoModelPath() ?? undefined);
      if (!model) throw new UsageError('This installation has no bundled demo model (resources/models/ocular-demo-vlm); pass --model DIR.');
      const evaluation = new Promise<Job>((resolve, reject) =>
        backend.onEvent((e) => {
          if (e.type !== 'job.updated' || ['queued', 'running'].includes(e.job.state)) return;
          if (e.job.kind === 'dataset-synth' && e.job.state !== 'succeeded') reject(new Error(`benchmark generation ${e.job.state}: ${e.job.error ?? ''}`));
          if (e.job.kind === 'dataset-synth' && e.job.state === 'succeeded') log(`benchmark ready: ${(e.job.result as { items: number }).items} items; evaluating…`);
          if (e.job.kind === 'evaluate') resolve(e.job);
        }),
      );
      log(`workspace ${dir}\nmodel     ${model}\ngenerating the benchmark (${perCell} per task and difficulty)…`);
      await backend.startDemo(perCell, model);
      const job = await evaluation;
      if (job.state !== 'succeeded') {
        console.error(`evaluation ${job.state}: ${job.error ?? ''}`);
        return 1;
      }
      const summary = (await backend.invoke('evals.get', { id: (job.result as { evalId: number }).evalId })) as { ok: true; result: EvalSummary };
      console.log(json ? JSON.stringify(summary.result, null, 2) : formatSummary(summary.result));
      return 0;
    } finally {
      await backend.close();
    }
  },
};
