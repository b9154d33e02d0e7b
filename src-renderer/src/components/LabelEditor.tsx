import type { FeatureLabel, LabelStatus } from '@contract/contract';
import { Button, MenuItem, Stack, TextField } from '@mui/material';
import { forwardRef, useEffect, useImperativeHandle, useRef, useState } from 'react';
import type { LabelPatch } from '../lib/label-queue';
import { parseConfidence } from '../lib/validate';
import { Editable } from './Editable';

export const STATUSES: LabelStatus[] = ['unlabelled', 'labelled', 'needs-review', 'uninterpretable'];

export interface LabelEditorHandle {
  /** A status key (1–4): show it and put the cursor in the label field. */
  setStatus(status: LabelStatus): void;
  focusLabel(): void;
}

/**
 * One feature's label, tags, confidence and status. Mounted per feature (keyed by it), so what is
 * typed always belongs to the feature shown when it was typed. Enter saves and hands focus back to
 * the list; Esc leaves the field without saving.
 */
export const LabelEditor = forwardRef<
  LabelEditorHandle,
  {
    label: FeatureLabel | null | undefined;
    onSave: (patch: LabelPatch) => void;
    onLeave: () => void;
  }
>(function LabelEditor({ label, onSave, onLeave }, ref) {
  const [text, setText] = useState(label?.label ?? '');
  const [tags, setTags] = useState(label?.tags.join(', ') ?? '');
  const [confidence, setConfidence] = useState(
    label?.confidence === null || label?.confidence === undefined ? '' : String(label.confidence),
  );
  const [status, setStatusState] = useState<LabelStatus>(label?.status ?? 'unlabelled');
  const dirty = useRef(false);
  const input = useRef<HTMLInputElement>(null);
  // The stored label may arrive after the editor mounted: take it unless the annotator already typed.
  useEffect(() => {
    if (dirty.current || label === undefined) return;
    setText(label?.label ?? '');
    setTags(label?.tags.join(', ') ?? '');
    setConfidence(label?.confidence === null || label?.confidence === undefined ? '' : String(label.confidence));
    setStatusState(label?.status ?? 'unlabelled');
  }, [label]);
  useImperativeHandle(ref, () => ({
    setStatus: (s) => {
      setStatusState(s);
      input.current?.focus();
    },
    focusLabel: () => input.current?.focus(),
  }));
  const parsedConfidence = parseConfidence(confidence);
  const save = () => {
    if (parsedConfidence === 'invalid') return;
    onSave({
      label: text,
      tags: tags
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
      confidence: parsedConfidence,
      status: status === 'unlabelled' && text.trim() ? 'labelled' : status,
    });
    dirty.current = false;
    onLeave();
  };
  const keys = (e: React.KeyboardEvent) => {
    e.stopPropagation();
    if (e.key === 'Enter') {
      e.preventDefault();
      save();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      onLeave();
    }
  };
  const edit = (setter: (v: string) => void) => (e: React.ChangeEvent<HTMLInputElement>) => {
    dirty.current = true;
    setter(e.target.value);
  };
  return (
    <Stack spacing={1} data-testid="label-editor">
      <Stack direction="row" spacing={1} alignItems="flex-start">
        <Editable block>
          <TextField
            size="small"
            label="Label"
            value={text}
            inputRef={input}
            onChange={edit(setText)}
            onKeyDown={keys}
            sx={{ flexGrow: 1, minWidth: 0 }}
          />
        </Editable>
        <Editable>
          <TextField
            select
            size="small"
            label="Status"
            value={status}
            onChange={(e) => {
              dirty.current = true;
              setStatusState(e.target.value as LabelStatus);
            }}
            sx={{ width: 168, flexShrink: 0 }}
          >
            {STATUSES.map((s, i) => (
              <MenuItem key={s} value={s}>
                {i + 1}. {s}
              </MenuItem>
            ))}
          </TextField>
        </Editable>
      </Stack>
      <Stack direction="row" spacing={1} alignItems="flex-start">
        <Editable block>
          <TextField
            size="small"
            label="Tags, comma-separated"
            value={tags}
            onChange={edit(setTags)}
            onKeyDown={keys}
            sx={{ flexGrow: 1, minWidth: 0 }}
          />
        </Editable>
        <Editable>
          <TextField
            size="small"
            label="Confidence"
            placeholder="0–1"
            value={confidence}
            onChange={edit(setConfidence)}
            onKeyDown={keys}
            error={parsedConfidence === 'invalid'}
            helperText={parsedConfidence === 'invalid' ? 'a number from 0 to 1' : undefined}
            sx={{ width: 120, flexShrink: 0 }}
            inputProps={{ inputMode: 'decimal' }}
          />
        </Editable>
        <Editable>
          <Button variant="contained" onClick={save} disabled={parsedConfidence === 'invalid'} sx={{ flexShrink: 0 }}>
            Save label
          </Button>
        </Editable>
      </Stack>
    </Stack>
  );
});
