/**
 * Checks for numbers typed into forms, run as the user types so a bad value is named at its field
 * and never reaches the backend ("ten" as an item limit used to be dropped silently).
 */

/** A whole number within bounds (empty allowed when optional), or why not. */
export function parseCount(text: string, min: number, max: number, optional = false): { value: number | null } | { error: string } {
  if (text.trim() === '') return optional ? { value: null } : { error: 'required' };
  const v = Number(text);
  if (!Number.isInteger(v)) return { error: `a whole number, not “${text.trim()}”` };
  if (v < min || v > max) return { error: `from ${min.toLocaleString()} to ${max.toLocaleString()}` };
  return { value: v };
}

/** The error of a parseCount result, if any (for helper text). */
export const countError = (r: { value: number | null } | { error: string }) => ('error' in r ? r.error : null);

/** A number within bounds, or why not. */
export function numberError(text: string, min: number, max: number): string | null {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) return `a number, not “${text.trim()}”`;
  if (v < min || v > max)
    return max === Infinity ? `a number ≥ ${min}` : min > 0 && min < 1e-300 ? `a positive number up to ${max}` : `from ${min} to ${max}`;
  return null;
}

/** A comma-separated list of numbers, or the first entry that is not one. */
export function parseNumbers(text: string, integer = false): { values: number[] } | { bad: string } {
  const parts = text
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const p of parts) {
    const v = Number(p);
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) return { bad: p };
  }
  return { values: parts.map(Number) };
}

/** A confidence field's value: empty is none; anything else must be a number from 0 to 1. */
export function parseConfidence(text: string): number | null | 'invalid' {
  if (text.trim() === '') return null;
  const v = Number(text);
  return Number.isFinite(v) && v >= 0 && v <= 1 ? v : 'invalid';
}

/** A chat endpoint's base URL: http(s), no credentials; `remote` when its host is not this machine (127/8, ::1, localhost). */
export function checkEndpointUrl(text: string): { error: string } | { remote: boolean } {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    return { error: 'a URL such as http://127.0.0.1:8080/v1' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { error: `http or https, not ${u.protocol}` };
  if (u.username || u.password) return { error: 'no credentials in the URL' };
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  return { remote: !loopback };
}
