import fs from 'node:fs';
import path from 'node:path';
import type { FeatureDetail, Job } from '../../contract/contract.js';
import { formatExperiment } from './experiment.js';
import { formatReplicatedEffect } from '../../core/experiments/replication.js';
import { pureFeatures } from '../../core/analysis/purity.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';
import { formatSummary } from './eval.js';
import { nodeBackend } from '../node-backend.js';
import { jobResult } from '../../contract/job-results.js';
import { DEMO_STAGES, type DemoStage } from '../../core/backend/demo.js';

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary:
    'Run the pipeline headless on the bundled demo model: generate the benchmark into a workspace, evaluate the\n' +
    'model on it, harvest its decoder layers, train a TopK SAE on one (the first, unless --sae-tap), analyse its\n' +
    'features, probe the layers, run one ablation experiment with controls, and print a summary. With --seeds N\n' +
    'the SAE, analysis and experiment are repeated for SAE seeds 1..N-1 and each effect is reported across seeds.',
  usage: 'ocular demo --workspace DIR [--per-cell N] [--seeds N] [--model DIR] [--sae-tap NAME] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    'per-cell': { type: 'string' },
    seeds: { type: 'string' },
    model: { type: 'string' },
    'sae-tap': { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace DIR   workspace folder (created if needed)',
    '    --per-cell N      benchmark items per task and difficulty (default 20)',
    '    --seeds N         train N SAEs (seeds 0..N-1), each analysed, and run the experiment on each; print each',
    "                      effect's range, median and t interval across seeds (default 1)",
    '    --model DIR       use this model folder instead of the bundled demo model',
    "    --sae-tap NAME    residual tap for the SAE and the experiment (default: the first layer's,",
    "                      blocks.0.hook_resid_post, where the demo model's colour and shape features are);",
    '                      vision.blocks.L.hook_resid_post trains on the vision tower and edits it',
    '    --json            print the summary as JSON',
  ],
  async run(values) {
    const dir = path.resolve(requireString(values, 'workspace'));
    const perCell = values['per-cell'] === undefined ? 20 : Number(values['per-cell']);
    if (!Number.isInteger(perCell) || perCell < 1) throw new UsageError('--per-cell must be a positive integer.');
    const seeds = values.seeds === undefined ? 1 : Number(values.seeds);
    if (!Number.isInteger(seeds) || seeds < 1 || seeds > 10) throw new UsageError('--seeds must be an integer from 1 to 10.');
    const json = Boolean(values.json);
    const started = Date.now();
    const backend = nodeBackend({ pinnedWorkspace: dir });
    const call = backend.call.bind(backend);
    const log = (line: string) => {
      if (!json) console.error(line);
    };
    try {
      const opened = fs.existsSync(path.join(dir, 'workspace.sqlite'))
        ? await backend.invoke('workspace.open', {})
        : await backend.invoke('workspace.create', {});
      if (!opened.ok) throw new UsageError(opened.error.message);
      const model = typeof values.model === 'string' ? path.resolve(values.model) : (backend.demoModelPath() ?? undefined);
      if (!model) throw new UsageError('This installation has no bundled demo model (resources/models/ocular-demo-vlm); pass --model DIR.');
      // The first run of each stage feeds the summary; the pipeline ends with the last seed's experiment.
      const done = new Map<string, Job>();
      let experiments = 0;
      const finished = new Promise<Job>((resolve) =>
        backend.onEvent((e) => {
          if (e.type !== 'job.updated' || ['queued', 'running'].includes(e.job.state) || !DEMO_STAGES.includes(e.job.kind as DemoStage))
            return;
          if (!done.has(e.job.kind)) done.set(e.job.kind, e.job);
          log(`${e.job.kind.padEnd(14)} ${e.job.state} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
          if (e.job.kind === 'experiment' && e.job.state === 'succeeded') experiments++;
          if (e.job.state !== 'succeeded' || experiments === seeds) resolve(e.job);
        }),
      );
      log(
        `workspace ${dir}\nmodel     ${model}\ngenerating the benchmark (${perCell} per task and difficulty), then evaluate, harvest, train an SAE, analyse, probe, experiment…`,
      );
      await backend.startDemo(perCell, model, typeof values['sae-tap'] === 'string' ? values['sae-tap'] : undefined, seeds);
      const last = await finished;
      if (last.state !== 'succeeded') {
        console.error(`${last.kind} ${last.state}: ${last.error ?? ''}`);
        return 1;
      }
      const evaluation = await call('evals.get', { id: jobResult(done.get('evaluate')!, 'evaluate').evalId });
      const train = jobResult(done.get('sae-train')!, 'sae-train');
      const analysis = (await call('analyses.list', {})).find((a) => a.id === jobResult(done.get('analyze')!, 'analyze').analysisId)!;
      const probe = (await call('probes.list', {})).find((p) => p.id === jobResult(done.get('probe')!, 'probe').probeId)!;
      const experiment = (await call('experiments.list', {})).find(
        (x) => x.id === jobResult(done.get('experiment')!, 'experiment').experimentId,
      )!;
      const replication =
        seeds > 1 ? ((await call('replications.list', {})).find((r) => r.experimentIds.includes(experiment.id)) ?? null) : null;
      const rows = (await call('features.list', { analysisId: analysis.id, limit: 1000, sort: 'density', order: 'desc' })).features.filter(
        (f) => f.density > 0,
      );
      const details: FeatureDetail[] = [];
      for (const f of rows) details.push(await call('features.get', { analysisId: analysis.id, feature: f.feature }));
      const pure = pureFeatures(details, { minExamples: 20, threshold: 0.8 });
      const summary = {
        seconds: (Date.now() - started) / 1000,
        evaluation,
        sae: { id: train.saeId, ...train.final },
        analysis: { id: analysis.id, ...analysis.summary!, histogramEdges: undefined },
        groundTruth: { examined: pure.examined, colourPure: pure.colour, shapePure: pure.shape },
        probe: probe.results,
        experiment: experiment.results,
        replication,
      };
      if (json) console.log(JSON.stringify(summary, null, 2));
      else {
        console.log(formatSummary(evaluation));
        console.log(
          `\nSAE ${train.saeId} on ${(done.get('sae-train')!.params as { tap: string }).tap}: FVU ${train.final!.fvu.toFixed(3)}, L0 ${train.final!.l0.toFixed(1)}, dead ${(train.final!.deadFraction * 100).toFixed(1)}%`,
        );
        console.log(
          `analysis ${analysis.id}: ${analysis.summary!.rows} tokens, ${analysis.summary!.features} features (${analysis.summary!.neverFired} never fired)`,
        );
        console.log(
          `ground truth: of ${pure.examined} features with 20 examples, ${pure.colour.length} have top-20 patches >= 80% one colour, ${pure.shape.length} one shape`,
        );
        const show = (list: typeof pure.colour) =>
          list
            .slice(0, 5)
            .map((p) => `#${p.feature} ${p.value} ${(p.share * 100).toFixed(0)}%`)
            .join(', ');
        if (pure.colour.length) console.log(`  colour features: ${show(pure.colour)}`);
        if (pure.shape.length) console.log(`  shape features: ${show(pure.shape)}`);
        console.log(`\nlinear probes for the colour under each image patch (held-out items):`);
        for (const l of probe.results!.layers)
          console.log(
            `  ${l.tap}: ${(l.accuracy * 100).toFixed(1)}% [${(l.ci95[0] * 100).toFixed(1)}, ${(l.ci95[1] * 100).toFixed(1)}], shuffled labels ${(l.shuffledAccuracy * 100).toFixed(1)}%`,
          );
        console.log(`\n${formatExperiment(experiment)}`);
        if (replication?.results) {
          console.log(
            `\nacross ${replication.results.seeds} SAE seeds (experiments ${replication.experimentIds.join(', ')}), each effect against the baseline:`,
          );
          for (const effect of replication.results.effects) console.log(`  ${formatReplicatedEffect(effect)}`);
        }
        console.log(
          `\ndone in ${summary.seconds.toFixed(0)} s; open the workspace in the app (or \`ocular serve --workspace ${dir}\`) to browse the features`,
        );
      }
      return 0;
    } finally {
      await backend.close();
    }
  },
};
