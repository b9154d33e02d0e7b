import { readDatasetFolder } from '../datasets/dataset-folder.js';
import { inspectModel } from '../model/inspect.js';
import { checkModelLoads } from '../model/load-check.js';
import { planModel } from '../model/plan.js';

/** Functions the task worker may run. */
export const TASKS = { inspectModel, checkModelLoads, planModel, readDatasetFolder } as const;
export type TaskName = keyof typeof TASKS;
