import { Button, Dialog, DialogActions, DialogContent, DialogContentText, DialogTitle, TextField } from '@mui/material';
import { useState } from 'react';
import { setAnnotator } from '../lib/annotator';

/** Asked once per browser, before the first edit: every label and review records who made it. */
export function AnnotatorDialog({ open, onDone, onCancel }: { open: boolean; onDone: (name: string) => void; onCancel: () => void }) {
  const [name, setName] = useState('');
  const done = () => {
    if (!name.trim()) return;
    setAnnotator(name);
    onDone(name.trim());
  };
  return (
    <Dialog open={open} onClose={onCancel} aria-labelledby="annotator-title">
      <DialogTitle id="annotator-title">Who is labelling?</DialogTitle>
      <DialogContent>
        <DialogContentText sx={{ mb: 2 }}>
          Your name goes with every label and review you make, so lab members can see who labelled what. It is kept in this browser; change
          it under Settings.
        </DialogContentText>
        <TextField
          autoFocus
          fullWidth
          size="small"
          label="Your name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          onKeyDown={(e) => {
            e.stopPropagation();
            if (e.key === 'Enter') done();
          }}
          inputProps={{ 'data-testid': 'annotator-name' }}
        />
      </DialogContent>
      <DialogActions>
        <Button onClick={onCancel}>Cancel</Button>
        <Button variant="contained" disabled={!name.trim()} onClick={done}>
          Save name
        </Button>
      </DialogActions>
    </Dialog>
  );
}
