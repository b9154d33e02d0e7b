import { checkSameArchitecture } from '../../diff/architecture.js';
import { OcularError } from '../../errors.js';
import type { HandlerContext, Handlers } from './types.js';

/** Model diffing: everything checked (ids, one architecture, a decoder-tap SAE) before the job starts. */
export function diffHandlers(ctx: HandlerContext): Pick<Handlers, 'diffs.start'> {
  return {
    'diffs.start': (req) => {
      const open = ctx.open();
      const sae = open.stores.saes.get(req.saeId);
      if (!sae.hookName || sae.hookName.startsWith('vision.') || sae.hookNameOut)
        throw new OcularError('invalid_request', `SAE ${req.saeId} is not an SAE on a decoder tap; model diffing reads one.`);
      const base = open.models.get(req.baseModelId);
      const tuned = open.models.get(req.tunedModelId);
      open.datasets.get(req.datasetId);
      checkSameArchitecture(base.path, tuned.path);
      return open.runner.start('model-diff', req);
    },
  };
}
