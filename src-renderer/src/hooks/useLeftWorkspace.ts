import { useSyncExternalStore } from 'react';

/**
 * "Close workspace" in a browser on `ocular serve` must not close it for every lab member on the
 * server: it leaves the workspace in this browser tab only (sessionStorage), until "Open" again.
 * In the desktop app the backend belongs to this window and closes for real.
 */
const KEY = 'ocular.leftWorkspace';
const listeners = new Set<() => void>();
const read = () => {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
};

export function leaveWorkspace(path: string | null): void {
  try {
    if (path) sessionStorage.setItem(KEY, path);
    else sessionStorage.removeItem(KEY);
  } catch {
    /* storage blocked */
  }
  listeners.forEach((l) => l());
}

export function useLeftWorkspace(open: string | null): { left: boolean; leftPath: string | null } {
  const leftPath = useSyncExternalStore((l) => {
    listeners.add(l);
    return () => listeners.delete(l);
  }, read);
  return { left: open !== null && leftPath === open, leftPath };
}
