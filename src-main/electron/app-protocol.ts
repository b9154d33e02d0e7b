/**
 * The app's own origin, ocular://app: the renderer's files and, under files/, the open workspace's
 * files. Serving both from one origin keeps images drawn into canvases readable (a second origin
 * would taint them). No Electron imports here, so the handler and the sender check run under Node.
 *
 *   ocular://app/<path>         the built renderer (index.html and assets), with the strict CSP
 *   ocular://app/files/<path>   a file inside the open workspace, never as active content
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { rendererHeaders } from '../core/util/csp.js';
import { mimeType, resolveInside, resolveWorkspaceFile, workspaceFileHeaders } from '../core/util/safe-path.js';

export const SCHEME = 'ocular';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${SCHEME}://${APP_HOST}`;
/** Where the renderer finds workspace files: the same path under `ocular serve`. */
export const FILES_PREFIX = '/files/';

/** Whether a frame at this URL is the app itself (or, in development, the renderer dev server). */
export function isTrustedFrameUrl(url: string | undefined, devServerUrl?: string): boolean {
  if (!url) return false;
  try {
    const parsed = new URL(url);
    if (devServerUrl) return parsed.origin === new URL(devServerUrl).origin;
    // Node reports custom-scheme origins as "null", so compare scheme and host directly.
    return parsed.protocol === `${SCHEME}:` && parsed.host === APP_HOST;
  } catch {
    return false;
  }
}

export interface AppProtocolOptions {
  rendererDir: string;
  workspaceDir(): string | null;
}

export function appProtocolHandler(options: AppProtocolOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    if (url.protocol !== `${SCHEME}:` || url.host !== APP_HOST) return notFound();
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response('Method not allowed', { status: 405 });
    if (url.pathname.startsWith(FILES_PREFIX)) {
      const root = options.workspaceDir();
      const file = root ? resolveWorkspaceFile(root, url.pathname.slice(FILES_PREFIX.length)) : null;
      return file && isFile(file) ? fileResponse(request, file, workspaceFileHeaders(file)) : notFound();
    }
    const file = resolveInside(options.rendererDir, url.pathname === '/' ? 'index.html' : url.pathname);
    if (!file || !isFile(file)) return notFound();
    return fileResponse(request, file, { 'Content-Type': mimeType(file), ...rendererHeaders() });
  };
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function fileResponse(request: Request, file: string, headers: Record<string, string>): Response {
  const size = fs.statSync(file).size;
  const body = request.method === 'HEAD' ? null : (Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>);
  return new Response(body, { status: 200, headers: { ...headers, 'Content-Length': String(size) } });
}

function notFound(): Response {
  return new Response('Not found', {
    status: 404,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
  });
}
