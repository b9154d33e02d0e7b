/**
 * Failed calls as sentences a researcher can act on. The backend's messages name the channel and
 * zod's issue paths ("Invalid request for 'saes.estimate': steps: Invalid input: expected number,
 * received null"); the UI says "Steps must be a number (it was empty)." and keeps the channel and the
 * raw message for a "Details" line.
 */
import { ApiError } from '../api/client';

export interface DescribedError {
  sentence: string;
  details: string | null;
}

/** camelCase / dotted paths to words: featureSets.0.selective.top -> "feature set 1, top". */
function fieldName(path: string): string {
  const parts = path.split('.').filter((p) => p !== '(request)');
  const words = parts.map((p) =>
    /^\d+$/.test(p)
      ? `#${Number(p) + 1}`
      : p
          .replace(/([a-z])([A-Z])/g, '$1 $2')
          .replace(/_/g, ' ')
          .toLowerCase(),
  );
  const text = words.join(' ').replace(/ #/g, ' #');
  return text ? text[0]!.toUpperCase() + text.slice(1) : 'The request';
}

/** One zod issue message, rephrased. */
function issue(message: string): string {
  const received = /received (\w+)/.exec(message)?.[1];
  const was =
    received === 'null' || received === 'undefined'
      ? ' (it was empty)'
      : received
        ? ` (it was ${received === 'nan' ? 'not a number' : `a ${received}`})`
        : '';
  let m: RegExpExecArray | null;
  if ((m = /expected number to be (>=|>|<=|<)\s*(-?[\d.e+]+)/.exec(message)))
    return `must be ${{ '>=': 'at least', '>': 'more than', '<=': 'at most', '<': 'less than' }[m[1]!]} ${m[2]}`;
  if ((m = /expected (?:string|array) to have >=?\s*(\d+)/.exec(message)))
    return Number(m[1]) <= 1 ? 'must not be empty' : `needs at least ${m[1]} items`;
  if ((m = /expected (?:string|array) to have <=?\s*(\d+)/.exec(message))) return `may have at most ${m[1]} characters or items`;
  if ((m = /expected one of (.+)$/.exec(message))) return `must be one of ${m[1]!.replace(/\|/g, ', ')}`;
  if ((m = /expected (number|string|boolean|array|object|int)/.exec(message)))
    return `must be ${{ number: 'a number', int: 'a whole number', string: 'text', boolean: 'on or off', array: 'a list', object: 'given' }[m[1]!]}${was}`;
  if (/Unrecognized key/.test(message)) return `is not something this form can send (${message})`;
  return message.replace(/^Invalid input:\s*/, '').replace(/\.$/, '');
}

const sentence = (s: string) => {
  const t = s.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
};

export function describeError(err: unknown): DescribedError {
  if (!(err instanceof ApiError)) return { sentence: sentence(err instanceof Error ? err.message : String(err)), details: null };
  const details = `${err.channel ? `${err.channel} · ` : ''}${err.code}: ${err.message}`;
  if (err.code === 'read_only') return { sentence: 'This workspace is shared read-only, so nothing can be changed from here.', details };
  const invalid = /^Invalid request for '[^']+':\s*(.*)$/s.exec(err.message);
  if (invalid) {
    const parts = invalid[1]!.split(/;\s+(?=[\w.()]+: )/).map((p) => {
      const [path, ...rest] = p.split(': ');
      return `${fieldName(path!)} ${issue(rest.join(': '))}`;
    });
    return { sentence: sentence(parts.join('; ')), details };
  }
  // Handlers' own refusals are sentences already; only the channel prefix of unexpected failures goes.
  const text = err.message.replace(/^'[^']+' failed:\s*/, err.code === 'internal' ? 'Something went wrong on the server: ' : '');
  return { sentence: sentence(text), details };
}
