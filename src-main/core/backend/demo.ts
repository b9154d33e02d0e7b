/**
 * The demo pipeline on one model, as a declared list of stages: generate the benchmark, evaluate the
 * model, harvest every decoder residual-stream layer, train a TopK SAE on one, analyse its features,
 * probe the layers, run one ablation experiment with controls (and, with several SAE seeds, train, analyse
 * and run the experiment again per seed, grouped as a replication). Each stage starts its job from the
 * previous stage's result once that job succeeds; a stage that cannot start is recorded as a failed
 * job of its kind with the reason, so the pipeline never ends silently. The CLI follows the same list.
 */
import path from 'node:path';
import { experimentSpecSchema, type Job, type ModelRecord } from '../../contract/contract.js';
import { jobResult } from '../../contract/job-results.js';
import { errorMessage } from '../errors.js';
import type { OpenWorkspace } from './open-workspace.js';

/** The demo's job kinds in order; the last one ends the pipeline. */
export const DEMO_STAGES = ['dataset-synth', 'evaluate', 'harvest', 'sae-train', 'analyze', 'probe', 'experiment'] as const;
export type DemoStage = (typeof DEMO_STAGES)[number];

/** The stages a run with `seeds` SAE seeds goes through: the pipeline once, then an SAE, analysis and experiment per further seed. */
export function demoPlan(seeds: number): Array<{ stage: DemoStage; seed: number }> {
  const plan = DEMO_STAGES.map((stage) => ({ stage, seed: 0 }));
  for (let seed = 1; seed < seeds; seed++) for (const stage of ['sae-train', 'analyze', 'experiment'] as const) plan.push({ stage, seed });
  return plan;
}

export interface DemoOptions {
  model: ModelRecord;
  /** Residual-stream taps to harvest (every decoder layer, plus a vision SAE's tap), and the one the SAE trains on. */
  taps: string[];
  saeTap: string;
  perCell: number;
  /** SAE training seeds 0..seeds-1; with more than one, the experiment is replicated over them (a replication record). */
  seeds?: number;
}

