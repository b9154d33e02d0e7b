/**
 * The Hub download job against a loopback server that speaks the Hub's listing and resolve routes,
 * with Range support and a slow mode so a download can be cancelled mid-file and resumed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobRunner } from '../../src-main/core/jobs/job-runner';
import { selectFiles } from '../../src-main/core/jobs/kinds/model-download';
import { Workspace } from '../../src-main/core/store/workspace';
import { isFinished, waitForJob } from '../helpers/jobs';
import { tmpDir, workerEntry } from '../helpers/tmp';

const FILES: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type":"llava"}'),
  'tokenizer.json': Buffer.from('{}'),
  'onnx/vision_encoder.onnx': crypto.randomBytes(3000),
  'onnx/embed_tokens.onnx': crypto.randomBytes(2000),
  'onnx/decoder_model_merged.onnx': crypto.randomBytes(4000),
  'onnx/decoder_model_merged.onnx_data': crypto.randomBytes(2 * 1024 * 1024),
  'onnx/decoder_model_merged_q4.onnx': crypto.randomBytes(100),
  'README.md': Buffer.from('# not needed'),
};

const servers: http.Server[] = [];
const opened: Array<{ ws: Workspace; runner: JobRunner }> = [];
afterEach(async () => {
  for (const { ws, runner } of opened.splice(0)) {
    await runner.shutdown();
    ws.close();
  }
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

function hub(options: { slow?: boolean } = {}) {
  const ranges: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/api/models/tiny/vlm/revision/main') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ siblings: Object.keys(FILES).map((rfilename) => ({ rfilename })) }));
    }
    const m = /^\/tiny\/vlm\/resolve\/main\/(.+)$/.exec(url.pathname);
    const body = m ? FILES[m[1]!] : undefined;
    if (!body) {
      res.writeHead(404);
      return res.end();
    }
    let start = 0;
    const range = req.headers.range;
    if (range) {
      ranges.push(range);
      start = Number(/bytes=(\d+)-/.exec(range)![1]);
      res.writeHead(206, {
        'Content-Length': String(body.length - start),
        'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else res.writeHead(200, { 'Content-Length': String(body.length) });
    if (req.method === 'HEAD') return res.end();
    if (!options.slow) return res.end(body.subarray(start));
    let at = start;
    const tick = setInterval(() => {
      if (res.destroyed) return clearInterval(tick);
      res.write(body.subarray(at, Math.min(at + 64 * 1024, body.length)));
      at += 64 * 1024;
      if (at >= body.length) {
        clearInterval(tick);
        res.end();
      }
    }, 30);
    res.on('close', () => clearInterval(tick));
  });
  servers.push(server);
  return new Promise<{ endpoint: string; ranges: string[] }>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ranges })),
  );
}

function runner(dir = tmpDir()) {
  const ws = fs.existsSync(path.join(dir, 'workspace.sqlite')) ? Workspace.open(dir) : Workspace.create(dir);
  const r = new JobRunner(ws, { workerEntry, progressIntervalMs: 0 });
  opened.push({ ws, runner: r });
  return { runner: r, dir, ws };
}

describe('model download from the Hub', () => {
  it('picks the config, tokenizer and graph files of one dtype, with their external weights', () => {
    expect(selectFiles(Object.keys(FILES), 'fp32').sort()).toEqual(
      [
        'config.json',
        'onnx/decoder_model_merged.onnx',
        'onnx/decoder_model_merged.onnx_data',
        'onnx/embed_tokens.onnx',
        'onnx/vision_encoder.onnx',
        'tokenizer.json',
      ].sort(),
    );
    expect(selectFiles(Object.keys(FILES), 'q4')).toContain('onnx/decoder_model_merged_q4.onnx');
  });

  it('downloads the needed files intact and atomically', async () => {
    const { endpoint } = await hub();
    const { runner: r } = runner();
    const dest = path.join(tmpDir(), 'tiny-vlm');
    const job = r.start('model-download', { repo: 'tiny/vlm', dest, endpoint });
    const done = await waitForJob(r, job.id, isFinished);
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    for (const f of selectFiles(Object.keys(FILES), 'fp32')) expect(fs.readFileSync(path.join(dest, f)).equals(FILES[f]!)).toBe(true);
    expect(fs.existsSync(path.join(dest, 'README.md'))).toBe(false);
    expect(fs.readdirSync(path.join(dest, 'onnx')).some((f) => f.endsWith('.part'))).toBe(false);
  });

  it('cancelled mid-file, then resumed with a Range request, ends with identical files', async () => {
    const { endpoint, ranges } = await hub({ slow: true });
    const { runner: r } = runner();
    const dest = path.join(tmpDir(), 'tiny-vlm');
    const job = r.start('model-download', { repo: 'tiny/vlm', dest, endpoint });
    await waitForJob(r, job.id, (j) => j.progress > 0.2 && (j.message ?? '').includes('onnx_data'));
    r.cancel(job.id);
    expect((await waitForJob(r, job.id, isFinished)).state).toBe('cancelled');
    const part = path.join(dest, 'onnx', 'decoder_model_merged.onnx_data.part');
    const partial = fs.statSync(part).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(FILES['onnx/decoder_model_merged.onnx_data']!.length);
    r.resume(job.id);
    const done = await waitForJob(r, job.id, isFinished, 60_000);
    expect(done.state).toBe('succeeded');
    expect(ranges.some((h) => h === `bytes=${partial}-`)).toBe(true);
    expect(
      fs.readFileSync(path.join(dest, 'onnx', 'decoder_model_merged.onnx_data')).equals(FILES['onnx/decoder_model_merged.onnx_data']!),
    ).toBe(true);
  });

  it('names the problem when the repository is not an onnx-community VLM export', async () => {
    const { endpoint } = await hub();
    const { runner: r } = runner();
    const job = r.start('model-download', { repo: 'tiny/vlm', dtype: 'fp16', dest: tmpDir(), endpoint });
    const done = await waitForJob(r, job.id, isFinished);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/has no onnx\/decoder_model_merged_fp16.onnx/);
  });
});

describe('ocular model download', () => {
  it('downloads through the CLI and inspects as a model folder layout', async () => {
    const { runCli } = await import('../helpers/cli');
    const { endpoint } = await hub();
    const out = path.join(tmpDir(), 'models', 'tiny-vlm');
    const res = await runCli(['model', 'download', 'tiny/vlm', '--out', out, '--endpoint', endpoint]);
    expect(res.stderr).toMatch(/100%/);
    expect(res.code).toBe(0);
    expect(
      fs.readFileSync(path.join(out, 'onnx', 'decoder_model_merged.onnx_data')).equals(FILES['onnx/decoder_model_merged.onnx_data']!),
    ).toBe(true);
  });
});
