import path from 'node:path';
import { modelPlanOptionsSchema } from '../../contract/contract.js';
import { formatReport, inspectModel } from '../../core/model/inspect.js';
import { formatPlan, planModel } from '../../core/model/plan.js';
import { UsageError, type CommandSpec } from '../args.js';
import { runHeadlessJob } from '../headless-job.js';
import { jobResult } from '../../contract/job-results.js';

export const modelCommand: CommandSpec = {
  name: 'model',
  summary:
    'Inspect an ONNX model folder (onnx-community layout) or graph file: towers, layer counts, widths,\n' +
    'TransformerLens-style taps, inputs/outputs, ops and dtype variants. Reads graphs only, never weights.\n' +
    'Plan: memory for weights, caches and prefill logits, and the disk a harvest takes, before starting.',
  usage:
    'ocular model inspect PATH [--json]\n' +
    '       ocular model plan PATH [--batch B] [--context T] [--tokens N] [--taps TAP,...] [--dtype D] [--harvest-dtype fp16|fp32] [--gpu GIB] [--json]\n' +
    '       ocular model download OWNER/NAME --out DIR [--dtype D] [--revision R] [--endpoint URL]\n' +
    '       ocular model generate PATH --image IMG --prompt TEXT [--image IMG --prompt TEXT ...] [--max-new-tokens N] [--device D] [--json]',
  options: {
    json: { type: 'boolean' },
    image: { type: 'string', multiple: true },
    prompt: { type: 'string', multiple: true },
    'max-new-tokens': { type: 'string' },
    device: { type: 'string' },
    out: { type: 'string' },
    dtype: { type: 'string' },
    revision: { type: 'string' },
    endpoint: { type: 'string' },
    batch: { type: 'string' },
    context: { type: 'string' },
    tokens: { type: 'string' },
    taps: { type: 'string', multiple: true },
    'harvest-dtype': { type: 'string' },
    gpu: { type: 'string' },
  },
  help: [
    '    --json            inspect / plan: print the full report as JSON (every tap listed)',
    '    --batch B         plan: sequences run together (default 1)',
    '    --context T       plan: tokens per sequence the caches hold, image tokens included (default 4096)',
    '    --tokens N        plan: rows a harvest stores per tap (default 1000000)',
    "    --taps TAP,...    plan: taps to harvest (default: the middle decoder block's hook_resid_post)",
    '    --harvest-dtype   plan: fp16 (default) or fp32',
    '    --gpu GIB         plan: say whether the memory estimate fits in this many GiB',
    '    --out DIR         download: folder to put the model in (re-running resumes)',
    '    --dtype D         download / plan: graph variant (fp32, fp16, q4, q4f16, int8, uint8, quantized, bnb4; download default fp32)',
    '    --revision R      download: branch, tag or commit (default main)',
    '    --endpoint URL    download: Hub address (default https://huggingface.co)',
    '    --image IMG       generate: an image file; pair each with a --prompt (or give one prompt for all)',
    '    --prompt TEXT     generate: the question or instruction',
    '    --max-new-tokens N  generate: token limit per answer (default 64)',
    '    --device D        generate: auto (CUDA when it loads, else CPU, with the reason), cpu or cuda',
  ],
  async run(values, positionals) {
    const [action, target] = positionals;
    if (action === 'inspect' && target) {
      const report = inspectModel(target);
      console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
      return report.problems.length > 0 ? 1 : 0;
    }
    if (action === 'plan' && target) return plan(target, values);
    if (action === 'download' && target) return download(target, values);
    if (action === 'generate' && target) return generateAnswers(target, values);
    throw new UsageError(`Usage: ${modelCommand.usage}`);
  },
};

/** Plans from the inspection report; options go through the contract's schema, which owns the defaults. */
function plan(target: string, values: Record<string, unknown>): number {
  const number = (name: string) => (values[name] === undefined ? undefined : Number(values[name]));
  const parsed = modelPlanOptionsSchema.safeParse({
    batch: number('batch'),
    context: number('context'),
    tokens: number('tokens'),
    taps: ((values.taps as string[] | undefined) ?? []).flatMap((t) => t.split(',')).filter((t) => t),
    harvestDtype: values['harvest-dtype'],
    variant: values.dtype,
    gpuGiB: number('gpu'),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = { harvestDtype: 'harvest-dtype', variant: 'dtype', gpuGiB: 'gpu' }[String(issue.path[0])] ?? String(issue.path[0]);
    throw new UsageError(`--${flag}: ${issue.message}`);
  }
  const report = inspectModel(target);
  if (report.problems.length > 0) throw new UsageError(`${report.path} cannot be planned: ${report.problems.join(' ')}`);
  const result = planModel(report, parsed.data);
  console.log(values.json ? JSON.stringify(result, null, 2) : formatPlan(result));
  return 0;
}

/** Downloads through the model-download job; re-running resumes from the partial files in --out. */
async function download(repo: string, values: Record<string, unknown>): Promise<number> {
  if (typeof values.out !== 'string') throw new UsageError('--out DIR is required for download.');
  const dest = path.resolve(values.out);
  const job = await runHeadlessJob('model-download', {
    repo,
    dest,
    dtype: values.dtype ?? 'fp32',
    revision: values.revision ?? 'main',
    endpoint: values.endpoint ?? 'https://huggingface.co',
  });
  if (job.state !== 'succeeded') {
    console.error(`download ${job.state}: ${job.error ?? ''}`);
    return 1;
  }
  console.log(`downloaded ${repo} to ${dest}`);
  return 0;
}

/** Runs the vlm-generate job and prints each answer. */
async function generateAnswers(modelPath: string, values: Record<string, unknown>): Promise<number> {
  const images = (values.image as string[] | undefined) ?? [];
  const prompts = (values.prompt as string[] | undefined) ?? [];
  if (images.length === 0) throw new UsageError('Give at least one --image.');
  if (prompts.length !== images.length && prompts.length !== 1)
    throw new UsageError('Give one --prompt per --image, or a single --prompt for all.');
  const items = images.map((image, i) => ({ image: path.resolve(image), prompt: prompts.length === 1 ? prompts[0]! : prompts[i]! }));
  const job = await runHeadlessJob(
    'vlm-generate',
    {
      model: path.resolve(modelPath),
      items,
      maxNewTokens: values['max-new-tokens'] === undefined ? 64 : Number(values['max-new-tokens']),
      device: values.device ?? 'auto',
    },
    { quiet: true },
  );
  if (job.state !== 'succeeded') {
    console.error(`generation ${job.state}: ${job.error ?? ''}`);
    return 1;
  }
  const result = jobResult(job, 'vlm-generate');
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    for (const o of result.outputs)
      console.log(`${path.basename(o.image)}  ${o.prompt}\n  -> ${o.text}${o.finishReason === 'length' ? '  [token limit]' : ''}`);
    if (result.hitTokenLimit > 0) console.log(`note: ${result.hitTokenLimit} of ${result.outputs.length} answers hit the token limit.`);
  }
  return 0;
}
