import path from 'node:path';
import { Backend } from '../../core/backend/backend.js';
import type { Job } from '../../contract/contract.js';
import { formatReport, inspectModel } from '../../core/model/inspect.js';
import { UsageError, type CommandSpec } from '../args.js';
import { nodeBundlePaths } from '../paths.js';

export const modelCommand: CommandSpec = {
  name: 'model',
  summary:
    'Inspect an ONNX model folder (onnx-community layout) or graph file: towers, layer counts, widths,\n' +
    'TransformerLens-style taps, inputs/outputs, ops and dtype variants. Reads graphs only, never weights.',
  usage: 'ocular model inspect PATH [--json] | ocular model download OWNER/NAME --out DIR [--dtype D] [--revision R] [--endpoint URL]',
  options: {
    json: { type: 'boolean' },
    out: { type: 'string' },
    dtype: { type: 'string' },
    revision: { type: 'string' },
    endpoint: { type: 'string' },
  },
  help: [
    '    --json            inspect: print the full report as JSON (every tap listed)',
    '    --out DIR         download: folder to put the model in (re-running resumes)',
    '    --dtype D         download: graph variant (fp32, fp16, q4, q4f16, int8, uint8, quantized, bnb4; default fp32)',
    '    --revision R      download: branch, tag or commit (default main)',
    '    --endpoint URL    download: Hub address (default https://huggingface.co)',
  ],
  async run(values, positionals) {
    const [action, target] = positionals;
    if (action === 'inspect' && target) {
      const report = inspectModel(target);
      console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
      return report.problems.length > 0 ? 1 : 0;
    }
    if (action === 'download' && target) return download(target, values);
    throw new UsageError(`Usage: ${modelCommand.usage}`);
  },
};

/** Runs the download job in a scratch workspace beside the target folder, printing progress. */
async function download(repo: string, values: Record<string, unknown>): Promise<number> {
  if (typeof values.out !== 'string') throw new UsageError('--out DIR is required for download.');
  const dest = path.resolve(values.out);
  const backend = new Backend({
    transport: 'http',
    pinnedWorkspace: path.join(path.dirname(dest), '.ocular-downloads'),
    workerEntry: nodeBundlePaths.jobWorker,
    taskWorkerEntry: nodeBundlePaths.taskWorker,
  });
  try {
    const opened = await backend.invoke('workspace.open', {});
    if (!opened.ok) await backend.invoke('workspace.create', {});
    const finished = new Promise<Job>((resolve) =>
      backend.onEvent((e) => {
        if (e.type !== 'job.updated') return;
        process.stderr.write(`\r${(e.job.progress * 100).toFixed(0).padStart(3)}%  ${e.job.message ?? ''}`.padEnd(100));
        if (!['queued', 'running'].includes(e.job.state)) resolve(e.job);
      }),
    );
    // The CLI may aim anywhere the user can write, so it starts the job kind directly.
    backend.startTrustedJob('model-download', { repo, dest, dtype: values.dtype ?? 'fp32', revision: values.revision ?? 'main', endpoint: values.endpoint ?? 'https://huggingface.co' });
    const job = await finished;
    process.stderr.write('\n');
    if (job.state !== 'succeeded') {
      console.error(`download ${job.state}: ${job.error ?? ''}`);
      return 1;
    }
    console.log(`downloaded ${repo} to ${dest}`);
    return 0;
  } finally {
    await backend.close();
  }
}
