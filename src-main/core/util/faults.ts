/**
 * Faults of the machine rather than of the input — a full disk, a read-only file system, a port in
 * use, a folder where a file was expected — in one line a person can act on. SQLite reports a full
 * disk as SQLITE_FULL ("database or disk is full"), Node as ENOSPC (or EDQUOT over a quota); every
 * job, CLI command and server maps them here so a full disk always reads "disk full: …".
 */
import { errorMessage } from '../errors.js';

interface CodedError {
  code?: unknown;
  syscall?: unknown;
  path?: unknown;
  address?: unknown;
  port?: unknown;
}

function codeOf(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as CodedError).code === 'string'
    ? ((err as CodedError).code as string)
    : '';
}

export function isDiskFull(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || /database or disk is full|ENOSPC/.test(errorMessage(err));
}

/** The path a Node fs error names, for the message. */
function where(err: unknown): string {
  const p = (err as CodedError).path;
  return typeof p === 'string' ? ` (${p})` : '';
}

/** A one-line message for a machine fault, or null when `err` is not one (then it is a bug or an input error). */
export function faultMessage(err: unknown): string | null {
  const code = codeOf(err);
  const first = errorMessage(err).split('\n')[0]!;
  if (isDiskFull(err))
    return `disk full: ${first.startsWith('disk full') ? first.slice('disk full: '.length) : first}. Free some space and try again (interrupted jobs can be resumed).`;
  switch (code) {
    case 'SQLITE_READONLY':
    case 'SQLITE_READONLY_DIRECTORY':
      return `read-only: the workspace database cannot be written (a read-only file system, file permissions, or opened --read-only).`;
    case 'EROFS':
      return `read-only file system${where(err)}: Ocular cannot write there. Open the workspace with --read-only to browse it, or copy it somewhere writable.`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied${where(err)}: this user cannot write there.`;
    case 'EADDRINUSE': {
      const e = err as CodedError;
      return `port ${String(e.port)} on ${String(e.address)} is already in use (another \`ocular serve\`?): choose another with --port N, or --port 0 for any free port.`;
    }
    case 'EADDRNOTAVAIL':
      return `cannot bind ${String((err as CodedError).address)}: this machine has no such address.`;
    case 'ENOTDIR':
      return `a file stands where a folder is needed${where(err)}.`;
    case 'EISDIR':
      return `a folder stands where a file is needed${where(err)}.`;
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files: raise the limit (ulimit -n) or close other programs.';
    case 'SQLITE_CORRUPT':
    case 'SQLITE_NOTADB':
      return `the workspace database is corrupt (${first}). Run \`ocular workspace check --full DIR\` and restore it from a backup.`;
    case 'SQLITE_BUSY':
      return 'the workspace database is busy: another process holds a write lock. Try again when it finishes.';
  }
  return null;
}

/** A job's error text: a fault in its one-line form, anything else as its message. */
export function jobErrorText(err: unknown): string {
  return faultMessage(err) ?? errorMessage(err);
}
