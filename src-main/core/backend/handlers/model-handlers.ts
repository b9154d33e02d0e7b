import path from 'node:path';
import { runTask } from '../../tasks/run-task.js';
import type { HandlerContext, Handlers } from './types.js';

type ModelChannels = 'models.list' | 'models.add' | 'models.download' | 'models.get' | 'models.plan' | 'models.remove';

export function modelHandlers(ctx: HandlerContext): Pick<Handlers, ModelChannels> {
  return {
    'models.list': () => ctx.open().models.list(),
    'models.add': async (req) => {
      const { models } = ctx.open();
      // Inspect the graphs, then load what jobs will load (config, tokenizer, processor, family):
      // a folder that would fail later is refused now, before anything is registered.
      const inspected = await runTask(ctx.options.taskWorkerEntry, 'inspectModel', req.path);
      const report = await runTask(ctx.options.taskWorkerEntry, 'checkModelLoads', inspected);
      const record = models.add(report, req.name);
      ctx.changed();
      return record;
    },
    'models.download': (req) => {
      const { runner, dir } = ctx.open();
      return runner.start('model-download', { ...req, dest: path.join(dir, 'models', ...req.repo.split('/')) });
    },
    'models.get': (req) => ctx.open().models.get(req.id),
    'models.plan': async ({ id, ...options }) => {
      const { report } = ctx.open().models.get(id);
      return runTask(ctx.options.taskWorkerEntry, 'planModel', report, options);
    },
    'models.remove': async (req) => {
      const { models } = ctx.open();
      const record = models.get(req.id);
      // Free the sessions its graphs hold in the pool, so removing a model releases its memory.
      const pool = ctx.startedPool();
      if (pool) for (const c of record.report.components) await pool.releaseModel(path.join(record.path, c.file));
      const removed = models.remove(req.id);
      ctx.changed();
      return { removed };
    },
  };
}
