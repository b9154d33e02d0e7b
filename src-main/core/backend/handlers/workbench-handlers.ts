import { ContentSearch } from '../../analysis/content-search.js';
import { FeatureDetails } from '../../analysis/feature-detail.js';
import { FeatureSamples } from '../../analysis/feature-samples.js';
import { reviewLabel } from '../../analysis/label-review.js';
import { decoderNorms, nearestByDecoderCosine } from '../../analysis/nearest.js';
import { InputWorkbench } from '../../analysis/probe-input.js';
import { planItems } from '../../experiments/item-selection.js';
import type { OpenWorkspace } from '../open-workspace.js';
import type { HandlerContext, Handlers } from './types.js';

type WorkbenchChannels =
  | 'features.examples'
  | 'features.nearest'
  | 'features.searchContent'
  | 'labels.review'
  | 'experiments.plan'
  | 'inputs.probe'
  | 'inputs.steer';

/** Per open workspace: the feature-page services (they cache SAE weights, scans and token strings). */
interface Services {
  details: FeatureDetails;
  samples: FeatureSamples;
  search: ContentSearch;
  norms: Map<number, Float32Array>;
  inputs: InputWorkbench | null;
}
const services = new WeakMap<OpenWorkspace, Services>();

export function featureServices(open: OpenWorkspace): Services {
  let s = services.get(open);
  if (!s) {
    const details = new FeatureDetails(open.ws.db, open.dir);
    s = {
      details,
      samples: new FeatureSamples(open.ws.db, open.dir, details),
      search: new ContentSearch(open.ws.db, open.dir, details),
      norms: new Map(),
      inputs: null,
    };
    services.set(open, s);
  }
  return s;
}

/** The feature workbench: example samples, nearest features, content search, reviews, your own input, experiment plans. */
export function workbenchHandlers(ctx: HandlerContext): Pick<Handlers, WorkbenchChannels> {
  /** The analysis's SAE and model, for running an input. */
  const inputTarget = (analysisId: number) => {
    const open = ctx.open();
    const s = featureServices(open);
    s.inputs ??= new InputWorkbench(ctx.sessionPool(), open.dir);
    const a = open.stores.analyses.get(analysisId);
    const labels = open.stores.labels;
    return {
      inputs: s.inputs,
      sae: s.details.sae(a.saeId),
      modelPath: open.harvests.meta(a.harvestId).modelPath,
      label: (f: number) => labels.get(a.saeId, f)?.label || null,
    };
  };
  const image = (base64: string) => Buffer.from(base64, 'base64');
  return {
    'features.examples': (req) => featureServices(ctx.open()).samples.examples(req),
    'features.nearest': (req) => {
      const open = ctx.open();
      const s = featureServices(open);
      const analyses = open.stores.analyses;
      const a = analyses.get(req.analysisId);
      const sae = s.details.sae(a.saeId);
      let norms = s.norms.get(a.saeId);
      if (!norms) s.norms.set(a.saeId, (norms = decoderNorms(sae.W_dec, sae.dSae)));
      const labels = open.stores.labels;
      return nearestByDecoderCosine(sae.W_dec, sae.dSae, analyses.feature(a.id, req.feature).row.feature, req.n, norms).map((n) => ({
        ...n,
        label: labels.get(a.saeId, n.feature)?.label || null,
        density: analyses.feature(a.id, n.feature).row.density,
      }));
    },
    'features.searchContent': (req) => featureServices(ctx.open()).search.search(req.analysisId, req.query, req.limit),
    'labels.review': (req) => reviewLabel(ctx.open().ws.db, req.saeId, req.feature, req.verdict, req.annotator),
    'experiments.plan': (req) => planItems(ctx.open().datasets.items(req.datasetId), req.tasks, req.limit),
    'inputs.probe': (req) => {
      const t = inputTarget(req.analysisId);
      return t.inputs.probe({ ...t, image: image(req.image), prompt: req.prompt, feature: req.feature, top: req.top, device: req.device });
    },
    'inputs.steer': (req) => {
      const t = inputTarget(req.analysisId);
      return t.inputs.steer({ ...t, ...req, image: image(req.image) });
    },
  };
}
