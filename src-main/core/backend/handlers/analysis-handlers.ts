import { LabelStore } from '../../analysis/label-store.js';
import { OcularError } from '../../errors.js';
import type { HandlerContext, Handlers } from './types.js';
import { featureServices } from './workbench-handlers.js';

type AnalysisChannels =
  | 'analyses.start'
  | 'analyses.list'
  | 'features.list'
  | 'features.get'
  | 'labels.set'
  | 'labels.history'
  | 'labels.export'
  | 'labels.import';

/** Feature analyses, the feature browser's data, and labels. */
export function analysisHandlers(ctx: HandlerContext): Pick<Handlers, AnalysisChannels> {
  // Feature pages cache the SAE weights and token strings per open workspace (shared with the workbench's channels).
  const detailService = () => featureServices(ctx.open()).details;
  const analyses = () => ctx.open().stores.analyses;
  const labels = () => ctx.open().stores.labels;
  return {
    'analyses.start': (req) => {
      const open = ctx.open();
      const sae = open.stores.saes.get(req.saeId);
      const h = open.harvests.meta(req.harvestId);
      if (!sae.hookName || !h.stats[sae.hookName])
        throw new OcularError(
          'invalid_request',
          `SAE ${sae.id} reads ${sae.hookName ?? 'no tap'}, which harvest ${h.id} does not hold (it has ${Object.keys(h.stats).join(', ') || 'nothing yet'}).`,
        );
      const analysis = analyses().create(req);
      const job = open.runner.start('analyze', { analysisId: analysis.id });
      analyses().attachJob(analysis.id, job.id);
      return { analysis: analyses().get(analysis.id), job };
    },
    'analyses.list': () => analyses().list(),
    'features.list': (req) => analyses().features(req.analysisId, req),
    'features.get': (req) => detailService().get(req.analysisId, req.feature),
    'labels.set': (req) => {
      const open = ctx.open();
      const sae = open.stores.saes.get(req.saeId);
      if (req.feature >= sae.dSae)
        throw new OcularError('invalid_request', `SAE ${sae.id} has ${sae.dSae} features; there is no feature ${req.feature}.`);
      const { saeId, ...label } = req;
      return labels().set(saeId, label);
    },
    'labels.history': (req) => labels().history(req.saeId, req.feature),
    'labels.export': (req) => labels().export(req.saeId, req.format),
    'labels.import': (req) => {
      const open = ctx.open();
      const sae = open.stores.saes.get(req.saeId);
      const parsed = LabelStore.parse(req.format, req.content);
      const outside = parsed.find((l) => l.feature >= sae.dSae);
      if (outside)
        throw new OcularError('invalid_request', `The file labels feature ${outside.feature}, but SAE ${sae.id} has ${sae.dSae} features.`);
      return labels().import(req.saeId, parsed, req.takeTheirs);
    },
  };
}
