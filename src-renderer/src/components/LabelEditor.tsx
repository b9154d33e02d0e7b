import type { FeatureLabel, LabelStatus } from '@contract/contract';
import { Button, MenuItem, Stack, TextField, Typography } from '@mui/material';
import { forwardRef, useEffect, useRef, useState } from 'react';
import { invoke } from '../api/client';
import { useReportError } from '../hooks/useErrorReporter';
import { getAnnotator } from '../lib/annotator';

export const STATUSES: LabelStatus[] = ['unlabelled', 'labelled', 'needs-review', 'uninterpretable'];

/** Label, tags, confidence and status of one feature; saving records the annotator and keeps history. */
export const LabelEditor = forwardRef<
  HTMLInputElement,
  { saeId: number; feature: number; label: FeatureLabel | null; status: LabelStatus | null; onSaved: (l: FeatureLabel) => void }
>(function LabelEditor({ saeId, feature, label, status, onSaved }, ref) {
  const report = useReportError();
  const [text, setText] = useState('');
  const [tags, setTags] = useState('');
  const [confidence, setConfidence] = useState('');
  const [current, setCurrent] = useState<LabelStatus>('unlabelled');
  // Typing in progress survives a refresh of the stored label (a status key saves while the annotator types).
  const dirty = useRef(false);
  const shownFeature = useRef<number | null>(null);
  useEffect(() => {
    if (dirty.current && shownFeature.current === feature) {
      setCurrent(label?.status ?? 'unlabelled');
      return;
    }
    dirty.current = false;
    shownFeature.current = feature;
    setText(label?.label ?? '');
    setTags(label?.tags.join(', ') ?? '');
    setConfidence(label?.confidence === null || label?.confidence === undefined ? '' : String(label.confidence));
    setCurrent(label?.status ?? 'unlabelled');
  }, [label, feature]);
  const edit = (setter: (v: string) => void) => (v: string) => {
    dirty.current = true;
    setter(v);
  };
  useEffect(() => {
    if (status) setCurrent(status);
  }, [status]);
  const save = () =>
    invoke('labels.set', {
      saeId,
      feature,
      label: text,
      tags: tags
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
      confidence: confidence === '' ? null : Math.min(1, Math.max(0, Number(confidence))),
      status: current === 'unlabelled' && text.trim() ? 'labelled' : current,
      annotator: getAnnotator(),
    }).then((l) => {
      dirty.current = false;
      onSaved(l);
    }, report);
  return (
    <Stack spacing={1} data-testid="label-editor">
      <Stack direction="row" spacing={1} alignItems="flex-start">
        <TextField
          size="small"
          label="Label"
          value={text}
          inputRef={ref}
          onChange={(e) => edit(setText)(e.target.value)}
          onKeyDown={(e) => {
            e.stopPropagation();
            if (e.key === 'Enter') void save();
          }}
          sx={{ flexGrow: 1 }}
        />
        <TextField
          select
          size="small"
          label="Status"
          value={current}
          onChange={(e) => setCurrent(e.target.value as LabelStatus)}
          sx={{ width: 170 }}
        >
          {STATUSES.map((s, i) => (
            <MenuItem key={s} value={s}>
              {i + 1}. {s}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      <Stack direction="row" spacing={1}>
        <TextField
          size="small"
          label="Tags (comma-separated)"
          value={tags}
          onChange={(e) => edit(setTags)(e.target.value)}
          onKeyDown={(e) => e.stopPropagation()}
          sx={{ flexGrow: 1 }}
        />
        <TextField
          size="small"
          label="Confidence (0–1)"
          value={confidence}
          onChange={(e) => edit(setConfidence)(e.target.value)}
          onKeyDown={(e) => e.stopPropagation()}
          sx={{ width: 150 }}
        />
        <Button variant="contained" onClick={save}>
          Save label
        </Button>
      </Stack>
      {label && (
        <Typography variant="caption" color="text.secondary" data-testid="label-saved">
          Saved by {label.annotator} at {new Date(label.updatedAt).toLocaleString()}
        </Typography>
      )}
    </Stack>
  );
});
