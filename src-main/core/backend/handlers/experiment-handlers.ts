import { experimentCsv, experimentHtml, experimentJson } from '../../experiments/report.js';
import { OcularError } from '../../errors.js';
import type { ExperimentSpec } from '../../../contract/contract.js';
import { checkReplicates } from '../../experiments/replication.js';
import type { HandlerContext, Handlers } from './types.js';

type ExperimentChannels =
  | 'experiments.start'
  | 'experiments.list'
  | 'experiments.outputs'
  | 'experiments.export'
  | 'replications.start'
  | 'replications.list'
  | 'probes.start'
  | 'probes.list';

/** Steering / ablation experiments and linear probes. */
export function experimentHandlers(ctx: HandlerContext): Pick<Handlers, ExperimentChannels> {
  const experiments = () => ctx.open().stores.experiments;
  const probes = () => ctx.open().stores.probes;
  const check = (spec: ExperimentSpec) => {
    const open = ctx.open();
    open.stores.saes.get(spec.saeId);
    const a = open.stores.analyses.get(spec.analysisId);
    if (a.saeId !== spec.saeId) throw new OcularError('invalid_request', `Analysis ${a.id} is of SAE ${a.saeId}, not SAE ${spec.saeId}.`);
    open.models.get(spec.modelId);
    open.datasets.get(spec.datasetId);
  };
  const start = (spec: ExperimentSpec) => {
    const experiment = experiments().create(spec);
    const job = ctx.open().runner.start('experiment', { experimentId: experiment.id });
    experiments().attachJob(experiment.id, job.id);
    return { experiment: experiments().get(experiment.id), job };
  };
  return {
    'experiments.start': (spec) => {
      check(spec);
      return start(spec);
    },
    'experiments.list': () => experiments().list(),
    'replications.start': (req) => {
      // Every run is checked before any experiment is made: a refused replication changes nothing.
      const specs = req.runs.map((r) => ({ ...req.spec, ...r, name: `${req.spec.name} (SAE ${r.saeId})` }));
      specs.forEach(check);
      checkReplicates(specs);
      const { stores } = ctx.open();
      const replication = stores.db.transaction(() =>
        stores.replications.create(
          req.spec.name,
          specs.map((spec) => experiments().create(spec).id),
        ),
      )();
      const ids = replication.experimentIds;
      const jobs = ids.map((id) => {
        const job = ctx.open().runner.start('experiment', { experimentId: id });
        experiments().attachJob(id, job.id);
        return job;
      });
      return { replication: stores.replications.get(replication.id), jobs };
    },
    'replications.list': () => ctx.open().stores.replications.list(),
    'experiments.outputs': (req) => experiments().outputs(req.id, req),
    'experiments.export': (req) => {
      const e = experiments().get(req.id);
      const stem = `experiment-${e.id}`;
      if (req.format === 'csv') return { filename: `${stem}.csv`, content: experimentCsv(e) };
      const outputs = experiments().outputs(e.id, { offset: 0, limit: 1_000_000 });
      return req.format === 'json'
        ? { filename: `${stem}.json`, content: experimentJson(e, outputs) }
        : {
            filename: `${stem}.html`,
            content: experimentHtml(
              e,
              outputs,
              ctx
                .open()
                .stores.replications.list()
                .filter((x) => x.experimentIds.includes(e.id)),
            ),
          };
    },
    'probes.start': (spec) => {
      const open = ctx.open();
      open.harvests.meta(spec.harvestId);
      const probe = probes().create(spec);
      const job = open.runner.start('probe', { probeId: probe.id });
      probes().attachJob(probe.id, job.id);
      return { probe: probes().get(probe.id), job };
    },
    'probes.list': () => probes().list(),
  };
}
