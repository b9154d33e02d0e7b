/**
 * Requests a page starts the moment its code arrives (from the URL alone), before React has rendered
 * it: a deep link's data is then in flight in parallel with the rest of the start-up. The first
 * useChannel / loader asking for the same call takes the promise instead of asking again.
 */
import type { Channel, RequestOf, ResponseOf } from '@contract/contract';
import { invoke } from '../api/client';

const pending = new Map<string, Promise<unknown>>();
const keyOf = (channel: string, request: unknown) => `${channel}:${JSON.stringify(request)}`;

export function prefetch<C extends Channel>(channel: C, request: RequestOf<C>): void {
  const key = keyOf(channel, request);
  if (!pending.has(key)) {
    const p = invoke(channel, request);
    p.catch(() => undefined);
    pending.set(key, p);
  }
}

/** The prefetched call, once (later calls go to the backend as usual). */
export function takePrefetched<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> | null {
  const key = keyOf(channel, request);
  const p = pending.get(key) as Promise<ResponseOf<C>> | undefined;
  pending.delete(key);
  return p ?? null;
}

/** A call through the prefetch cache. */
export const invokeOnce = <C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> =>
  takePrefetched(channel, request) ?? invoke(channel, request);
