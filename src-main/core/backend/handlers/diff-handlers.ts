import { checkSameArchitecture } from '../../diff/architecture.js';
import { OcularError } from '../../errors.js';
import { jobResult } from '../../../contract/job-results.js';
import { filterReport, maskReport } from '../../studies/gather.js';
import { studiesHtml } from '../../studies/report.js';
import { VERSION } from '../../version.js';
import type { HandlerContext, Handlers } from './types.js';

/** Model diffing (everything checked before the job starts), and the Studies report. */
export function diffHandlers(ctx: HandlerContext): Pick<Handlers, 'diffs.start' | 'studies.export'> {
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
    'studies.export': () => {
      const open = ctx.open();
      const jobs = open.runner.store.list(100_000).filter((j) => j.state === 'succeeded');
      const of = (kind: string) => jobs.filter((j) => j.kind === kind).sort((a, b) => a.id - b.id);
      const datasets = open.datasets.list();
      const content = studiesHtml({
        workspace: open.dir,
        version: VERSION,
        explanations: open.stores.saes.list().flatMap((s) => open.stores.explanations.list(s.id, { feature: null, status: null })),
        filters: of('dataset-filter').map((j) => {
          const { datasetId } = jobResult(j, 'dataset-filter');
          return {
            datasetId,
            name: datasets.find((d) => d.id === datasetId)?.name ?? `dataset ${datasetId}`,
            report: filterReport(open.stores, datasetId),
          };
        }),
        comparisons: of('dataset-compare').map((j) => {
          const p = j.params as { by: string; keep: number };
          return { jobId: j.id, by: p.by, keep: p.keep, result: jobResult(j, 'dataset-compare') };
        }),
        masks: of('patch-mask').map((j) => ({ jobId: j.id, report: maskReport(open.stores, open.runner.store, j.id) })),
        diffs: of('model-diff').map((j) => ({ jobId: j.id, result: jobResult(j, 'model-diff') })),
      });
      return { filename: 'ocular-studies.html', content };
    },
  };
}
