/**
 * Estimated seconds left for a running job, from its progress and time since it (re)started.
 * Null while there is too little progress to extrapolate honestly.
 */
export function etaSeconds(progress: number, startedAt: string | null, now: number = Date.now()): number | null {
  if (!startedAt || progress <= 0.01 || progress >= 1) return null;
  const elapsed = (now - Date.parse(startedAt)) / 1000;
  if (!Number.isFinite(elapsed) || elapsed <= 0) return null;
  return (elapsed * (1 - progress)) / progress;
}

export function formatDuration(seconds: number): string {
  if (seconds < 1) return '<1 s';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds - h * 3600) / 60);
  return `${h} h ${m} min`;
}
