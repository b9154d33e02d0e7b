import type { LabelConflict } from '@contract/contract';
import {
  Alert,
  Button,
  Checkbox,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  Menu,
  MenuItem,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Tooltip,
} from '@mui/material';
import { useRef, useState } from 'react';
import { invoke } from '../api/client';
import { useReportError } from '../hooks/useErrorReporter';
import { download } from '../lib/download';
import { READ_ONLY_REASON } from './Editable';

/** Export an SAE's labels, or import another annotator's: conflicts are listed, and only the ones ticked take the imported side. */
export function LabelsTransfer({ saeId, readOnly, onChanged }: { saeId: number; readOnly: boolean; onChanged: () => void }) {
  const report = useReportError();
  const input = useRef<HTMLInputElement>(null);
  const [pending, setPending] = useState<{ format: 'json' | 'csv'; content: string; conflicts: LabelConflict[]; applied: number } | null>(
    null,
  );
  const [take, setTake] = useState<Set<number>>(new Set());
  const [menu, setMenu] = useState<HTMLElement | null>(null);
  const exportAs = (format: 'json' | 'csv') =>
    invoke('labels.export', { saeId, format }).then(
      (r) => download(r.filename, r.content, format === 'json' ? 'application/json' : 'text/csv'),
      report,
    );
  const importFile = async (file: File) => {
    const format = file.name.toLowerCase().endsWith('.csv') ? 'csv' : 'json';
    const content = await file.text();
    try {
      const r = await invoke('labels.import', { saeId, format, content, takeTheirs: [] });
      onChanged();
      setTake(new Set());
      setPending({ format, content, conflicts: r.conflicts, applied: r.applied });
    } catch (err) {
      report(err);
    }
  };
  const resolve = async () => {
    if (!pending) return;
    try {
      if (take.size > 0) await invoke('labels.import', { saeId, format: pending.format, content: pending.content, takeTheirs: [...take] });
      onChanged();
      setPending(null);
    } catch (err) {
      report(err);
    }
  };
  return (
    <Stack direction="row" spacing={1}>
      <Button size="small" onClick={(e) => setMenu(e.currentTarget)} aria-haspopup="menu" aria-expanded={menu !== null}>
        Labels ▾
      </Button>
      <Menu anchorEl={menu} open={menu !== null} onClose={() => setMenu(null)}>
        <MenuItem
          onClick={() => {
            setMenu(null);
            void exportAs('json');
          }}
        >
          Export labels (JSON)
        </MenuItem>
        <MenuItem
          onClick={() => {
            setMenu(null);
            void exportAs('csv');
          }}
        >
          Export labels (CSV)
        </MenuItem>
        <Tooltip title={readOnly ? READ_ONLY_REASON : ''} placement="left">
          <span>
            <MenuItem
              disabled={readOnly}
              onClick={() => {
                setMenu(null);
                input.current?.click();
              }}
            >
              Import labels…
            </MenuItem>
          </span>
        </Tooltip>
      </Menu>
      <input
        ref={input}
        type="file"
        accept=".json,.csv"
        hidden
        data-testid="labels-file"
        onChange={(e) =>
          e.target.files?.[0] &&
          void importFile(e.target.files[0]).finally(() => {
            e.target.value = '';
          })
        }
      />
      <Dialog open={pending !== null} onClose={() => setPending(null)} maxWidth="md" fullWidth>
        <DialogTitle>Imported labels</DialogTitle>
        <DialogContent>
          <Alert severity={pending?.conflicts.length ? 'warning' : 'success'} sx={{ mb: 1 }} data-testid="import-summary">
            {pending?.applied ?? 0} labels merged; {pending?.conflicts.length ?? 0} conflicts left as they were.
            {pending?.conflicts.length ? ' Tick the ones where the imported label should win.' : ''}
          </Alert>
          {pending && pending.conflicts.length > 0 && (
            <Table size="small" aria-label="Label conflicts">
              <TableHead>
                <TableRow>
                  <TableCell>Take imported</TableCell>
                  <TableCell>Feature</TableCell>
                  <TableCell>Ours</TableCell>
                  <TableCell>Imported</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {pending.conflicts.map((c) => (
                  <TableRow key={c.feature} data-testid={`conflict-${c.feature}`}>
                    <TableCell>
                      <Checkbox
                        checked={take.has(c.feature)}
                        onChange={(e) => {
                          const next = new Set(take);
                          if (e.target.checked) next.add(c.feature);
                          else next.delete(c.feature);
                          setTake(next);
                        }}
                      />
                    </TableCell>
                    <TableCell>{c.feature}</TableCell>
                    <TableCell>
                      {c.ours.label} ({c.ours.status}, {c.ours.annotator})
                    </TableCell>
                    <TableCell>
                      {c.theirs.label} ({c.theirs.status}, {c.theirs.annotator})
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </DialogContent>
        <DialogActions>
          <Button onClick={resolve}>{take.size > 0 ? `Take ${take.size} imported` : 'Done'}</Button>
        </DialogActions>
      </Dialog>
    </Stack>
  );
}
