/**
 * The annotator's name, kept per browser profile (localStorage): in serve mode several annotators
 * share one workspace from their own browsers, and each edit records who made it.
 */
const KEY = 'ocular.annotator';

export function getAnnotator(): string {
  try {
    return localStorage.getItem(KEY) || 'anonymous';
  } catch {
    return 'anonymous';
  }
}

export function setAnnotator(name: string): void {
  localStorage.setItem(KEY, name.trim() || 'anonymous');
}
