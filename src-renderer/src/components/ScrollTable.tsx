import { TableContainer } from '@mui/material';
import type { ReactNode } from 'react';

/**
 * A table that may scroll sideways inside the page (never the page itself). Focusable and named, so
 * keyboard users can scroll it too.
 */
export function ScrollTable({ label, children }: { label: string; children: ReactNode }) {
  return (
    <TableContainer tabIndex={0} role="region" aria-label={label}>
      {children}
    </TableContainer>
  );
}
