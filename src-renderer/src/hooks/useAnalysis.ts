import type { AnalysisRecord } from '@contract/contract';
import { useMemo } from 'react';
import { useChannel } from './useChannel';

/**
 * Finished analyses, the one a route names (null while loading or when there is none such), and the
 * model and dataset its harvest ran: what the feature pages and the Playground start from.
 */
export function useAnalysis(analysisId: number | null) {
  const { data: analyses, error } = useChannel('analyses.list', {});
  const { data: harvests } = useChannel('harvests.list', {});
  const { data: models } = useChannel('models.list', {});
  const done = useMemo(() => (analyses ?? []).filter((a) => a.summary), [analyses]);
  const analysis: AnalysisRecord | null = done.find((a) => a.id === analysisId) ?? null;
  const harvest = harvests?.find((h) => h.id === analysis?.harvestId) ?? null;
  return {
    loaded: analyses !== null,
    error,
    done,
    analysis,
    modelId: models?.find((m) => m.path === harvest?.modelPath)?.id ?? null,
    datasetId: harvest?.datasetId ?? null,
  };
}
