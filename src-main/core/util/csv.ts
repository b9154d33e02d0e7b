const PLAIN_NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;
/** A formula start, behind any apostrophes an earlier escape added (so escaping can be undone exactly). */
const FORMULA = /^'*[=+\-@\t\r]/;

/**
 * One CSV cell: empty for null, strings as they are, other values as JSON; quoted when it holds a
 * comma, quote, tab or line break. A string a spreadsheet would read as a formula (starting with
 * = + - @, tab or carriage return — a label typed by anyone who can reach the workspace) gets a
 * leading apostrophe, as OWASP's CSV-injection guidance recommends, so it opens as text. Numbers
 * keep their sign, as does a string that is just a number ("-3" is an answer, not a formula).
 * A string already starting with apostrophes before a formula character gets one more, so
 * csvText undoes the escape exactly.
 */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  if (typeof v === 'string' && FORMULA.test(s) && !PLAIN_NUMBER.test(s)) s = `'${s}`;
  return /[",\n\r\t]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The string csvCell was given, from a parsed (unquoted) cell: drops the formula escape's apostrophe. */
export function csvText(cell: string): string {
  return cell.startsWith("'") && FORMULA.test(cell) ? cell.slice(1) : cell;
}
