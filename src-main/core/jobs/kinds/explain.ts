/**
 * Auto-interpretation of an analysis's features: for each, example sets, an explanation (ground
 * truth or chat endpoint), its scores, stored as a suggestion with provenance. Each feature is stored
 * as soon as it is done and the job resumes after the last stored one.
 */
import { z } from 'zod';
import { chatEndpointSchema, explainRequestSchema } from '../../../contract/contract.js';
import { ChatClient } from '../../autointerp/chat-client.js';
import { explainFeature } from '../../autointerp/explain.js';
import { WorkspaceExamples } from '../../autointerp/workspace-examples.js';
import { withWorkerStores } from '../../store/stores.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { throwIfCancelled, type JobKind } from '../job-kind.js';

const params = z.object({ request: explainRequestSchema, endpoint: chatEndpointSchema.nullable() }).strict();

export const explainJob: JobKind<z.infer<typeof params>, JobResultOf<'explain'>> = {
  kind: 'explain',
  title: 'Explain features',
  resumable: true,
  startFromUi: false,
  params,
  result: jobResults.explain,
  async run(ctx) {
    const { request: r, endpoint } = ctx.params;
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const analyses = stores.analyses;
      const a = analyses.get(r.analysisId);
      const features =
        r.features ??
        analyses
          .features(a.id, { offset: 0, limit: r.top, sort: 'density', order: 'desc', search: '', status: null })
          .features.filter((f) => f.density > 0)
          .map((f) => f.feature);
      const store = stores.explanations;
      const done = new Set(store.list(a.saeId, { jobId: ctx.jobId }).map((e) => e.feature));
      const client = endpoint ? new ChatClient(endpoint) : null;
      const examples = new WorkspaceExamples(stores.db, ctx.workspaceDir);
      const counts = { explain: r.explainExamples, score: r.scoreExamples };
      let stored = done.size;
      for (const [i, feature] of features.entries()) {
        throwIfCancelled(ctx.signal);
        ctx.progress(i / features.length, `feature ${feature} (${i + 1} of ${features.length})`);
        if (done.has(feature)) continue;
        const { sets, picks } = examples.sets(a.id, feature, counts, r.seed);
        const deps = {
          explainer: r.explainer,
          client: r.scorer === 'endpoint' || r.explainer === 'llm' ? client : null,
          signal: ctx.signal,
        };
        const out = await explainFeature(sets, { ...deps, images: (e, h) => examples.images(e, h) });
        if (!out) continue;
        const scoreRows = [...picks.scoreActive.map((p) => p.row), ...picks.scoreInactive];
        store.add({
          saeId: a.saeId,
          analysisId: a.id,
          jobId: ctx.jobId,
          feature,
          explanation: out.text,
          explainer: r.explainer,
          confidence: out.confidence,
          scores: out.scores,
          provenance: {
            promptVersion: out.promptVersion,
            endpoint: deps.client ? { url: endpoint!.url, model: endpoint!.model, multimodal: endpoint!.multimodal } : null,
            seed: r.seed,
            explainRows: picks.explain.map((p) => p.row),
            scoreRows,
            predicate: out.predicate,
            confidenceCi95: out.confidenceCi95,
            unscored: out.unscored,
          },
        });
        stored++;
      }
      return { analysisId: a.id, saeId: a.saeId, features: features.length, explained: stored };
    });
  },
};
