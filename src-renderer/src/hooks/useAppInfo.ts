import type { AppInfo } from '@contract/contract';
import { useCallback, useEffect, useState } from 'react';
import { invoke, subscribe } from '../api/client';

/** App info, refreshed whenever the backend says the workspace changed. */
export function useAppInfo(): { info: AppInfo | null; error: string | null; refresh: () => Promise<void> } {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = useCallback(async () => {
    try {
      setInfo(await invoke('app.info', {}));
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  }, []);
  useEffect(() => {
    void refresh();
    return subscribe((event) => {
      if (event.type === 'workspace.changed') void refresh();
    });
  }, [refresh]);
  return { info, error, refresh };
}
