import { MenuItem, TextField } from '@mui/material';

/** A drop-down of records by id (a model, a dataset, an SAE …): `options` as [id, shown text]; '' until one is picked. */
export function IdSelect({
  label,
  value,
  onChange,
  options,
  width,
}: {
  label: string;
  value: number | '';
  onChange: (id: number) => void;
  options: Array<[number, string]>;
  width: number;
}) {
  return (
    <TextField select size="small" label={label} value={value} onChange={(e) => onChange(Number(e.target.value))} sx={{ width }}>
      {options.map(([id, text]) => (
        <MenuItem key={id} value={id}>
          {text}
        </MenuItem>
      ))}
    </TextField>
  );
}
