/**
 * Form state that survives navigating away and back (kept in memory) and a reload of the tab
 * (sessionStorage): a half-filled experiment form is not lost by a look at the Jobs page.
 */
import { useCallback, useState, type Dispatch, type SetStateAction } from 'react';

const memory = new Map<string, unknown>();
const PREFIX = 'ocular.form.';

export function readPersisted<T>(key: string): T | undefined {
  if (memory.has(key)) return memory.get(key) as T;
  try {
    const raw = sessionStorage.getItem(PREFIX + key);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  } catch {
    return undefined;
  }
}

export function writePersisted<T>(key: string, value: T): void {
  memory.set(key, value);
  try {
    sessionStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    /* storage full or blocked: memory still keeps it for this session */
  }
}

export function usePersistentState<T>(key: string, initial: T | (() => T)): [T, Dispatch<SetStateAction<T>>] {
  const [value, setValue] = useState<T>(() => {
    const stored = readPersisted<T>(key);
    return stored !== undefined ? stored : typeof initial === 'function' ? (initial as () => T)() : initial;
  });
  const set = useCallback<Dispatch<SetStateAction<T>>>(
    (next) =>
      setValue((prev) => {
        const v = typeof next === 'function' ? (next as (p: T) => T)(prev) : next;
        writePersisted(key, v);
        return v;
      }),
    [key],
  );
  return [value, set];
}
