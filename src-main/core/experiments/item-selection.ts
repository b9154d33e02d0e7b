/**
 * Which dataset items an experiment runs. With a limit the items are stratified by task: tasks take
 * turns, one item each, in the dataset's order within each task, until the limit is reached, so
 * `tasks: [color, shape], limit: 24` runs 12 of each instead of the first 24 (all colour). A plan
 * of the same selection tells the form how many items each task gets, so a task that would get
 * none is flagged before anything runs.
 */
import type { ExperimentPlan } from '../../contract/contract.js';

interface Tasked {
  task: string | null;
}

/** Items of the chosen tasks (all items when tasks is null), at most `limit`, stratified by task; dataset order kept. */
export function selectItems<T extends Tasked>(items: T[], tasks: string[] | null, limit: number | null): T[] {
  const wanted = tasks ? items.filter((it) => it.task !== null && tasks.includes(it.task)) : items;
  if (limit === null || wanted.length <= limit) return wanted;
  const groups = new Map<string, number[]>();
  wanted.forEach((it, i) => {
    const key = it.task ?? '';
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const order = tasks ? [...new Set(tasks)].filter((t) => groups.has(t)) : [...groups.keys()];
  const queues = order.map((t) => groups.get(t)!);
  const chosen: number[] = [];
  for (let round = 0; chosen.length < limit; round++)
    for (const q of queues) {
      if (chosen.length >= limit) break;
      if (round < q.length) chosen.push(q[round]!);
    }
  return chosen.sort((a, b) => a - b).map((i) => wanted[i]!);
}

/** Every task of the dataset with its size, whether it was asked for, and how many items the selection gives it. */
export function planItems(items: Tasked[], tasks: string[] | null, limit: number | null): ExperimentPlan {
  const selected = selectItems(items, tasks, limit);
  const count = (list: Tasked[], task: string) => list.filter((it) => it.task === task).length;
  const names = [...new Set(items.map((it) => it.task).filter((t): t is string => t !== null))].sort();
  for (const t of tasks ?? []) if (!names.includes(t)) names.push(t);
  return {
    tasks: names.map((task) => ({
      task,
      available: count(items, task),
      selected: count(selected, task),
      requested: tasks === null || tasks.includes(task),
    })),
    untagged: items.filter((it) => it.task === null).length,
    total: selected.length,
  };
}
