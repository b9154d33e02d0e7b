/**
 * Resolves a URL path to a file inside a root folder, or returns null. Both the Electron protocol
 * handler and the HTTP file route use this one function, so there is one place to get it right:
 * no absolute paths, no `..` escapes (encoded or not), no NUL bytes, no symlinks leading outside.
 */
import fs from 'node:fs';
import path from 'node:path';

export function resolveInside(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null; // malformed %-escape
  }
  if (decoded.includes('\0')) return null;
  const relative = decoded.replace(/\\/g, '/').replace(/^\/+/, '');
  if (relative === '' || path.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) return null;
  if (relative.split('/').some((part) => part === '..')) return null;

  const rootReal = safeRealpath(path.resolve(root));
  if (!rootReal) return null;
  const candidate = path.resolve(rootReal, relative);
  if (!isWithin(rootReal, candidate)) return null;
  const real = safeRealpath(candidate);
  if (!real || !isWithin(rootReal, real)) return null;
  return real;
}

function isWithin(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function safeRealpath(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/**
 * Files under a workspace that its file route may serve: artifacts, not the live database or its
 * lock (reading those mid-write gives torn copies, and they are not for display).
 */
export function resolveWorkspaceFile(workspaceDir: string, urlPath: string): string | null {
  const file = resolveInside(workspaceDir, urlPath);
  if (!file) return null;
  const base = path.basename(file);
  if (base.startsWith('workspace.sqlite') || base === 'workspace.lock') return null;
  return file;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export function mimeType(file: string): string {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * What the UI shows from a workspace: raster images in `<img>` and canvases. Only these go out inline;
 * SVG is not here (it is a document that can carry script), nor HTML, JS, XML or anything else.
 */
const RASTER: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.avif': 'image/avif',
  '.bmp': 'image/bmp',
};

/**
 * Headers for a file served from a workspace (the HTTP /files route and the app protocol's files/):
 * never active content, even if a dataset holds an HTML or SVG file. Raster images go out inline;
 * everything else is an opaque download (a browser saves it instead of rendering it on the app's
 * origin). Nothing is sniffed, and anything opened directly runs sandboxed with no scripts.
 */
export function workspaceFileHeaders(file: string): Record<string, string> {
  const raster = RASTER[path.extname(file).toLowerCase()];
  const headers: Record<string, string> = {
    'Content-Type': raster ?? 'application/octet-stream',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Cache-Control': 'no-cache',
  };
  if (!raster) headers['Content-Disposition'] = `attachment; filename="${path.basename(file).replace(/[^\w.-]/g, '_')}"`;
  return headers;
}
