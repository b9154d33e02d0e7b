import { Dialog, DialogContent, DialogTitle, Table, TableBody, TableCell, TableHead, TableRow } from '@mui/material';

export const FEATURE_KEYS: Array<[string, string]> = [
  ['j / ↓', 'next feature in the list'],
  ['k / ↑', 'previous feature'],
  ['1 – 4', 'set the status (unlabelled, labelled, needs review, uninterpretable) and put the cursor in the label'],
  ['Enter', 'in a label field: save and go back to the list'],
  ['Esc', 'leave a field without saving (back to the list)'],
  ['/', 'search (labels, #id, or by content: token:red, color:red, promotes:red)'],
  ['a / d', 'review mode: agree / disagree with the label shown'],
  ['?', 'this list'],
];

/** The feature browser's keys (`?`). */
export function KeyHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  return (
    <Dialog open={open} onClose={onClose} aria-labelledby="keys-title" data-testid="key-help">
      <DialogTitle id="keys-title">Keyboard</DialogTitle>
      <DialogContent>
        <Table size="small" aria-label="Keys">
          <TableHead>
            <TableRow>
              <TableCell>Key</TableCell>
              <TableCell>Does</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {FEATURE_KEYS.map(([k, v]) => (
              <TableRow key={k}>
                <TableCell>
                  <kbd>{k}</kbd>
                </TableCell>
                <TableCell>{v}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </DialogContent>
    </Dialog>
  );
}
