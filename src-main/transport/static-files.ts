/**
 * The renderer's files over HTTP, as a lab member on a remote `ocular serve` needs them: compressed
 * (brotli, else gzip, per Accept-Encoding; the build writes .br and .gz siblings, anything without
 * one is compressed once on first request and kept), and cached for a year where the file name
 * carries its content hash (`/assets/*`), while index.html is revalidated so a new build is seen.
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { mimeType } from '../core/util/safe-path.js';

export type Encoding = 'br' | 'gzip' | 'identity';

const COMPRESSIBLE = new Set(['.js', '.mjs', '.css', '.html', '.svg', '.json', '.map', '.txt']);
/** On-the-fly results kept (the built renderer has a few dozen files). */
const MAX_CACHED = 128;
const cache = new Map<string, Buffer>();

/** Whether an Accept-Encoding header accepts an encoding (q=0 excludes it; * stands for any other). */
export function accepts(acceptEncoding: string | undefined, encoding: string): boolean {
  const accepted = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)).find(Boolean);
    accepted.set(name, q ? Number(q[1]) : 1);
  }
  return (accepted.get(encoding) ?? accepted.get('*') ?? 0) > 0;
}

/** The best encoding the client accepts, brotli first. */
export function chooseEncoding(acceptEncoding: string | undefined): Encoding {
  if (accepts(acceptEncoding, 'br')) return 'br';
  if (accepts(acceptEncoding, 'gzip')) return 'gzip';
  return 'identity';
}

/** Hashed build assets never change under their name; everything else is revalidated. */
export function cacheControl(urlPath: string): string {
  return urlPath.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

function compressed(file: string, stat: fs.Stats, encoding: Exclude<Encoding, 'identity'>): Buffer {
  const sibling = `${file}${encoding === 'br' ? '.br' : '.gz'}`;
  try {
    if (fs.statSync(sibling).mtimeMs >= stat.mtimeMs) return fs.readFileSync(sibling);
  } catch {
    /* no precompressed sibling: compress here */
  }
  const key = `${file}:${stat.mtimeMs}:${encoding}`;
  let data = cache.get(key);
  if (!data) {
    const raw = fs.readFileSync(file);
    data =
      encoding === 'br'
        ? zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 6 } })
        : zlib.gzipSync(raw, { level: 6 });
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
    cache.set(key, data);
  }
  return data;
}

/** Send a renderer file with its caching and the best compression the request accepts. */
export function sendStatic(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  file: string,
  urlPath: string,
  headers: Record<string, string>,
): void {
  const stat = fs.statSync(file);
  // The path decides caching, whatever the page headers say (they may carry a blanket no-cache).
  const base = { 'Content-Type': mimeType(file), ...headers, 'Cache-Control': cacheControl(urlPath) };
  const encoding = COMPRESSIBLE.has(path.extname(file).toLowerCase()) ? chooseEncoding(req.headers['accept-encoding']) : 'identity';
  if (encoding === 'identity') {
    res.writeHead(200, { ...base, 'Content-Length': String(stat.size), Vary: 'Accept-Encoding' });
    if (req.method === 'HEAD') return void res.end();
    fs.createReadStream(file).pipe(res);
    return;
  }
  const body = compressed(file, stat, encoding);
  res.writeHead(200, { ...base, 'Content-Encoding': encoding, 'Content-Length': String(body.length), Vary: 'Accept-Encoding' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
