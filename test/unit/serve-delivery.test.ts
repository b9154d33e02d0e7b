/**
 * How `ocular serve` delivers the renderer to a browser on a slow link: brotli or gzip per
 * Accept-Encoding (a build's precompressed sibling when there is one, the same bytes compressed here
 * when not), hashed assets cached for a year, the page itself revalidated, and large API answers
 * gzipped. Decompressed bodies must equal the files byte for byte.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Backend } from '../../src-main/core/backend/backend';
import { startHttpServer, type RunningServer } from '../../src-main/transport/http-server';
import { sessionHostEntry, taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';

let running: { server: RunningServer; backend: Backend } | null = null;
afterEach(async () => {
  await running?.server.close();
  await running?.backend.close();
  running = null;
});

async function serve(files: Record<string, string | Buffer>) {
  const rendererDir = tmpDir('ocular-renderer-');
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(rendererDir, name)), { recursive: true });
    fs.writeFileSync(path.join(rendererDir, name), content);
  }
  const backend = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, sessionHostEntry, configDir: tmpDir() });
  const server = await startHttpServer({ backend, rendererDir, port: 0 });
  running = { server, backend };
  return { base: `http://127.0.0.1:${server.port}`, rendererDir };
}

/** A raw GET (fetch would decompress for us and hide the encoding). */
function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{}' : undefined);
  });
}

describe('delivering the renderer', () => {
  it('compresses by Accept-Encoding, prefers a precompressed sibling, and caches hashed assets for a year', async () => {
    const script = `console.log(${JSON.stringify('x'.repeat(20_000))});`;
    const { base, rendererDir } = await serve({
      'index.html': '<!doctype html><title>Ocular</title>',
      'assets/app-Ab12Cd.js': script,
      'favicon.svg': '<svg/>',
    });
    const br = await get(`${base}/assets/app-Ab12Cd.js`, { 'Accept-Encoding': 'gzip, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(zlib.brotliDecompressSync(br.body).toString()).toBe(script);
    expect(br.body.length).toBeLessThan(script.length / 20);
    const gz = await get(`${base}/assets/app-Ab12Cd.js`, { 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(gz.body).toString()).toBe(script);
    const plain = await get(`${base}/assets/app-Ab12Cd.js`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(script);

    // The page is revalidated (a new build must be seen) and keeps its CSP.
    const page = await get(`${base}/`, { 'Accept-Encoding': 'br' });
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(zlib.brotliDecompressSync(page.body).toString()).toContain('<title>Ocular</title>');

    // A build's precompressed sibling is sent as it is; the sibling itself is never served as a file.
    const sibling = zlib.brotliCompressSync(Buffer.from(script), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
    fs.writeFileSync(path.join(rendererDir, 'assets', 'app-Ab12Cd.js.br'), sibling);
    const pre = await get(`${base}/assets/app-Ab12Cd.js`, { 'Accept-Encoding': 'br' });
    expect(pre.body.equals(sibling)).toBe(true);
    expect((await get(`${base}/assets/app-Ab12Cd.js.br`)).status).toBe(404);
    const head = await get(`${base}/assets/app-Ab12Cd.js`, { 'Accept-Encoding': 'br' }, 'HEAD');
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(String(sibling.length));
  });

  it('gzips large API answers for clients that accept it', async () => {
    const { base } = await serve({ 'index.html': '<!doctype html>' });
    const req = (headers: Record<string, string>) =>
      new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        const r = http.request(
          `${base}/api/invoke/app.info`,
          { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          },
        );
        r.on('error', reject);
        r.end('{}');
      });
    const packed = await req({ 'Accept-Encoding': 'gzip, br' });
    const plain = await req({});
    expect(plain.headers['content-encoding']).toBeUndefined();
    const envelope = JSON.parse(plain.body.toString()) as { ok: boolean };
    expect(envelope.ok).toBe(true);
    expect(plain.body.length).toBeGreaterThan(1024); // app info lists every job kind
    expect(packed.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(packed.body).toString()).toBe(plain.body.toString());
  });
});
