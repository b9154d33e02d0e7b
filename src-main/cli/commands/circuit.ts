import fs from 'node:fs';
import path from 'node:path';
import { neuronpediaGraphOf, writeNeuronpediaFiles } from '../../core/circuits/neuronpedia.js';
import { DB_FILE, WorkspaceLayout } from '../../core/store/layout.js';
import type { Job, ReplacementCheck, TranscoderSetLayer } from '../../contract/contract.js';
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
    'Circuits: train a transcoder per decoder layer (a set), check the replacement model (every MLP replaced\nat once), trace attribution graphs and read attention maps, patch features from one prompt into another.',
  usage:
    'ocular circuit train-set --workspace W --harvest ID [--layers 0,1,2] [--expansion N] [--k K] [--steps S] [--batch B] [--lr LR] [--json]\n' +
    '       ocular circuit check --workspace W --set ID --model DIR --dataset DIR [--limit N] [--no-accuracy] [--json]\n' +
    '       ocular circuit trace --workspace W --set ID --image IMG --prompt TEXT [--target TOKEN] [--contrast TOKEN] [--max-features N] [--method auto|linearised|ablation] [--json]\n' +
    '       ocular circuit patch --workspace W --set ID (--features L:F,... [--positions all|last|image|text] | --graph ID | --pair-graph)\n' +
    '                            (--dataset DIR [--task T] [--a-answer X] [--b-answer Y] [--limit N] | --image-a IMG --prompt-a TEXT --image-b IMG --prompt-b TEXT)\n' +
    '                            [--controls N] [--seed S] [--json]\n' +
    '       ocular circuit export --workspace W --circuit ID --format neuronpedia --out DIR [--slug S]',
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
    method: { type: 'string' },
    'node-threshold': { type: 'string' },
    'edge-threshold': { type: 'string' },
    features: { type: 'string' },
    graph: { type: 'string' },
    'pair-graph': { type: 'boolean' },
    positions: { type: 'string' },
    task: { type: 'string' },
    'a-answer': { type: 'string' },
    'b-answer': { type: 'string' },
    'image-a': { type: 'string' },
    'prompt-a': { type: 'string' },
    'answer-a': { type: 'string' },
    'image-b': { type: 'string' },
    'prompt-b': { type: 'string' },
    'answer-b': { type: 'string' },
    controls: { type: 'string' },
    circuit: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    slug: { type: 'string' },
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
    '    --method M        trace: linearised (refuse exports it cannot linearise), ablation (measure each candidate node by ablation in the real model), auto (default: linearised, else ablation)',
    '    --node-threshold F / --edge-threshold F   trace: pruning by influence share (default 0.8 / 0.98)',
    '    --features L:F,...  patch: transcoder features (layer:feature) whose activations A gives B',
    '    --positions P     patch: where the features are patched: all (default), last, image or text',
    "    --graph ID        patch: instead of --features, a saved circuit's feature nodes at their own positions",
    "    --pair-graph      patch: per pair, the feature nodes of A's own graph (A's answer vs B's; --max-features, default 64)",
    '    --dataset DIR     patch: pairs (A, B) of its items whose answers differ; --task, --a-answer, --b-answer filter them',
    '    --limit N         patch: pairs to use (default 64)',
    '    --image-a/--prompt-a/--image-b/--prompt-b   patch: one pair by hand (--answer-a/--answer-b: default the clean top tokens)',
    '    --controls N      patch: random-feature control sets (default 3)',
    '    --circuit ID      export: a saved circuit (the trace job id)',
    "    --format neuronpedia  export: circuit-tracer's graph JSON for Neuronpedia (<slug>.json + graph-metadata.json in --out)",
    '    --json            print machine-readable JSON',
  ],
  async run(values, positionals) {
    const [action] = positionals;
    if (action === 'train-set') return trainSet(values);
    if (action === 'check') return check(values);
    if (action === 'trace') return trace(values);
    if (action === 'patch') return patch(values);
    if (action === 'export') return exportCircuit(values);
    throw new UsageError(`Unknown action '${action ?? ''}'; use train-set, check, trace, patch or export.`);
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
      method: values.method,
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

/** `--features 2:17,1:40` as (layer, feature) pairs. */
export function parseFeatures(text: string): Array<{ layer: number; feature: number }> {
  return text.split(',').map((part) => {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(part);
    if (!m) throw new UsageError(`--features takes layer:feature pairs separated by commas, got '${part}'.`);
    return { layer: Number(m[1]), feature: Number(m[2]) };
  });
}

async function patch(values: Record<string, unknown>): Promise<number> {
  const workspace = path.resolve(requireString(values, 'workspace'));
  if ([values.features, values.graph, values['pair-graph']].filter((x) => x !== undefined && x !== false).length !== 1)
    throw new UsageError('Name one of --features, --graph or --pair-graph.');
  if ((values.dataset === undefined) === (values['image-a'] === undefined))
    throw new UsageError('Name either --dataset (pairs of its items) or one pair with --image-a ... --prompt-b.');
  const common = {
    setId: required(values.set, 'set'),
    ...(typeof values.features === 'string'
      ? { features: parseFeatures(values.features) }
      : values['pair-graph']
        ? {
            pairGraph: {
              ...(values['max-features'] === undefined ? {} : { maxFeatureNodes: required(values['max-features'], 'max-features') }),
              ...(values['node-threshold'] === undefined ? {} : { nodeThreshold: required(values['node-threshold'], 'node-threshold') }),
            },
          }
        : { graphId: required(values.graph, 'graph') }),
    ...(values.positions === undefined ? {} : { positions: values.positions }),
    ...(values.controls === undefined ? {} : { controls: required(values.controls, 'controls') }),
    ...(values.seed === undefined ? {} : { seed: required(values.seed, 'seed') }),
    ...(values.device === undefined ? {} : { device: values.device }),
  };
  let job: Job;
  if (values.dataset !== undefined) {
    const backend = nodeBackend({ pinnedWorkspace: workspace });
    try {
      const opened = await backend.invoke('workspace.open', {});
      if (!opened.ok) throw new UsageError(opened.error.message);
      const dir = path.resolve(String(values.dataset));
      const call = backend.call.bind(backend);
      const datasetId =
        (await call('datasets.list', {})).find((d) => d.path === dir)?.id ?? (await call('datasets.import', { path: dir })).id;
      const started = await backend.invoke('circuits.patch', {
        ...common,
        datasetId,
        ...(values.task === undefined ? {} : { task: values.task }),
        ...(values['a-answer'] === undefined ? {} : { aAnswer: values['a-answer'] }),
        ...(values['b-answer'] === undefined ? {} : { bAnswer: values['b-answer'] }),
        ...(values.limit === undefined ? {} : { limit: required(values.limit, 'limit') }),
      });
      if (!started.ok) throw new UsageError(started.error.message);
      job = await finished(backend, (started.result as { id: number }).id, Boolean(values.json));
    } finally {
      await backend.close();
    }
  } else {
    const prompt = (side: 'a' | 'b') => ({
      image: path.resolve(requireString(values, `image-${side}`)),
      prompt: requireString(values, `prompt-${side}`),
      ...(values[`answer-${side}`] === undefined ? {} : { answer: values[`answer-${side}`] }),
    });
    job = await runHeadlessJob('circuit-patch', { ...common, a: prompt('a'), b: prompt('b') }, { workspace, quiet: Boolean(values.json) });
  }
  if (job.state !== 'succeeded') {
    console.error(`patch ${job.state}: ${job.error ?? ''}`);
    return 1;
  }
  const r = jobResult(job, 'circuit-patch');
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    const ci = (c: [number, number]) => `[${pct(c[0])}, ${pct(c[1])}]`;
    console.log(
      `patch (set ${r.setId}, ${r.selection}) over ${r.pairs} pairs (skipped: ${r.skipped.layout} layout, ${r.skipped.sameAnswerToken} same answer token):`,
    );
    for (const c of r.conditions)
      console.log(
        `  ${c.id.padEnd(18)} answers A ${pct(c.answersA.share)} ${ci(c.answersA.ci95)}, keeps B ${pct(c.keepsB.share)}, logit(A)-logit(B) shift ${c.meanShift.toFixed(3)}`,
      );
    for (const v of r.patchVsControls)
      console.log(
        `  patch vs ${v.control}: answers A ${(v.answersADifference * 100).toFixed(1)} pts ${ci(v.ci95)} (McNemar p ${v.pMcNemar.toPrecision(2)}, Holm ${v.pMcNemarHolm.toPrecision(2)}), shift ${v.shiftDifference >= 0 ? '+' : ''}${v.shiftDifference.toFixed(3)} (permutation p ${v.pPermutation.toPrecision(2)}, Holm ${v.pPermutationHolm.toPrecision(2)}, BH ${v.pPermutationBh.toPrecision(2)})`,
      );
    if (r.flagged) console.log('  flagged: a random-feature control moves the answer to A at least as often as the patch');
  }
  return 0;
}

function exportCircuit(values: Record<string, unknown>): number {
  const workspace = path.resolve(requireString(values, 'workspace'));
  if (values.format !== 'neuronpedia') throw new UsageError(`--format must be neuronpedia, got ${String(values.format ?? '(none)')}.`);
  const id = required(values.circuit, 'circuit');
  if (!fs.existsSync(path.join(workspace, DB_FILE))) throw new UsageError(`No workspace at ${workspace}.`);
  const graph = neuronpediaGraphOf(
    new WorkspaceLayout(workspace).circuit(id),
    id,
    typeof values.slug === 'string' ? values.slug : undefined,
  );
  const file = writeNeuronpediaFiles(path.resolve(requireString(values, 'out')), graph);
  if (values.json) console.log(JSON.stringify({ file, nodes: graph.nodes.length, links: graph.links.length }));
  else console.log(`wrote ${file}: ${graph.nodes.length} nodes, ${graph.links.length} links (and graph-metadata.json beside it)`);
  return 0;
}
