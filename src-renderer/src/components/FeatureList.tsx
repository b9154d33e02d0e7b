import type { FeatureRow, LabelStatus } from '@contract/contract';
import { Box, MenuItem, Stack, TextField, Typography } from '@mui/material';
import { useCallback, useEffect, useRef, useState } from 'react';
import { invoke } from '../api/client';

const ROW = 30;
const WINDOW = 200;
export type SortKey = 'feature' | 'density' | 'maxAct' | 'imageShare' | 'crossModal' | 'label' | 'status';
const COLUMNS: Array<{ key: SortKey; title: string; width: number; render: (f: FeatureRow) => string }> = [
  { key: 'feature', title: '#', width: 64, render: (f) => String(f.feature) },
  {
    key: 'density',
    title: 'Density',
    width: 76,
    render: (f) => (f.density === 0 ? '0' : f.density < 0.001 ? f.density.toExponential(1) : `${(f.density * 100).toFixed(2)}%`),
  },
  { key: 'maxAct', title: 'Max', width: 64, render: (f) => f.maxAct.toFixed(2) },
  { key: 'imageShare', title: 'Image', width: 64, render: (f) => (f.imageShare === null ? '–' : `${Math.round(f.imageShare * 100)}%`) },
  { key: 'crossModal', title: 'X-modal', width: 70, render: (f) => (f.crossModal === null ? '–' : f.crossModal.toFixed(2)) },
  { key: 'status', title: 'Status', width: 96, render: (f) => f.status },
  { key: 'label', title: 'Label', width: 220, render: (f) => f.label ?? '' },
];

export interface ListQuery {
  sort: SortKey;
  order: 'asc' | 'desc';
  search: string;
  status: LabelStatus | null;
}

/**
 * The feature list, virtualised: only the rows in view are rendered, and rows are fetched from the
 * backend in windows as the list scrolls, so 64k features cost what a screenful does.
 */
export function FeatureList({
  analysisId,
  selected,
  onSelect,
  onOrder,
  refreshKey,
}: {
  analysisId: number;
  selected: number | null;
  onSelect: (feature: number) => void;
  onOrder: (features: Array<number | undefined>) => void;
  refreshKey: number;
}) {
  const [query, setQuery] = useState<ListQuery>({ sort: 'density', order: 'desc', search: '', status: null });
  const [total, setTotal] = useState(0);
  const [rows, setRows] = useState<Map<number, FeatureRow>>(new Map());
  const [scrollTop, setScrollTop] = useState(0);
  const loading = useRef(new Set<number>());
  const box = useRef<HTMLDivElement>(null);
  const height = 560;

  const load = useCallback(
    async (windowIndex: number, reset = false) => {
      if (loading.current.has(windowIndex) && !reset) return;
      loading.current.add(windowIndex);
      try {
        const r = await invoke('features.list', { analysisId, offset: windowIndex * WINDOW, limit: WINDOW, ...query });
        setTotal(r.total);
        setRows((current) => {
          const next = reset ? new Map<number, FeatureRow>() : new Map(current);
          r.features.forEach((f, i) => next.set(windowIndex * WINDOW + i, f));
          return next;
        });
      } finally {
        loading.current.delete(windowIndex);
      }
    },
    [analysisId, query],
  );
  useEffect(() => {
    loading.current.clear();
    void load(0, true);
    box.current?.scrollTo({ top: 0 });
  }, [load, refreshKey]);

  const first = Math.floor(scrollTop / ROW);
  const visible = Math.ceil(height / ROW) + 1;
  useEffect(() => {
    for (const w of new Set([Math.floor(first / WINDOW), Math.floor((first + visible) / WINDOW)]))
      if (w * WINDOW < total && !rows.has(w * WINDOW)) void load(w);
  }, [first, visible, total, rows, load]);
  // The page moves through the list with j/k in its current order.
  useEffect(() => onOrder(Array.from({ length: Math.min(total, rows.size) }, (_, i) => rows.get(i)?.feature)), [rows, total, onOrder]);

  const header = (c: (typeof COLUMNS)[number]) => (
    <Box
      key={c.key}
      component="button"
      onClick={() => setQuery({ ...query, sort: c.key, order: query.sort === c.key && query.order === 'desc' ? 'asc' : 'desc' })}
      sx={{
        width: c.width,
        flexShrink: 0,
        textAlign: 'left',
        border: 0,
        background: 'none',
        font: 'inherit',
        fontWeight: 600,
        cursor: 'pointer',
        p: 0.5,
      }}
      aria-label={`Sort by ${c.title}`}
    >
      {c.title}
      {query.sort === c.key ? (query.order === 'desc' ? ' ↓' : ' ↑') : ''}
    </Box>
  );

  return (
    <Stack spacing={1} sx={{ minWidth: 0 }}>
      <Stack direction="row" spacing={1}>
        <TextField
          size="small"
          label="Search labels, tags or #id"
          value={query.search}
          onChange={(e) => setQuery({ ...query, search: e.target.value })}
          sx={{ flexGrow: 1 }}
        />
        <TextField
          select
          size="small"
          label="Status"
          value={query.status ?? 'all'}
          onChange={(e) => setQuery({ ...query, status: e.target.value === 'all' ? null : (e.target.value as LabelStatus) })}
          sx={{ width: 150 }}
        >
          {['all', 'unlabelled', 'labelled', 'needs-review', 'uninterpretable'].map((s) => (
            <MenuItem key={s} value={s}>
              {s}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      <Typography variant="caption" color="text.secondary" data-testid="feature-count">
        {total} features
      </Typography>
      <Box sx={{ display: 'flex', fontSize: 13, borderBottom: 1, borderColor: 'divider' }}>{COLUMNS.map(header)}</Box>
      <Box
        ref={box}
        onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}
        sx={{ height, overflowY: 'auto', position: 'relative', fontSize: 13 }}
        role="listbox"
        aria-label="Features"
        data-testid="feature-list"
      >
        <Box sx={{ height: total * ROW, position: 'relative' }}>
          {Array.from({ length: Math.max(0, Math.min(visible, total - first)) }, (_, i) => first + i).map((index) => {
            const f = rows.get(index);
            return (
              <Box
                key={index}
                role="option"
                aria-selected={f?.feature === selected}
                data-testid={f ? `feature-row-${f.feature}` : undefined}
                onClick={() => f && onSelect(f.feature)}
                sx={{
                  position: 'absolute',
                  top: index * ROW,
                  height: ROW,
                  display: 'flex',
                  alignItems: 'center',
                  width: '100%',
                  cursor: 'pointer',
                  bgcolor: f?.feature === selected ? 'action.selected' : undefined,
                  '&:hover': { bgcolor: 'action.hover' },
                }}
              >
                {f ? (
                  COLUMNS.map((c) => (
                    <Box
                      key={c.key}
                      sx={{ width: c.width, flexShrink: 0, px: 0.5, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}
                    >
                      {c.render(f)}
                    </Box>
                  ))
                ) : (
                  <Box sx={{ px: 0.5, color: 'text.disabled' }}>…</Box>
                )}
              </Box>
            );
          })}
        </Box>
      </Box>
    </Stack>
  );
}
