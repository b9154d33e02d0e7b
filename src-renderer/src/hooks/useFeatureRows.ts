import type { ContentMatch, FeatureRow, LabelStatus } from '@contract/contract';
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { invoke } from '../api/client';
import { invokeOnce } from '../lib/prefetch';

export type SortKey = 'feature' | 'density' | 'maxAct' | 'imageShare' | 'crossModal' | 'label' | 'status';
export interface ListQuery {
  sort: SortKey;
  order: 'asc' | 'desc';
  search: string;
  status: LabelStatus | null;
}
export type ListRow = FeatureRow & Partial<Pick<ContentMatch, 'matches' | 'score'>>;

const WINDOW = 200;
/** `token:red`, `color:red`, `promotes:red`...: the list shows features by what they respond to (features.searchContent). */
export const isContentQuery = (search: string) => /^\s*(token|promotes|suppresses|colou?r|shape|size)\s*:\s*\S/i.test(search);

/**
 * The feature list's rows, fetched in windows of 200 as the list needs them (sorted and filtered in
 * SQL), or all matches of a content search. Saved labels patch their row in place: a save never
 * reloads, reorders or scrolls the list.
 */
export function useFeatureRows(analysisId: number | null, query: ListQuery) {
  const [total, setTotal] = useState(0);
  // Rows live in one mutable holder (read synchronously by key handlers); a counter re-renders the list when they change.
  const [held] = useState(() => ({ rows: new Map<number, ListRow>(), index: new Map<number, number>() }));
  const [version, bump] = useReducer((n: number) => n + 1, 0);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const loading = useRef(new Map<number, Promise<void>>());
  const generation = useRef(0);
  const [reloads, reload] = useReducer((n: number) => n + 1, 0);
  const key = JSON.stringify([analysisId, query, reloads]);

  const loadedKey = useRef<string | null>(null);
  const load = useCallback(
    (w: number): Promise<void> => {
      if (analysisId === null) return Promise.resolve();
      // A new query starts over here, whichever of the list's and the page's effects asks first.
      if (loadedKey.current !== key) {
        loadedKey.current = key;
        generation.current++;
        loading.current = new Map();
        held.index.clear();
        held.rows.clear();
      }
      const existing = loading.current.get(w);
      if (existing) return existing;
      const gen = generation.current;
      const content = isContentQuery(query.search);
      const request = content
        ? invoke('features.searchContent', { analysisId, query: query.search.trim(), limit: 500 }).then((r) => ({
            total: r.features.length,
            features: r.features as ListRow[],
          }))
        : invokeOnce('features.list', { analysisId, offset: w * WINDOW, limit: WINDOW, ...query });
      const p = request.then(
        (r) => {
          if (gen !== generation.current) return;
          setError(null);
          setTotal(r.total);
          setLoaded(true);
          r.features.forEach((f, i) => {
            const index = (content ? 0 : w * WINDOW) + i;
            held.rows.set(index, f);
            held.index.set(f.feature, index);
          });
          bump();
        },
        (e: Error) => {
          if (gen === generation.current) setError(e.message);
          loading.current.delete(w);
        },
      );
      loading.current.set(w, p);
      return p;
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps -- key stands for analysisId and query
    [key, held],
  );

  useEffect(() => {
    setLoaded(false);
    bump();
    void load(0);
  }, [load]);

  /** Make sure the rows from first to last are fetched. */
  const ensure = useCallback(
    (first: number, last: number) => {
      if (isContentQuery(query.search)) return;
      for (let w = Math.floor(Math.max(0, first) / WINDOW); w <= Math.floor(Math.max(0, last) / WINDOW); w++) void load(w);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [load],
  );

  /** The row at an index, fetching its window first when needed. */
  const rowAt = useCallback(
    async (index: number): Promise<ListRow | undefined> => {
      if (index < 0) return undefined;
      if (!isContentQuery(query.search)) await load(Math.floor(index / WINDOW));
      return held.rows.get(index);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [load],
  );

  const indexOf = useCallback((feature: number) => held.index.get(feature) ?? -1, [held]);

  /** A saved label changes its row where it stands. */
  const patch = useCallback(
    (feature: number, change: Partial<FeatureRow>) => {
      const index = held.index.get(feature);
      const row = index === undefined ? undefined : held.rows.get(index);
      if (index === undefined || !row || row.feature !== feature) return;
      held.rows.set(index, { ...row, ...change });
      bump();
    },
    [held],
  );

  return { total, rows: held.rows, version, error, loaded, ensure, rowAt, indexOf, patch, reload };
}
