import fs from 'node:fs';
import path from 'node:path';
import { OcularError } from '../errors.js';

/** Turns low-level write failures into messages a researcher can act on. */
export function describeWriteError(err: unknown, target: string): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC')
    return new OcularError('workspace', `The disk is full: could not write ${target}. Free some space and retry; nothing was changed.`);
  if (code === 'EACCES' || code === 'EPERM') return new OcularError('workspace', `Permission denied writing ${target}.`);
  if (code === 'EROFS') return new OcularError('workspace', `The file system is read-only: could not write ${target}.`);
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Write a file so that readers see either the old content or the whole new content, never a torn
 * file: write a temp file beside it, fsync it, rename over the target, fsync the folder.
 */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  writeFileAtomicWith(target, (write) => write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
}

/** writeFileAtomic for content produced in pieces (files too large for one buffer). */
export function writeFileAtomicWith(target: string, produce: (write: (bytes: Uint8Array) => void) => void): void {
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    const out = fd;
    produce((bytes) => {
      // writeSync may write less than asked (large buffers, signals): loop until all is written.
      for (let done = 0; done < bytes.length;) done += fs.writeSync(out, bytes, done, bytes.length - done);
    });
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
    fsyncDir(dir);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw describeWriteError(err, target);
  }
}

export function fsyncDir(dir: string): void {
  // Directory fsync makes the rename durable; Windows cannot open directories, and there the
  // rename is already durable enough for our purposes.
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
