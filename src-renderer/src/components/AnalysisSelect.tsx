import type { AnalysisRecord } from '@contract/contract';
import { MenuItem, TextField } from '@mui/material';

/** Picks one of the finished analyses (an SAE over a harvest). */
export function AnalysisSelect({
  analyses,
  value,
  onChange,
  label = 'Analysis',
}: {
  analyses: AnalysisRecord[];
  value: number | null;
  onChange: (id: number) => void;
  label?: string;
}) {
  if (analyses.length === 0) return null;
  return (
    <TextField select size="small" label={label} value={value ?? ''} onChange={(e) => onChange(Number(e.target.value))} sx={{ width: 280 }}>
      {analyses.map((a) => (
        <MenuItem key={a.id} value={a.id}>
          #{a.id}: SAE {a.saeId} over harvest {a.harvestId} ({a.summary?.rows ?? 0} rows)
        </MenuItem>
      ))}
    </TextField>
  );
}
