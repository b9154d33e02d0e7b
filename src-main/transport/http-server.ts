/**
 * Loopback HTTP + WebSocket transport for the IPC contract (`ocular serve`).
 *
 *   GET  /                      the built renderer (static files from out/renderer; brotli / gzip, hashed
 *                               assets cached for a year: static-files.ts)
 *   POST /api/invoke/<channel>  one contract call; JSON body in, envelope out
 *   GET  /api/events            WebSocket: backend events (job progress, workspace changes)
 *   GET  /files/<path>          files inside the open workspace folder, nothing outside it
 *
 * Defences: binds 127.0.0.1 unless told otherwise and then requires a token; checks Host (DNS
 * rebinding) and Origin (cross-site requests and WebSockets) on every call; strict CSP on pages.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Backend } from '../core/backend/backend.js';
import { rendererHeaders } from '../core/util/csp.js';
import { mimeType, resolveInside, resolveWorkspaceFile, workspaceFileHeaders } from '../core/util/safe-path.js';
import { accepts, sendStatic } from './static-files.js';

export interface ServeOptions {
  backend: Backend;
  rendererDir: string;
  host?: string;
  port?: number;
  token?: string;
  /** Called for each request that fails, for logging. */
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const TOKEN_COOKIE = 'ocular_token';

/**
 * Whether binding `host` keeps the server on this machine: an IPv4 address in 127.0.0.0/8, the IPv6
 * loopback, or the literal name `localhost`. Nothing else — '127.attacker.example' is a DNS name that
 * can point anywhere.
 */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.split('.')[0] === '127';
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return net.isIPv6(bare) && new URL(`http://[${bare}]/`).hostname === '[::1]'; // any spelling of ::1
}

export async function startHttpServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token;
  if (!isLoopbackHost(host) && !token) {
    throw new Error(`Refusing to serve on ${host} without --token: anyone on the network could read and change the workspace.`);
  }
  const rendererIndex = path.join(options.rendererDir, 'index.html');
  if (!fs.existsSync(rendererIndex)) {
    throw new Error(`The renderer is not built (${rendererIndex} is missing). Run \`npm run build\` first.`);
  }
  const { backend } = options;
  let port = options.port ?? 4599;

  const allowedHosts = () => new Set(isLoopbackHost(host) ? [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`] : []);
  const hostOk = (req: http.IncomingMessage) => !isLoopbackHost(host) || allowedHosts().has(req.headers.host ?? '');
  const originOk = (req: http.IncomingMessage) => {
    const origin = req.headers.origin;
    return origin === undefined || origin === `http://${req.headers.host}`;
  };
  const authorized = (req: http.IncomingMessage) => {
    if (!token) return true;
    const presented = bearer(req) ?? cookie(req, TOKEN_COOKIE);
    return presented !== null && safeEqual(presented, token);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      options.log?.(`request failed: ${String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: { code: 'internal', message: 'Internal server error.' } });
      else res.end();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    if (!hostOk(req)) return sendText(res, 421, 'Unexpected Host header.');
    // A browser first opens /?token=T; the token moves into an HttpOnly cookie and out of the URL.
    if (token && url.searchParams.has('token')) {
      if (!safeEqual(url.searchParams.get('token') ?? '', token)) return sendText(res, 401, 'Wrong token.');
      res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
      res.writeHead(303, { Location: url.pathname });
      return void res.end();
    }
    if (!authorized(req)) {
      return sendJson(res, 401, {
        ok: false,
        error: { code: 'unauthorized', message: 'This server needs its token: open the URL printed by `ocular serve`.' },
      });
    }

    if (url.pathname.startsWith('/api/invoke/')) {
      if (req.method !== 'POST') return sendText(res, 405, 'Use POST.');
      if (!originOk(req))
        return sendJson(res, 403, { ok: false, error: { code: 'unauthorized', message: 'Cross-origin request refused.' } });
      const channel = decodeURIComponent(url.pathname.slice('/api/invoke/'.length));
      let payload: unknown;
      try {
        const body = await readBody(req);
        payload = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch (err) {
        if (err instanceof BodyTooLarge) return sendJson(res, 413, { ok: false, error: { code: 'invalid_request', message: err.message } });
        return sendJson(res, 400, {
          ok: false,
          error: { code: 'invalid_request', message: `Request body is not valid JSON: ${String(err)}` },
        });
      }
      const envelope = await backend.invoke(channel, payload);
      const status = envelope.ok ? 200 : statusFor(envelope.error.code);
      return sendJson(res, status, envelope, req);
    }

    if (url.pathname.startsWith('/files/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Use GET.');
      const root = backend.workspaceDir();
      const file = root ? resolveWorkspaceFile(root, url.pathname.slice('/files/'.length)) : null;
      if (!file || !fs.statSync(file).isFile()) return sendText(res, 404, 'Not found.');
      return sendFile(res, file, workspaceFileHeaders(file));
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method not allowed.');
    const wanted = url.pathname === '/' ? 'index.html' : url.pathname;
    const file = resolveInside(options.rendererDir, wanted);
    if (file && fs.statSync(file).isFile() && !/\.(br|gz)$/.test(file)) return sendStatic(req, res, file, url.pathname, pageHeaders(req));
    if (!path.extname(url.pathname)) return sendStatic(req, res, rendererIndex, '/', pageHeaders(req)); // client-side routes
    return sendText(res, 404, 'Not found.');
  }

  function pageHeaders(req: http.IncomingMessage): Record<string, string> {
    return rendererHeaders({ connect: [`ws://${req.headers.host}`] });
  }

  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    if (url.pathname !== '/api/events' || !hostOk(req) || !originOk(req) || !authorized(req)) {
      socket.write('HTTP/1.1 403 Forbidden\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
    });
  });
  const unsubscribe = backend.onEvent((event) => {
    const data = JSON.stringify(event);
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(data);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${shownHost}:${port}/`,
    port,
    host,
    async close() {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}

function statusFor(code: string): number {
  switch (code) {
    case 'invalid_request':
      return 400;
    case 'unauthorized':
      return 401;
    case 'read_only':
      return 403;
    case 'unknown_channel':
    case 'not_found':
      return 404;
    case 'conflict':
    case 'workspace':
      return 409;
    default:
      return 500;
  }
}

class BodyTooLarge extends Error {
  constructor() {
    super(`Request body over ${MAX_BODY_BYTES} bytes (1 MiB): refused.`);
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Drain the rest instead of destroying the socket, so the client reads the 413 and its message.
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, req?: http.IncomingMessage): void {
  const headers = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
  const data = Buffer.from(JSON.stringify(body));
  // Feature lists and pages run to tens of kilobytes: gzip them (fast level) for a lab member on a slow link.
  if (req && data.length > 1024 && accepts(req.headers['accept-encoding'], 'gzip')) {
    const packed = zlib.gzipSync(data, { level: 1 });
    res.writeHead(status, { ...headers, 'Content-Encoding': 'gzip', 'Content-Length': String(packed.length), Vary: 'Accept-Encoding' });
    return void res.end(packed);
  }
  res.writeHead(status, { ...headers, 'Content-Length': String(data.length) });
  res.end(data);
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}

function sendFile(res: http.ServerResponse, file: string, headers: Record<string, string>): void {
  const stat = fs.statSync(file);
  res.writeHead(200, { 'Content-Type': mimeType(file), 'Content-Length': String(stat.size), ...headers });
  fs.createReadStream(file).pipe(res);
}

function bearer(req: http.IncomingMessage): string | null {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : null;
}

function cookie(req: http.IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}
