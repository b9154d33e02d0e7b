import { readDatasetFolder } from '../datasets/dataset-folder.js';
import { inspectModel } from '../model/inspect.js';

/** Functions the task worker may run. */
export const TASKS = { inspectModel, readDatasetFolder } as const;
export type TaskName = keyof typeof TASKS;
