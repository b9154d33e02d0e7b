import path from 'node:path';
import type { ChatEndpointSpec, Explanation, RequestOf } from '../../contract/contract.js';
import { requireString, UsageError, type CommandSpec } from '../args.js';
import { finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';
import { jobResult } from '../../contract/job-results.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** One line per explanation: the text, its confidence and its scores. */
export function explanationLine(e: Explanation): string {
  const conf = e.confidence === null ? '' : ` confidence ${pct(e.confidence)};`;
  const s = e.scores;
  const scores = s
    ? ` detection balanced accuracy ${pct(s.detection.balancedAccuracy)} (accuracy ${pct(s.detection.accuracy)} [${pct(s.detection.accuracyCi95[0])}, ${pct(s.detection.accuracyCi95[1])}], n ${s.detection.n}), simulation r ${s.simulation.r === null ? `undefined (${s.simulation.reason})` : s.simulation.r.toFixed(3)}; scored by ${s.scorer}`
    : ` not scored (${String(e.provenance.unscored)})`;
  return `feature ${e.feature}: "${e.explanation}" —${conf}${scores}`;
}

export const explainCommand: CommandSpec = {
  name: 'explain',
  summary:
    "Explain an analysis's features (from the benchmark's ground truth, or with a local OpenAI-compatible chat server)\n" +
    'and score each explanation (detection, simulation correlation); stored as suggestions for annotators.',
  usage:
    'ocular explain --workspace W --analysis ID [--features F,F,... | --top N] [--explainer ground-truth|llm] [--scorer predicate|endpoint] [--url URL --model M [--multimodal]] [--seed S] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    analysis: { type: 'string' },
    features: { type: 'string' },
    top: { type: 'string' },
    explainer: { type: 'string' },
    scorer: { type: 'string' },
    url: { type: 'string' },
    model: { type: 'string' },
    multimodal: { type: 'boolean' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W        workspace holding the analysis',
    '    --analysis ID        the feature analysis whose features to explain',
    '    --features F,F,...   these features (default: the --top N most often firing, N = 20)',
    '    --explainer E        ground-truth (scene annotations of the benchmark; default) or llm (the chat endpoint)',
    '    --scorer S           predicate (a ground-truth explanation scores itself; default) or endpoint',
    '    --url URL            chat endpoint base URL, e.g. http://127.0.0.1:8080/v1 (saved as the workspace setting)',
    '    --model M            model name the endpoint serves',
    '    --multimodal         the model reads images: send patch crops and heatmaps',
    '    --seed S             seed of the example draws (default 0)',
    '    --json               print the explanations as JSON',
  ],
  async run(values) {
    const ws = path.resolve(requireString(values, 'workspace'));
    const json = Boolean(values.json);
    const explainer = (values.explainer as string | undefined) ?? 'ground-truth';
    const scorer = (values.scorer as string | undefined) ?? (explainer === 'llm' ? 'endpoint' : 'predicate');
    if (values.url !== undefined && values.model === undefined) throw new UsageError('Give --model with --url.');
    const backend = nodeBackend({ pinnedWorkspace: ws });
    const call = backend.call.bind(backend);
    try {
      await call('workspace.open', {});
      if (typeof values.url === 'string') {
        const endpoint: ChatEndpointSpec = { url: values.url, model: String(values.model), multimodal: Boolean(values.multimodal) };
        await call('autointerp.setEndpoint', { endpoint });
      }
      const features =
        typeof values.features === 'string'
          ? values.features.split(',').map((f) => {
              if (!/^\d+$/.test(f.trim())) throw new UsageError(`--features takes feature numbers separated by commas, not "${f}".`);
              return Number(f);
            })
          : null;
      const started = await call('explanations.start', {
        analysisId: Number(requireString(values, 'analysis')),
        features,
        ...(values.top === undefined ? {} : { top: Number(values.top) }),
        // The user's strings; the backend checks them against the request schema.
        explainer: explainer as RequestOf<'explanations.start'>['explainer'],
        scorer: scorer as RequestOf<'explanations.start'>['scorer'],
        ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
      });
      const job = await finished(backend, started.job.id, json);
      if (job.state !== 'succeeded') {
        console.error(`explain ${job.state}: ${job.error ?? ''}`);
        return 1;
      }
      const { saeId } = jobResult(job, 'explain');
      const list = (await call('explanations.list', { saeId })).filter((e) => e.jobId === job.id).reverse();
      if (json) console.log(JSON.stringify(list, null, 2));
      else for (const e of list) console.log(explanationLine(e));
      return 0;
    } finally {
      await backend.close();
    }
  },
};
