import type { LabelStatus } from '@contract/contract';
import { Box, MenuItem, Stack, TextField, Typography } from '@mui/material';
import { forwardRef, useEffect, useImperativeHandle, useRef, useState } from 'react';
import { isContentQuery, type ListQuery, type ListRow, type SortKey } from '../hooks/useFeatureRows';

const ROW = 30;
export const STATUS_COLOUR: Record<LabelStatus, string> = {
  unlabelled: '#616161', // grey 700: white text on it keeps 6:1 contrast (the status chip)
  labelled: '#2e7d32',
  'needs-review': '#e65100',
  uninterpretable: '#6a1b9a',
};
const pctOrDash = (v: number | null) => (v === null ? '–' : `${Math.round(v * 100)}%`);
const COLUMNS: Array<{ key: SortKey; title: string; label: string; width: number | null; render: (f: ListRow) => string }> = [
  { key: 'feature', title: '#', label: 'feature number', width: 46, render: (f) => String(f.feature) },
  {
    key: 'density',
    title: 'Density',
    label: 'density',
    width: 66,
    render: (f) => (f.density === 0 ? '0' : f.density < 0.001 ? f.density.toExponential(1) : `${(f.density * 100).toFixed(2)}%`),
  },
  { key: 'maxAct', title: 'Max', label: 'maximum activation', width: 48, render: (f) => f.maxAct.toFixed(2) },
  { key: 'imageShare', title: 'Img', label: 'image share', width: 50, render: (f) => pctOrDash(f.imageShare) },
  { key: 'status', title: 'St.', label: 'status', width: 32, render: (f) => f.status },
  { key: 'label', title: 'Label', label: 'label', width: null, render: (f) => f.matches ?? f.label ?? '' },
];

export interface FeatureListHandle {
  focus(): void;
}

/**
 * The feature list, virtualised (only rows in view are rendered; rows come in windows from
 * useFeatureRows). A listbox: focusable, the selected feature is its active option, and the list
 * scrolls only to keep the selection in view when the selection moves.
 */
export const FeatureList = forwardRef<
  FeatureListHandle,
  {
    total: number;
    rows: Map<number, ListRow>;
    version: number;
    loaded: boolean;
    selected: number | null;
    selectedIndex: number;
    query: ListQuery;
    onQuery: (q: ListQuery) => void;
    onSelect: (feature: number) => void;
    ensure: (first: number, last: number) => void;
    searchRef: React.Ref<HTMLInputElement>;
  }
