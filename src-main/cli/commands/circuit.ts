import path from 'node:path';
import type { ReplacementCheck, TranscoderSetLayer } from '../../contract/contract.js';
import { jobResult } from '../../contract/job-results.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';
import { ensureModelAndDataset, finished } from '../backend-calls.js';
import { runHeadlessJob } from '../headless-job.js';
import { nodeBackend } from '../node-backend.js';

const num = (v: unknown, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${String(v)}.`);
  return n;
};
const required = (v: unknown, name: string): number =>
  num(v, name) ??
  (() => {
    throw new UsageError(`--${name} is required.`);
  })();
const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);

export const circuitCommand: CommandSpec = {
  name: 'circuit',
  summary:
    'Circuits: train a transcoder per decoder layer (a set), check the replacement model (every MLP replaced\nat once), trace attribution graphs and read attention maps.',
  usage:
    'ocular circuit train-set --workspace W --harvest ID [--layers 0,1,2] [--expansion N] [--k K] [--steps S] [--batch B] [--lr LR] [--json]\n' +
    '       ocular circuit check --workspace W --set ID --model DIR --dataset DIR [--limit N] [--no-accuracy] [--json]\n' +
    '       ocular circuit trace --workspace W --set ID --image IMG --prompt TEXT [--target TOKEN] [--contrast TOKEN] [--max-features N] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    harvest: { type: 'string' },
    layers: { type: 'string' },
    arch: { type: 'string' },
    expansion: { type: 'string' },
    k: { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    set: { type: 'string' },
    model: { type: 'string' },
    dataset: { type: 'string' },
    limit: { type: 'string' },
    'no-accuracy': { type: 'boolean' },
    image: { type: 'string' },
    prompt: { type: 'string' },
    target: { type: 'string' },
    contrast: { type: 'string' },
    'max-features': { type: 'string' },
    'node-threshold': { type: 'string' },
    'edge-threshold': { type: 'string' },
    device: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W     workspace',
    '    --harvest ID      train-set: harvest holding blocks.L.hook_mlp_in and hook_mlp_out',
    '    --layers L,...    train-set: decoder layers (default: every layer the harvest has both taps for)',
    '    --arch/--expansion/--k/--steps/--batch/--lr/--seed   train-set: shared settings, as `ocular train`',
    '    --set ID          check: the transcoder set (the train-set job id)',
    '    --model DIR       check: the model the set was trained on',
    '    --dataset DIR     check: dataset folder (items with reference answers)',
    '    --limit N         check: items to use (default 64)',
    '    --no-accuracy     check: cross-entropy only',
    '    --image IMG       trace: the image (PNG or JPEG)',
    '    --prompt TEXT     trace: the question',
    '    --target TOKEN    trace: the output token to explain (default: the top prediction)',
    '    --contrast TOKEN  trace: explain target minus this token',
    '    --max-features N  trace: feature rows computed, most influential first (default 512)',
    '    --node-threshold F / --edge-threshold F   trace: pruning by influence share (default 0.8 / 0.98)',
    '    --json            print machine-readable JSON',
  ],
  async run(values, positionals) {
    const [action] = positionals;
    if (action === 'train-set') return trainSet(values);
    if (action === 'check') return check(values);
    if (action === 'trace') return trace(values);
    throw new UsageError(`Unknown action '${action ?? ''}'; use train-set, check or trace.`);
  },
};

async function trainSet(values: Record<string, unknown>): Promise<number> {
  const layers = typeof values.layers === 'string' ? values.layers.split(',').map((l) => required(l.trim(), 'layers')) : undefined;
  const job = await runHeadlessJob(
    'transcoder-set',
    {
      harvestId: required(values.harvest, 'harvest'),
      layers,
      architecture: values.arch,
      expansion: num(values.expansion, 'expansion'),
      k: num(values.k, 'k'),
      steps: num(values.steps, 'steps'),
      batchSize: num(values.batch, 'batch'),
      lr: num(values.lr, 'lr'),
      seed: num(values.seed, 'seed'),
      device: values.device,
    },
    { workspace: path.resolve(requireString(values, 'workspace')), quiet: Boolean(values.json) },
  );
  if (job.state !== 'succeeded') {
    console.error(`transcoder set ${job.state}: ${job.error ?? ''}`);
    return 1;
  }
  const r = job.result as { setId: number; layers: TranscoderSetLayer[] };
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(`transcoder set ${r.setId}:`);
    for (const l of r.layers)
      console.log(`  layer ${l.layer}: SAE ${l.saeId}, FVU ${l.fvu?.toFixed(3)}, L0 ${l.l0?.toFixed(1)}, dead ${pct(l.deadFraction)}`);
  }
  return 0;
}

async function check(values: Record<string, unknown>): Promise<number> {
  const backend = nodeBackend({ pinnedWorkspace: path.resolve(requireString(values, 'workspace')) });
  try {
    const opened = await backend.invoke('workspace.open', {});
    if (!opened.ok) throw new UsageError(opened.error.message);
    const { modelId, datasetId } = await ensureModelAndDataset(
      backend,
      path.resolve(requireString(values, 'model')),
      path.resolve(requireString(values, 'dataset')),
    );
    const started = await backend.invoke('circuits.checkReplacement', {
      setId: required(values.set, 'set'),
      modelId,
      datasetId,
      ...(values.limit === undefined ? {} : { limit: required(values.limit, 'limit') }),
      accuracy: !values['no-accuracy'],
      device: values.device ?? 'auto',
    });
    if (!started.ok) throw new UsageError(started.error.message);
    const done = await finished(backend, (started.result as { id: number }).id, Boolean(values.json));
    if (done.state !== 'succeeded') {
      console.error(`replacement check ${done.state}: ${done.error ?? ''}`);
      return 1;
    }
    const r = done.result as ReplacementCheck;
    if (values.json) console.log(JSON.stringify(r, null, 2));
    else {
      console.log(`replacement model (set ${r.setId}, layers ${r.layers.join(', ')}), ${r.items} items, ${r.tokens} answer tokens:`);
      console.log(
        `  CE clean ${r.ceClean.toFixed(4)}, errors kept ${r.ceErrorsKept.toFixed(4)}, replaced ${r.ceReplaced.toFixed(4)} (+${r.ceIncrease.toFixed(4)})`,
      );
      if (r.accuracyClean !== null) console.log(`  accuracy clean ${pct(r.accuracyClean)}, replaced ${pct(r.accuracyReplaced)}`);
    }
    return 0;
  } finally {
    await backend.close();
  }
}

async function trace(values: Record<string, unknown>): Promise<number> {
  const job = await runHeadlessJob(
    'circuit-trace',
    {
      setId: required(values.set, 'set'),
      image: path.resolve(requireString(values, 'image')),
      prompt: requireString(values, 'prompt'),
      target: values.target,
      contrast: values.contrast,
      maxFeatureNodes: num(values['max-features'], 'max-features'),
      nodeThreshold: num(values['node-threshold'], 'node-threshold'),
      edgeThreshold: num(values['edge-threshold'], 'edge-threshold'),
      device: values.device,
    },
    { workspace: path.resolve(requireString(values, 'workspace')), quiet: Boolean(values.json) },
  );
  if (job.state !== 'succeeded') {
    console.error(`trace ${job.state}: ${job.error ?? ''}`);
    return 1;
  }
  const r = jobResult(job, 'circuit-trace');
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(`circuit ${r.circuitId} (${r.method}): target '${r.target}', output ${r.outputValue.toFixed(3)}`);
    console.log(`  ${r.nodes} nodes, ${r.edges} edges after pruning; saved to ${r.file}`);
    console.log(
      `  attribution graph: ${r.seconds.attribution.toFixed(2)} s (capture ${r.seconds.capture.toFixed(2)} s, attention maps ${r.seconds.attention.toFixed(2)} s)`,
    );
  }
  return 0;
}
