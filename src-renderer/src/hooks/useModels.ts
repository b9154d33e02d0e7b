import type { ModelRecord } from '@contract/contract';
import { useCallback, useEffect, useState } from 'react';
import { invoke, subscribe } from '../api/client';

/** Registered models; reloaded when the workspace reports a change. */
export function useModels(workspacePath: string | null): { models: ModelRecord[]; reload: () => Promise<void> } {
  const [models, setModels] = useState<ModelRecord[]>([]);
  const reload = useCallback(async () => {
    if (!workspacePath) return setModels([]);
    setModels(await invoke('models.list', {}));
  }, [workspacePath]);
  useEffect(() => {
    void reload().catch(() => setModels([]));
    return subscribe((event) => {
      if (event.type === 'workspace.changed') void reload().catch(() => undefined);
    });
  }, [reload]);
  return { models, reload };
}
