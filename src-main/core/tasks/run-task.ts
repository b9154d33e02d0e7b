import { Worker } from 'node:worker_threads';
import type { ContractErrorCode } from '../../contract/contract.js';
import { OcularError } from '../errors.js';
import type { TASKS, TaskName } from './tasks.js';

type Result<N extends TaskName> = Awaited<ReturnType<(typeof TASKS)[N]>>;

/** Runs one task in a fresh worker thread and resolves with its result (errors keep their code). */
export function runTask<N extends TaskName>(entry: string, name: N, ...args: Parameters<(typeof TASKS)[N]>): Promise<Result<N>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry, { workerData: { name, args } });
    let settled = false;
    worker.once('message', (msg: { ok: true; result: Result<N> } | { ok: false; code: ContractErrorCode; message: string }) => {
      settled = true;
      if (msg.ok) resolve(msg.result);
      else reject(new OcularError(msg.code, msg.message));
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`task ${name} exited with code ${code} before answering`));
    });
  });
}
