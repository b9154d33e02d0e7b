import path from 'node:path';
import type { WorkspaceInfo } from '../../contract/contract.js';
import type { Backend } from '../../core/backend/backend.js';
import { requireString, UsageError, type CommandSpec } from '../args.js';
import { runHeadlessJob } from '../headless-job.js';
import { integrityCheck } from '../../core/store/workspace.js';

import { nodeBackend } from '../node-backend.js';

function pinnedBackend(dir: string, readOnly = false): Backend {
  return nodeBackend({ pinnedWorkspace: dir, readOnly });
}

function printInfo(info: WorkspaceInfo, json: boolean): void {
  if (json) console.log(JSON.stringify(info, null, 2));
  else {
    console.log(`workspace   ${info.path}`);
    console.log(`schema      v${info.schemaVersion}`);
    console.log(`created     ${info.createdAt}`);
    console.log(`jobs        ${info.counts.jobs}`);
    if (info.recoveredFromUncleanShutdown) console.log('recovered   last session did not close cleanly; integrity check passed');
  }
}

export const workspaceCommand: CommandSpec = {
  name: 'workspace',
  summary:
    'Create a workspace folder, or check one: opens it (migrating older schemas; a time-bounded quick_check) and reports\n' +
    "what it holds. --full first runs SQLite's full integrity_check, read-only.",
  usage: 'ocular workspace create|check DIR [--full] [--json]',
  options: { json: { type: 'boolean' }, full: { type: 'boolean' } },
  help: [
    '    --full            check: the full integrity_check (every page, index and constraint)',
    '    --json            print machine-readable JSON',
  ],
  async run(values, positionals) {
    const [action, dir] = positionals;
    if ((action !== 'create' && action !== 'check') || !dir)
      throw new UsageError('Usage: ocular workspace create|check DIR [--full] [--json]');
    if (action === 'check' && values.full) {
      const problems = integrityCheck(dir);
      if (problems.length > 0)
        throw new UsageError(
          `integrity_check found ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${path.resolve(dir)}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}. Restore the workspace from a backup.`,
        );
      if (!values.json) console.log('integrity   ok (full integrity_check)');
    }
    const backend = pinnedBackend(dir);
    try {
      const info = await backend.call(action === 'create' ? 'workspace.create' : 'workspace.open', {});
      printInfo(info, Boolean(values.json));
    } finally {
      await backend.close();
    }
    return 0;
  },
};

export const selftestCommand: CommandSpec = {
  name: 'selftest',
  summary: 'Run the built-in self-test job in a workspace headless, printing its progress; exit code 0 when it succeeds.',
  usage: 'ocular selftest --workspace DIR [--steps N] [--json]',
  options: { workspace: { type: 'string', short: 'w' }, steps: { type: 'string' }, json: { type: 'boolean' } },
  help: [
    '-w, --workspace DIR   workspace folder (created if it holds none)',
    '    --steps N         number of steps (default 10)',
    '    --json            print the finished job as JSON',
  ],
  async run(values) {
    const dir = requireString(values, 'workspace');
    const steps = values.steps === undefined ? 10 : Number(values.steps);
    const json = Boolean(values.json);
    const job = await runHeadlessJob('selftest', { steps, stepMs: 50 }, { workspace: path.resolve(dir), quiet: json });
    if (json) console.log(JSON.stringify(job, null, 2));
    else console.log(job.state === 'succeeded' ? 'self-test succeeded' : `self-test ${job.state}: ${job.error ?? ''}`);
    return job.state === 'succeeded' ? 0 : 1;
  },
};
