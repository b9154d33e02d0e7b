/**
 * The annotator's name, kept per browser profile (localStorage): in serve mode several annotators
 * share one workspace from their own browsers, and each edit records who made it. There is no
 * default: the UI asks once, before the first edit.
 */
import { useSyncExternalStore } from 'react';

const KEY = 'ocular.annotator';
const listeners = new Set<() => void>();

export function getAnnotator(): string | null {
  try {
    return localStorage.getItem(KEY)?.trim() || null;
  } catch {
    return null;
  }
}

export function setAnnotator(name: string): void {
  const trimmed = name.trim();
  try {
    if (trimmed) localStorage.setItem(KEY, trimmed);
    else localStorage.removeItem(KEY);
  } catch {
    /* storage blocked: the name lasts as long as the page */
  }
  listeners.forEach((l) => l());
}

export function useAnnotator(): string | null {
  return useSyncExternalStore((l) => {
    listeners.add(l);
    return () => listeners.delete(l);
  }, getAnnotator);
}
