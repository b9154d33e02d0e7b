import fs from 'node:fs';
import { OcularError } from '../../errors.js';
import { loadSet, setLayers } from '../../circuits/transcoder-set.js';
import { SaeStore } from '../../sae/sae-store.js';
import type { HandlerContext, Handlers } from './types.js';

type CircuitChannels = 'circuits.trainSet' | 'circuits.checkReplacement' | 'circuits.patch';

/** Transcoder sets, the replacement-model check and circuit patching (jobs; validated here before they start). */
export function circuitHandlers(ctx: HandlerContext): Pick<Handlers, CircuitChannels> {
  return {
    'circuits.trainSet': (req) => {
      const open = ctx.open();
      const h = open.harvests.get(req.harvestId);
      const layers = setLayers(Object.keys(h.stats), req.layers);
      const width = h.stats[layers[0]!.inTap]!.width;
      if (req.k > width * req.expansion)
        throw new OcularError('invalid_request', `k (${req.k}) is larger than the number of features (${width * req.expansion}).`);
      return open.runner.start('transcoder-set', req);
    },
    'circuits.checkReplacement': (req) => {
      const open = ctx.open();
      loadSet(new SaeStore(open.ws.db, open.dir), req.setId);
      open.models.get(req.modelId);
      open.datasets.get(req.datasetId);
      return open.runner.start('replacement-check', req);
    },
    'circuits.patch': (req) => {
      const open = ctx.open();
      loadSet(new SaeStore(open.ws.db, open.dir), req.setId);
      open.datasets.get(req.datasetId);
      if (req.graphId !== undefined && !fs.existsSync(open.layout.circuit(req.graphId)))
        throw new OcularError('not_found', `No saved circuit ${req.graphId} (trace it first).`);
      return open.runner.start('circuit-patch', req);
    },
  };
}
