import { Tooltip } from '@mui/material';
import { cloneElement, createContext, useContext, type ReactElement } from 'react';

/** Whether this server or app refuses changes (`ocular serve --read-only`): editing controls are disabled, with a reason. */
export const ReadOnlyContext = createContext(false);
export const useReadOnly = () => useContext(ReadOnlyContext);

export const READ_ONLY_REASON = 'Read-only: this server shows the workspace but does not accept changes.';

/**
 * Wraps one editing control. When the workspace is read-only the control is disabled and its tooltip
 * says why (a disabled element gets no pointer events, so the tooltip sits on a wrapper).
 */
export function Editable({ children, block = false }: { children: ReactElement<{ disabled?: boolean }>; block?: boolean }) {
  const readOnly = useReadOnly();
  if (!readOnly) return children;
  return (
    <Tooltip title={READ_ONLY_REASON}>
      <span style={{ display: block ? 'flex' : 'inline-flex', flexGrow: block ? 1 : undefined }} data-testid="read-only-control">
        {cloneElement(children, { disabled: true })}
      </span>
    </Tooltip>
  );
}
