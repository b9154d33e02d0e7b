import { inspectModel } from '../model/inspect.js';

/** Functions the task worker may run. */
export const TASKS = { inspectModel } as const;
export type TaskName = keyof typeof TASKS;
