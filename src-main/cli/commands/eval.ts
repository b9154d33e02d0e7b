import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Device, EvalSummary } from '../../contract/contract.js';
import { requireString, type CommandSpec } from '../args.js';
import { ensureModelAndDataset, finished } from '../backend-calls.js';

import { nodeBackend } from '../node-backend.js';

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function formatSummary(s: EvalSummary): string {
  const row = (a: EvalSummary['overall']) =>
    `${a.key.padEnd(18)} ${String(a.n).padStart(6)}  ${pct(a.accuracy).padStart(7)}  [${pct(a.ci95[0])}, ${pct(a.ci95[1])}]`;
  const lines = [
    `model    ${s.eval.modelPath}`,
    `dataset  ${s.eval.datasetName} (${s.overall.n} items graded)`,
    '',
    `${'group'.padEnd(18)} ${'n'.padStart(6)}  ${'acc'.padStart(7)}  95% CI (Wilson score)`,
  ];
  lines.push(
    row(s.overall),
    '',
    ...s.byTask.map(row),
    '',
    ...s.byDifficulty.map((a) => row({ ...a, key: `difficulty ${a.key}` })),
    '',
    ...s.byAnswerType.map(row),
  );
  if (s.hitLimitShare > 0.05)
    lines.push(
      '',
      `warning: ${pct(s.hitLimitShare)} of outputs hit the token limit; raise --max-new-tokens before trusting these numbers.`,
    );
  if (s.extractionFailures > 0) lines.push(`note: no answer could be extracted from ${s.extractionFailures} outputs.`);
  return lines.join('\n');
}

export const evalCommand: CommandSpec = {
  name: 'eval',
  summary:
    'Evaluate a VLM on a dataset folder: generate, extract and grade answers, report accuracy per task,\ndifficulty and answer type with Wilson 95% confidence intervals.',
  usage:
    'ocular eval --model DIR --dataset DIR [--max-new-tokens N] [--prompt TEMPLATE] [--limit N] [--device D] [--workspace DIR] [--json]',
  options: {
    model: { type: 'string' },
    dataset: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    prompt: { type: 'string' },
    limit: { type: 'string' },
    device: { type: 'string' },
    workspace: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '    --model DIR         model folder (onnx-community layout)',
    '    --dataset DIR       dataset folder (items.jsonl or CSV + images; `ocular dataset synth` writes one)',
    '    --max-new-tokens N  token limit per answer (default 32)',
    "    --prompt TEMPLATE   prompt template containing {question} (default '{question}')",
    '    --limit N           grade only the first N items',
    '    --device D          auto, cpu or cuda (default auto)',
    '    --workspace DIR     keep the evaluation in this workspace (default: a temporary one)',
    '    --json              print the summary as JSON',
  ],
  async run(values) {
    const model = path.resolve(requireString(values, 'model'));
    const dataset = path.resolve(requireString(values, 'dataset'));
    const scratch = values.workspace ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-eval-'));
    const backend = nodeBackend({
      pinnedWorkspace: typeof values.workspace === 'string' ? path.resolve(values.workspace) : path.join(scratch!, 'workspace'),
    });
    const call = backend.call.bind(backend);
    try {
      if (!(await backend.invoke('workspace.open', {})).ok) await call('workspace.create', {});
      const { modelId, datasetId } = await ensureModelAndDataset(backend, model, dataset);
      const json = Boolean(values.json);
      const started = await call('evals.start', {
        modelId,
        datasetId,
        maxNewTokens: values['max-new-tokens'] === undefined ? 32 : Number(values['max-new-tokens']),
        promptTemplate: typeof values.prompt === 'string' ? values.prompt : '{question}',
        limit: values.limit === undefined ? null : Number(values.limit),
        device: (values.device ?? 'auto') as Device,
      });
      const job = await finished(backend, started.job.id, json);
      if (job.state !== 'succeeded') {
        console.error(`evaluation ${job.state}: ${job.error ?? ''}`);
        return 1;
      }
      const summary = await call('evals.get', { id: started.eval.id });
      console.log(json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
      return 0;
    } finally {
      await backend.close();
      if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    }
  },
};
