/**
 * The renderer's Content-Security-Policy, shared by the Electron shell and the HTTP server.
 * Scripts only from the app itself; no eval; inline styles are allowed because MUI (emotion)
 * injects style elements at run time.
 */
export function contentSecurityPolicy(extra: { connect?: string[]; img?: string[] } = {}): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `img-src 'self' data: blob: ${(extra.img ?? []).join(' ')}`.trim(),
    "font-src 'self' data:",
    `connect-src 'self' ${(extra.connect ?? []).join(' ')}`.trim(),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers for the renderer's own files (index.html and its assets), in the app and over HTTP. */
export function rendererHeaders(extra: { connect?: string[]; img?: string[] } = {}): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(extra),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  };
}
