import fs from 'node:fs';
import path from 'node:path';
import { AnalysisStore } from '../../analysis/analysis-store.js';
import { OcularError } from '../../errors.js';
import { estimateHarvest, freeDiskBytes } from '../../harvest/estimate.js';
import { runTask } from '../../tasks/run-task.js';
import { filterReport, maskReport } from '../../studies/gather.js';
import type { HandlerContext, Handlers } from './types.js';

type DataChannels =
  | 'datasets.list'
  | 'datasets.import'
  | 'datasets.synth'
  | 'datasets.remove'
  | 'datasets.filter'
  | 'datasets.compare'
  | 'datasets.mask'
  | 'datasets.filterReport'
  | 'masks.compare'
  | 'evals.start'
  | 'evals.list'
  | 'evals.get'
  | 'evals.predictions'
  | 'evals.export'
  | 'harvests.start'
  | 'harvests.estimate'
  | 'harvests.list';

/** Datasets, evaluations and harvests: the data a workspace accumulates. */
export function dataHandlers(ctx: HandlerContext): Pick<Handlers, DataChannels> {
  return {
    'datasets.list': () => ctx.open().datasets.list(),
    'datasets.import': async (req) => {
      const { datasets } = ctx.open();
      const folder = await runTask(ctx.options.taskWorkerEntry, 'readDatasetFolder', req.path, {});
      const record = datasets.insert(folder, req.name ?? path.basename(folder.dir));
      ctx.changed();
      return record;
    },
    'datasets.synth': (req) => {
      const { runner, dir } = ctx.open();
      const name = `benchmark seed ${req.seed} x${req.perCell}`;
      const dest = path.join(dir, 'datasets', `synth-seed${req.seed}-n${req.perCell}-${req.imageSize}px`);
      return runner.start('dataset-synth', { ...req, dest, name });
    },
    'datasets.filter': (req) => {
      const { runner, dir, ws } = ctx.open();
      new AnalysisStore(ws.db).get(req.analysisId);
      const name = `filtered a${req.analysisId} ${req.by} keep ${req.keep}${req.by === 'random' ? ` seed ${req.seed}` : ''}`;
      const dest = path.join(dir, 'datasets', `filter-a${req.analysisId}-${req.by}-keep${req.keep}-b${req.bound}-s${req.seed}`);
      if (fs.existsSync(dest)) throw new OcularError('conflict', `This filter was run already: ${dest}.`);
      return runner.start('dataset-filter', { ...req, dest, name });
    },
    'datasets.compare': (req) => {
      const { runner, ws } = ctx.open();
      new AnalysisStore(ws.db).get(req.analysisId);
      return runner.start('dataset-compare', req);
    },
    'datasets.mask': (req) => {
      const { runner, dir, ws } = ctx.open();
      new AnalysisStore(ws.db).get(req.analysisId);
      const methods = [...new Set(req.methods.includes('random') ? req.methods : [...req.methods, 'random' as const])];
      const destRoot = path.join(dir, 'datasets', `mask-a${req.analysisId}-${Date.now()}`);
      fs.mkdirSync(destRoot, { recursive: true });
      return runner.start('patch-mask', { ...req, methods, destRoot });
    },
    'datasets.filterReport': (req) => filterReport(ctx.open().stores, req.datasetId),
    'masks.compare': (req) => {
      const open = ctx.open();
      return maskReport(open.stores, open.runner.store, req.maskJobId);
    },
    'datasets.remove': (req) => {
      const removed = ctx.open().datasets.remove(req.id);
      ctx.changed();
      return { removed };
    },
    'evals.start': (req) => {
      const { models, datasets, evals, runner } = ctx.open();
      const model = models.get(req.modelId);
      datasets.get(req.datasetId);
      const record = evals.create(model.path, req.datasetId, {
        maxNewTokens: req.maxNewTokens,
        promptTemplate: req.promptTemplate,
        batchSize: req.batchSize,
        limit: req.limit,
        device: req.device,
      });
      const job = runner.start('evaluate', { evalId: record.id });
      evals.attachJob(record.id, job.id);
      return { eval: evals.get(record.id), job };
    },
    'evals.list': () => ctx.open().evals.list(),
    'evals.get': (req) => ctx.open().evals.summary(req.id),
    'evals.predictions': (req) => ctx.open().evals.predictions(req.id, req),
    'evals.export': (req) => ctx.open().evals.export(req.id, req.format),
    'harvests.start': (req) => {
      const { models, datasets, harvests, runner, dir } = ctx.open();
      const model = models.get(req.modelId);
      const dataset = datasets.get(req.datasetId);
      const estimate = estimateHarvest(model, dataset.items, req);
      const freeBytes = freeDiskBytes(dir);
      if (freeBytes !== null && estimate > freeBytes) {
        throw new OcularError(
          'workspace',
          `This harvest needs about ${(estimate / 1e9).toFixed(2)} GB but the workspace disk has ${(freeBytes / 1e9).toFixed(2)} GB free. Harvest fewer items, taps or token kinds, or use fp16.`,
        );
      }
      const { modelId: _m, datasetId: _d, ...params } = req;
      const harvest = harvests.create(model.path, dataset.id, params);
      const job = runner.start('harvest', { harvestId: harvest.id });
      harvests.attachJob(harvest.id, job.id);
      return { harvest: harvests.get(harvest.id), job, estimate: { bytes: estimate, freeBytes } };
    },
    'harvests.estimate': (req) => {
      const { models, datasets, dir } = ctx.open();
      return { bytes: estimateHarvest(models.get(req.modelId), datasets.get(req.datasetId).items, req), freeBytes: freeDiskBytes(dir) };
    },
    'harvests.list': () => ctx.open().harvests.list(),
  };
}