>(function FeatureList({ total, rows, loaded, selected, selectedIndex, query, onQuery, onSelect, ensure, searchRef }, ref) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(480);
  useImperativeHandle(ref, () => ({ focus: () => box.current?.focus({ preventScroll: true }) }), []);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setHeight(el.clientHeight || 480));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const first = Math.floor(scrollTop / ROW);
  const visible = Math.ceil(height / ROW) + 1;
  useEffect(() => ensure(first, first + visible), [first, visible, total, ensure]);
  // Follow the selection (keys, links) but never move on other changes such as a saved label.
  useEffect(() => {
    const el = box.current;
    if (!el || selectedIndex < 0) return;
    const top = selectedIndex * ROW;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW - el.clientHeight;
  }, [selectedIndex]);

  const content = isContentQuery(query.search);
  const header = (c: (typeof COLUMNS)[number]) => (
    <Box
      key={c.key}
      component="button"
      type="button"
      onClick={() => onQuery({ ...query, sort: c.key, order: query.sort === c.key && query.order === 'desc' ? 'asc' : 'desc' })}
      sx={{
        width: c.width ?? undefined,
        flex: c.width ? '0 0 auto' : '1 1 0',
        minWidth: 0,
        textAlign: 'left',
        border: 0,
        background: 'none',
        font: 'inherit',
        fontWeight: 600,
        cursor: 'pointer',
        p: 0.5,
        whiteSpace: 'nowrap',
        color: 'text.primary',
      }}
      aria-label={`${c.key === 'label' && content ? 'Matches' : c.title} (sort by ${c.label}${query.sort === c.key ? (query.order === 'desc' ? ', descending' : ', ascending') : ''})`}
      title={`Sort by ${c.label}`}
      disabled={content}
    >
      {c.key === 'label' && content ? 'Matches' : c.title}
      {query.sort === c.key && !content ? (query.order === 'desc' ? ' ↓' : ' ↑') : ''}
    </Box>
  );

  return (
    <Stack spacing={1} sx={{ minWidth: 0, minHeight: 0, flex: 1 }}>
      <Stack direction="row" spacing={1}>
        <TextField
          size="small"
          label="Search (/)"
          placeholder="label, #id, token:red, color:red, promotes:red"
          value={query.search}
          onChange={(e) => onQuery({ ...query, search: e.target.value })}
          inputRef={searchRef}
          sx={{ flexGrow: 1, minWidth: 0 }}
          inputProps={{ 'data-testid': 'feature-search' }}
        />
        <TextField
          select
          size="small"
          label="Status"
          value={query.status ?? 'all'}
          onChange={(e) => onQuery({ ...query, status: e.target.value === 'all' ? null : (e.target.value as LabelStatus) })}
          sx={{ width: 130, flexShrink: 0 }}
          disabled={content}
        >
          {['all', 'unlabelled', 'labelled', 'needs-review', 'uninterpretable'].map((s) => (
            <MenuItem key={s} value={s}>
              {s}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      <Typography variant="caption" color="text.secondary" data-testid="feature-count" aria-live="polite">
        {loaded ? `${total} features` : 'Loading features…'}
        {content && loaded ? ' match, strongest first' : ''}
      </Typography>
      <Box sx={{ display: 'flex', fontSize: 13, borderBottom: 1, borderColor: 'divider' }}>{COLUMNS.map(header)}</Box>
      <Box
        ref={box}
        onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}
        sx={{
          flex: 1,
          minHeight: 160,
          overflowY: 'auto',
          overflowX: 'hidden',
          position: 'relative',
          fontSize: 13,
          '& .ocular-row': { position: 'absolute', display: 'flex', alignItems: 'center', width: '100%', cursor: 'pointer' },
          '& .ocular-row:hover': { bgcolor: 'action.hover' },
          '& .ocular-row-selected, & .ocular-row-selected:hover': {
            bgcolor: 'rgba(61, 90, 254, 0.16)',
            boxShadow: 'inset 3px 0 0 #3d5afe',
          },
          '& .ocular-cell': { flex: '0 0 auto', minWidth: 0, px: 0.5, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' },
          '& .ocular-dot': { display: 'inline-block', width: 10, height: 10, borderRadius: '50%' },
          '& .ocular-hidden': visuallyHidden,
        }}
        role="listbox"
        tabIndex={0}
        aria-label="Features (j / k to move, ? for keys)"
        aria-activedescendant={
          selected !== null && rows.get(selectedIndex)?.feature === selected ? `feature-option-${selected}` : undefined
        }
        data-testid="feature-list"
      >
        <Box sx={{ height: total * ROW, position: 'relative' }}>
          {Array.from({ length: Math.max(0, Math.min(visible, total - first)) }, (_, i) => first + i).map((index) => {
            const f = rows.get(index);
            const isSelected = f !== undefined && f.feature === selected;
            // Rows are plain elements with one shared class: the list re-renders on every scroll step and
            // keypress, and per-row styled components cost more than the row itself.
            return (
              <div
                key={index}
                id={f ? `feature-option-${f.feature}` : undefined}
                role="option"
                aria-selected={isSelected}
                data-testid={f ? `feature-row-${f.feature}` : undefined}
                data-index={index}
                onClick={() => f && onSelect(f.feature)}
                className={isSelected ? 'ocular-row ocular-row-selected' : 'ocular-row'}
                style={{ top: index * ROW, height: ROW }}
              >
                {f ? (
                  COLUMNS.map((c) =>
                    c.key === 'status' ? (
                      <div key={c.key} className="ocular-cell" style={{ width: c.width! }} title={f.status}>
                        <span className="ocular-dot" style={{ background: STATUS_COLOUR[f.status] }} />
                        <span className="ocular-hidden">{f.status}</span>
                      </div>
                    ) : (
                      <div
                        key={c.key}
                        className="ocular-cell"
                        style={c.width ? { width: c.width } : { flex: '1 1 0' }}
                        title={c.key === 'label' ? c.render(f) : undefined}
                      >
                        {c.render(f)}
                      </div>
                    ),
                  )
                ) : (
                  <div className="ocular-cell">…</div>
                )}
              </div>
            );
          })}
        </Box>
      </Box>
    </Stack>
  );
});

export const visuallyHidden = {
  position: 'absolute',
  width: 1,
  height: 1,
  overflow: 'hidden',
  clip: 'rect(0 0 0 0)',
  whiteSpace: 'nowrap',
} as const;
