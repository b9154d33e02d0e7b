/**
 * The built-in self-test: exercises the whole job path (worker thread, progress, checkpoints,
 * cancel, resume) and checks the workspace is usable from a worker: the database answers an
 * integrity check through its own connection and blobs/ accepts an atomic write that reads back.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import { z } from 'zod';
import { openSqlite } from '../../store/sqlite.js';
import { BLOBS_DIR, DB_FILE } from '../../store/workspace.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { cancellableSleep, throwIfCancelled, type JobKind } from '../job-kind.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';

const params = z
  .object({
    steps: z.number().int().min(1).max(100_000).default(40),
    stepMs: z.number().int().min(0).max(60_000).default(100),
    /** Synchronous CPU work per step; proves the work cannot be on the thread serving IPC. */
    spinMs: z.number().int().min(0).max(60_000).default(0),
    /** Fail deliberately at this step, to exercise the failure path. */
    failAtStep: z.number().int().min(1).optional(),
  })
  .strict();

type Params = z.infer<typeof params>;

function spin(ms: number): string {
  const end = Date.now() + ms;
  let digest = '';
  while (Date.now() < end) digest = crypto.createHash('sha256').update(digest).digest('hex');
  return digest;
}

function checkWorkspace(workspaceDir: string): { integrity: string; blobRoundTrip: boolean } {
  const db = openSqlite(path.join(workspaceDir, DB_FILE), { readonly: true, fileMustExist: true });
  let integrity: string;
  try {
    integrity = String(db.pragma('quick_check', { simple: true }));
  } finally {
    db.close();
  }
  const probe = path.join(workspaceDir, BLOBS_DIR, `.selftest-${process.pid}-${threadId}.bin`);
  const payload = crypto.randomBytes(4096);
  writeFileAtomic(probe, payload);
  const roundTrip = fs.readFileSync(probe).equals(payload);
  fs.rmSync(probe, { force: true });
  return { integrity, blobRoundTrip: roundTrip };
}

export const selftestJob: JobKind<Params, JobResultOf<'selftest'>> = {
  kind: 'selftest',
  title: 'Self-test',
  resumable: true,
  startFromUi: true,
  params,
  result: jobResults['selftest'],
  async run(ctx) {
    const { steps, stepMs, spinMs, failAtStep } = ctx.params;
    const startStep = typeof (ctx.checkpoint as { step?: unknown })?.step === 'number' ? (ctx.checkpoint as { step: number }).step : 0;
    const workspace = checkWorkspace(ctx.workspaceDir);
    if (workspace.integrity !== 'ok') throw new Error(`workspace integrity check failed: ${workspace.integrity}`);
    if (!workspace.blobRoundTrip) throw new Error('blob write did not read back identically');
    for (let step = startStep; step < steps; step++) {
      throwIfCancelled(ctx.signal);
      if (failAtStep !== undefined && step + 1 === failAtStep) throw new Error(`self-test failed on purpose at step ${failAtStep}`);
      if (spinMs > 0) {
        ctx.progress(step / steps, `step ${step + 1}/${steps}: computing`);
        spin(spinMs);
      }
      if (stepMs > 0) await cancellableSleep(stepMs, ctx.signal);
      ctx.saveCheckpoint({ step: step + 1 });
      ctx.progress((step + 1) / steps, `step ${step + 1}/${steps}`);
    }
    return { steps, resumedFromStep: startStep, threadId, isMainThread, workspace };
  },
};
