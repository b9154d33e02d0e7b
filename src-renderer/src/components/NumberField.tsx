import { TextField } from '@mui/material';
import { useState } from 'react';
import { countError, numberError, parseCount } from '../lib/validate';

/**
 * What a number field accepts: a whole number from min to max, a number from min to max, or a
 * positive number up to max (min exclusive 0, as the contract's `gt(0)`).
 */
export type NumberRule =
  { whole: true; min: number; max: number } | { whole?: false; min: number; max: number } | { positive: true; max: number };

export interface NumberInput {
  text: string;
  setText(text: string): void;
  /** Why the text is refused ('a whole number, not “ten”', 'a positive number up to 0.99'), or null. */
  error: string | null;
  /** The number when accepted, else null. */
  value: number | null;
}

/** A number typed into a form, checked as the user types so a bad value is named at its field. */
export function useNumberInput(initial: string, rule: NumberRule): NumberInput {
  const [text, setText] = useState(initial);
  const error =
    'positive' in rule
      ? numberError(text, Number.MIN_VALUE, rule.max)
      : rule.whole
        ? countError(parseCount(text, rule.min, rule.max))
        : numberError(text, rule.min, rule.max);
  return { text, setText, error, value: error === null ? Number(text) : null };
}

/** The field of a useNumberInput: its error under it in red, else the hint. */
export function NumberField({ input, label, hint, width }: { input: NumberInput; label: string; hint?: string; width: number }) {
  return (
    <TextField
      size="small"
      label={label}
      value={input.text}
      onChange={(e) => input.setText(e.target.value)}
      error={input.error !== null}
      helperText={input.error ?? hint}
      sx={{ width }}
    />
  );
}
