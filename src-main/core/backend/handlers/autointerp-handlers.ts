import { checkEndpointUrl } from '../../autointerp/chat-client.js';
import { ExplanationStore } from '../../autointerp/explanation-store.js';
import { AnalysisStore } from '../../analysis/analysis-store.js';
import { OcularError } from '../../errors.js';
import { SaeStore } from '../../sae/sae-store.js';
import { Settings } from '../../store/settings.js';
import type { HandlerContext, Handlers } from './types.js';

type AutointerpChannels =
  'autointerp.endpoint' | 'autointerp.setEndpoint' | 'explanations.start' | 'explanations.list' | 'explanations.decide';

/** Auto-interpretation: the chat endpoint setting, explain jobs, and the annotator's decisions on suggestions. */
export function autointerpHandlers(ctx: HandlerContext): Pick<Handlers, AutointerpChannels> {
  const settings = () => new Settings(ctx.open().ws.db);
  const explanations = () => new ExplanationStore(ctx.open().ws.db);
  return {
    'autointerp.endpoint': () => settings().get('autointerp.endpoint'),
    'autointerp.setEndpoint': (req) => {
      if (req.endpoint) checkEndpointUrl(req.endpoint.url);
      return settings().set('autointerp.endpoint', req.endpoint);
    },
    'explanations.start': (req) => {
      const open = ctx.open();
      const a = new AnalysisStore(open.ws.db).get(req.analysisId);
      const sae = new SaeStore(open.ws.db, open.dir).get(a.saeId);
      const outside = req.features?.find((f) => f >= sae.dSae);
      if (outside !== undefined)
        throw new OcularError('invalid_request', `SAE ${sae.id} has ${sae.dSae} features; there is no feature ${outside}.`);
      const endpoint = settings().get('autointerp.endpoint');
      if (!endpoint && (req.explainer === 'llm' || req.scorer === 'endpoint'))
        throw new OcularError(
          'invalid_request',
          'No chat endpoint is set: set its URL and model in Settings (or use the ground-truth explainer with predicate scoring).',
        );
      const job = open.runner.start('explain', {
        request: req,
        endpoint: req.explainer === 'llm' || req.scorer === 'endpoint' ? endpoint : null,
      });
      return { job };
    },
    'explanations.list': (req) => explanations().list(req.saeId, { feature: req.feature, status: req.status }),
    'explanations.decide': (req) => {
      const r = explanations().decide(req.id, req.action, req.annotator, req.text);
      ctx.changed();
      return r;
    },
  };
}
