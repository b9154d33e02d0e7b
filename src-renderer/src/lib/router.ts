/**
 * Hash routes, so every view has a URL a lab member can reload, bookmark or be sent:
 *   #/features/<analysisId>/<featureId>   #/experiments/<id>   #/saes/<trainingJobId>   #/evaluate/<evalId>
 *   #/circuits/<graphId>   #/models/<id>   #/playground/<analysisId>   #/workspace   #/activations   #/jobs   #/settings
 * navigate() pushes a history entry and updates the route synchronously (keys pressed at machine
 * speed see the new route at once); back / forward and edited URLs arrive through popstate / hashchange.
 */
import { useSyncExternalStore } from 'react';

export const PAGE_IDS = [
  'workspace',
  'models',
  'evaluate',
  'activations',
  'saes',
  'features',
  'playground',
  'experiments',
  'circuits',
  'studies',
  'jobs',
  'settings',
] as const;
export type PageId = (typeof PAGE_IDS)[number];

export interface Route {
  page: PageId;
  /** Numeric path segments after the page (ids), in order. */
  ids: number[];
}

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const page = (PAGE_IDS as readonly string[]).includes(parts[0] ?? '') ? (parts[0] as PageId) : 'workspace';
  const ids: number[] = [];
  for (const p of parts.slice(1)) {
    if (!/^\d+$/.test(p)) break;
    ids.push(Number(p));
  }
  return { page, ids };
}

export function formatRoute(route: Route): string {
  return `#/${[route.page, ...route.ids].join('/')}`;
}

let current: Route = typeof location === 'undefined' ? { page: 'workspace', ids: [] } : parseRoute(location.hash);
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());

function sync(): void {
  const next = parseRoute(location.hash);
  if (formatRoute(next) !== formatRoute(current)) {
    current = next;
    emit();
  }
}
if (typeof window !== 'undefined') {
  window.addEventListener('popstate', sync);
  window.addEventListener('hashchange', sync);
}

/** Go to a route: a new history entry, or (replace) a correction of the current one. */
export function navigate(page: PageId, ids: number[] = [], options: { replace?: boolean } = {}): void {
  const route = { page, ids };
  const hash = formatRoute(route);
  if (hash !== location.hash) history[options.replace ? 'replaceState' : 'pushState'](null, '', hash);
  if (formatRoute(current) !== hash) {
    current = route;
    emit();
  }
}

export function useRoute(): Route {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => current,
  );
}

/** The shareable URL of a route on this server (or app). */
export function routeUrl(page: PageId, ids: number[] = []): string {
  return `${location.origin}${location.pathname}${formatRoute({ page, ids })}`;
}
