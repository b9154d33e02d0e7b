import type { Channel, RequestOf, ResponseOf } from '@contract/contract';
import { useCallback, useEffect, useState } from 'react';
import { subscribe } from '../api/client';
import { describeError } from '../lib/errors';
import { invokeOnce } from '../lib/prefetch';

/**
 * Calls a read channel and keeps the result fresh: reloads when the workspace changes or a job
 * finishes (so lists reflect what jobs produced).
 */
export function useChannel<C extends Channel>(
  channel: C,
  request: RequestOf<C> | null,
): { data: ResponseOf<C> | null; error: string | null; reload: () => void } {
  const [data, setData] = useState<ResponseOf<C> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const key = JSON.stringify(request);
  const reload = useCallback(() => {
    if (request === null) return;
    invokeOnce(channel, request).then(
      (d) => {
        setData(d);
        setError(null);
      },
      (e: unknown) => setError(describeError(e).sentence),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [channel, key]);
  useEffect(() => {
    reload();
    return subscribe((event) => {
      if (event.type === 'workspace.changed' || (event.type === 'job.updated' && !['queued', 'running'].includes(event.job.state)))
        reload();
    });
  }, [reload]);
  return { data, error, reload };
}