/** Each stage's start, from the previous stage's finished job (null for the first). */
function stageStarts(open: OpenWorkspace, o: DemoOptions): Record<DemoStage, (previous: Job | null, seed: number) => Job> {
  const { runner, stores } = open;
  const ids = { dataset: 0, harvest: 0, sae: 0, analysis: 0 };
  const experiments: number[] = [];
  const attached = <R extends { id: number }>(
    store: { attachJob(id: number, jobId: number): void },
    record: R,
    kind: string,
    params: unknown,
  ) => {
    const job = runner.start(kind, params);
    store.attachJob(record.id, job.id);
    return job;
  };
  return {
    'dataset-synth': () =>
      runner.start('dataset-synth', {
        seed: 0,
        perCell: o.perCell,
        imageSize: 96,
        dest: path.join(open.dir, 'datasets', `demo-seed0-n${o.perCell}`),
        name: `benchmark seed 0 x${o.perCell}`,
      }),
    evaluate: (synth) => {
      ids.dataset = jobResult(synth!, 'dataset-synth').datasetId;
      const params = { maxNewTokens: 8, promptTemplate: '{question}', batchSize: 16, limit: null, device: 'auto' as const };
      const record = stores.evals.create(o.model.path, ids.dataset, params);
      return attached(stores.evals, record, 'evaluate', { evalId: record.id });
    },
    harvest: () => {
      // Every decoder layer, so the probes can compare layers; the SAE trains on one of them (saeTap).
      const harvest = stores.harvests.create(o.model.path, ids.dataset, {
        taps: o.taps,
        tokenKinds: ['image', 'text'],
        dtype: 'fp16',
        limit: null,
        maxNewTokens: 16,
        batchSize: 16,
        shardRows: 65536,
        device: 'auto',
      });
      return attached(stores.harvests, harvest, 'harvest', { harvestId: harvest.id });
    },
    'sae-train': (previous, seed) =>
      runner.start('sae-train', {
        // The first SAE follows the harvest; each further seed's follows the previous seed's experiment.
        harvestId: seed === 0 ? (ids.harvest = jobResult(previous!, 'harvest').harvestId) : ids.harvest,
        seed,
        tap: o.saeTap,
        expansion: 4,
        k: 16,
        steps: 800,
        batchSize: 512,
        lr: 1e-3,
        name: seed === 0 ? 'demo TopK SAE' : `demo TopK SAE (seed ${seed})`,
        logEvery: 20,
        checkpointEvery: 200,
      }),
    analyze: (train) => {
      ids.sae = jobResult(train!, 'sae-train').saeId;
      const analysis = stores.analyses.create({
        saeId: ids.sae,
        harvestId: ids.harvest,
        topN: 20,
        crossK: 10,
        logitTokens: 10,
        device: 'auto',
      });
      ids.analysis = analysis.id;
      return attached(stores.analyses, analysis, 'analyze', { analysisId: analysis.id });
    },
    probe: () => {
      const probe = stores.probes.create({
        harvestId: ids.harvest,
        label: 'color',
        modality: null,
        heldOut: 0.25,
        epochs: 60,
        l2: 1e-3,
        seed: 0,
      });
      return attached(stores.probes, probe, 'probe', { probeId: probe.id });
    },
    experiment: (_previous, seed) => {
      const name =
        seed === 0
          ? 'demo: ablate colour- and shape-question features'
          : `demo: ablate colour- and shape-question features (SAE seed ${seed})`;
      // A vision-tower SAE's features are chosen by their means over image patches, a decoder SAE's at the answer.
      const tokens = o.saeTap.startsWith('vision.') ? 'image' : 'answer';
      const spec = experimentSpecSchema.parse({
        name,
        modelId: o.model.id,
        saeId: ids.sae,
        analysisId: ids.analysis,
        datasetId: ids.dataset,
        tasks: ['color', 'shape'],
        featureSets: [
          { name: 'colour-question features', selective: { task: 'color', top: 20, tokens } },
          { name: 'shape-question features', selective: { task: 'shape', top: 20, tokens } },
        ],
        operation: { op: 'zero' },
        where: 'all',
        controls: { randomSets: 1, randomDirections: true, union: true },
      });
      const experiment = stores.experiments.create(spec);
      experiments.push(experiment.id);
      // The last seed's experiment completes the replication (its results appear once every run has them).
      if (experiments.length === (o.seeds ?? 1) && experiments.length > 1)
        stores.replications.create(`${spec.name}, ${experiments.length} SAE seeds`, experiments);
      return attached(stores.experiments, experiment, 'experiment', { experimentId: experiment.id });
    },
  };
}

/**
 * Start the pipeline: its first job now, each next one when the previous succeeds, while `stillOpen()`.
 * Returns the first job.
 */
export function startDemo(open: OpenWorkspace, o: DemoOptions, stillOpen: () => boolean): Job {
  const starts = stageStarts(open, o);
  const plan = demoPlan(o.seeds ?? 1);
  const { runner } = open;
  const start = ({ stage, seed }: { stage: DemoStage; seed: number }, previous: Job | null): Job | null => {
    try {
      return starts[stage](previous, seed);
    } catch (err) {
      runner.failToStart(stage, {}, `The demo could not start its ${stage} stage: ${errorMessage(err)}`);
      return null;
    }
  };
  // The first stage's refusal goes to the caller, as any job start's does.
  const first = starts[plan[0]!.stage](null, 0);
  let at = 0;
  let current = first.id;
  const onUpdate = (updated: Job) => {
    if (updated.id !== current || ['queued', 'running'].includes(updated.state)) return;
    const next = plan[++at];
    const job = updated.state === 'succeeded' && next && stillOpen() ? start(next, updated) : null;
    if (job) current = job.id;
    else runner.off('updated', onUpdate);
  };
  runner.on('updated', onUpdate);
  return first;
}
