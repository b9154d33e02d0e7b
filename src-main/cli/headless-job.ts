/**
 * Runs one job headless for a CLI command: a backend over a workspace (a temporary one unless the
 * command names a folder), the job started directly (the CLI is trusted to name places on disk),
 * progress on stderr unless quiet, and the finished job returned.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Job } from '../contract/contract.js';
import { OcularError } from '../core/errors.js';
import { parseJobParams } from '../core/jobs/job-runner.js';
import { DB_FILE } from '../core/store/workspace.js';

import { nodeBackend } from './node-backend.js';

export async function runHeadlessJob(kind: string, params: unknown, options: { workspace?: string; quiet?: boolean } = {}): Promise<Job> {
  // Bad parameters are refused before a workspace is opened or created.
  parseJobParams(kind, params);
  const scratch = options.workspace ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-cli-'));
  const backend = nodeBackend({ pinnedWorkspace: options.workspace ?? path.join(scratch!, 'workspace') });
  try {
    const opened = await backend.invoke('workspace.open', {});
    if (!opened.ok) {
      // A workspace that exists but cannot be opened (locked by another process, corrupt, newer)
      // is reported as it is; only a folder with no workspace yet is created.
      if (fs.existsSync(path.join(backend.pinnedWorkspace!, DB_FILE))) throw new OcularError('workspace', opened.error.message);
      const created = await backend.invoke('workspace.create', {});
      if (!created.ok) throw new OcularError('workspace', created.error.message);
    }
    const finished = new Promise<Job>((resolve) =>
      backend.onEvent((e) => {
        if (e.type !== 'job.updated') return;
        if (!options.quiet)
          process.stderr.write(
            `\r${e.job.state.padEnd(10)} ${(e.job.progress * 100).toFixed(0).padStart(3)}%  ${e.job.message ?? ''}`.padEnd(100),
          );
        if (!['queued', 'running'].includes(e.job.state)) resolve(e.job);
      }),
    );
    backend.startTrustedJob(kind, params);
    const job = await finished;
    if (!options.quiet) process.stderr.write('\n');
    return job;
  } finally {
    await backend.close();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  }
}
