import { Box, ButtonBase } from '@mui/material';
import { useRef } from 'react';

/**
 * A plain tab list (WAI-ARIA tabs: arrows move between tabs). MUI's Tabs measure every tab's box on
 * each render to place their indicator, which cost a feature page hundreds of milliseconds of layout;
 * an underline in CSS needs no measuring.
 */
export function TabBar<T extends string>({
  tabs,
  value,
  onChange,
  label,
}: {
  tabs: Array<[T, string]>;
  value: T;
  onChange: (t: T) => void;
  label: string;
}) {
  const refs = useRef<Array<HTMLButtonElement | null>>([]);
  const move = (from: number, delta: number) => {
    const next = (from + delta + tabs.length) % tabs.length;
    onChange(tabs[next]![0]);
    refs.current[next]?.focus();
  };
  return (
    <Box role="tablist" aria-label={label} sx={{ display: 'flex', flexWrap: 'wrap', gap: 0.5 }}>
      {tabs.map(([id, title], i) => {
        const selected = id === value;
        return (
          <ButtonBase
            key={id}
            ref={(el: HTMLButtonElement | null) => {
              refs.current[i] = el;
            }}
            role="tab"
            id={`tab-${id}`}
            aria-selected={selected}
            tabIndex={selected ? 0 : -1}
            data-testid={`tab-${id}`}
            onClick={() => onChange(id)}
            onKeyDown={(e) => {
              if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                e.preventDefault();
                e.stopPropagation();
                move(i, e.key === 'ArrowRight' ? 1 : -1);
              }
            }}
            sx={{
              px: 1.5,
              py: 1,
              fontSize: 14,
              fontWeight: 600,
              letterSpacing: '0.02857em',
              textTransform: 'uppercase',
              color: selected ? 'primary.main' : 'text.secondary',
              borderBottom: 2,
              borderColor: selected ? 'primary.main' : 'transparent',
            }}
          >
            {title}
          </ButtonBase>
        );
      })}
    </Box>
  );
}
