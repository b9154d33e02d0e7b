import { readDatasetFolder } from '../datasets/dataset-folder.js';
import { inspectModel } from '../model/inspect.js';
import { planModel } from '../model/plan.js';

/** Functions the task worker may run. */
export const TASKS = { inspectModel, planModel, readDatasetFolder } as const;
export type TaskName = keyof typeof TASKS;
