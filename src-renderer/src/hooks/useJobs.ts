import type { Job } from '@contract/contract';
import { useEffect, useState } from 'react';
import { invoke, subscribe } from '../api/client';

/** The workspace's jobs, kept live by job.updated events. */
export function useJobs(workspacePath: string | null): Job[] {
  const [jobs, setJobs] = useState<Job[]>([]);
  useEffect(() => {
    if (!workspacePath) {
      setJobs([]);
      return;
    }
    let cancelled = false;
    const unsubscribe = subscribe((event) => {
      if (event.type !== 'job.updated') return;
      setJobs((current) => {
        const rest = current.filter((j) => j.id !== event.job.id);
        return [event.job, ...rest].sort((a, b) => b.id - a.id);
      });
    });
    invoke('jobs.list', { limit: 200 })
      .then((list) => {
        if (cancelled) return;
        // Merge with anything that arrived by event while the list was in flight.
        setJobs((current) => {
          const byId = new Map(list.map((j) => [j.id, j]));
          for (const j of current) byId.set(j.id, j);
          return [...byId.values()].sort((a, b) => b.id - a.id);
        });
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
      unsubscribe();
    };
  }, [workspacePath]);
  return jobs;
}
