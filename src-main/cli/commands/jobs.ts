import path from 'node:path';
import { requireString, UsageError, type CommandSpec } from '../args.js';
import { finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';

export const jobsCommand: CommandSpec = {
  name: 'jobs',
  summary:
    "List a workspace's jobs, or resume one that was interrupted (a crash, a killed process) or cancelled,\nfrom its last checkpoint, headless.",
  usage: 'ocular jobs list --workspace W [--json] | ocular jobs resume ID --workspace W [--json]',
  options: { workspace: { type: 'string', short: 'w' }, json: { type: 'boolean' } },
  help: ['-w, --workspace W     workspace folder', '    --json            print machine-readable JSON'],
  async run(values, positionals) {
    const [action, id] = positionals;
    const json = Boolean(values.json);
    const backend = nodeBackend({ pinnedWorkspace: path.resolve(requireString(values, 'workspace')) });
    const call = backend.call.bind(backend);
    try {
      await call('workspace.open', {});
      if (action === 'list') {
        const jobs = await call('jobs.list', { limit: 200 });
        if (json) console.log(JSON.stringify(jobs, null, 2));
        else
          for (const j of jobs)
            console.log(
              `${String(j.id).padStart(4)}  ${j.kind.padEnd(16)} ${j.state.padEnd(12)} ${(j.progress * 100).toFixed(0).padStart(3)}%  ${j.message ?? j.error ?? ''}`,
            );
        return 0;
      }
      if (action === 'resume' && id) {
        const resumed = await call('jobs.resume', { id: Number(id) });
        const job = await finished(backend, resumed.id, json);
        if (json) console.log(JSON.stringify(job, null, 2));
        else console.log(`job ${job.id} ${job.state}${job.error ? `: ${job.error}` : ''}`);
        return job.state === 'succeeded' ? 0 : 1;
      }
      throw new UsageError(`Usage: ${jobsCommand.usage}`);
    } finally {
      await backend.close();
    }
  },
};
