/**
 * The hostile-input corpus (test/fixtures/hostile/cases.ts, plus the SAE files of sae-hostile.test.ts):
 * dataset folders, model folders, workspace files and HTTP requests, each sent to a served workspace
 * that already holds a dataset and a model. Every case must get a clear one-line error (matching
 * the case's fragment) and leave the served workspace byte-identical (database, WAL and blobs
 * hashed); workspace-file cases must also leave the damaged workspace itself untouched.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Backend } from '../../src-main/core/backend/backend';
import { Workspace } from '../../src-main/core/store/workspace';
import { datasetCases, httpCases, modelCases, workspaceCases, type Case } from '../fixtures/hostile/cases';
import { TINY_LLAVA } from '../helpers/backend';
import { hashTree } from '../helpers/hash-tree';
import { post, startTestServer } from '../helpers/server';
import { taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';

/** The workspace's data: everything but the shared-memory index (-shm changes on reads) and the lock. */
function dataHash(dir: string): string {
  const all = hashTree(dir);
  return JSON.stringify(Object.entries(all).filter(([f]) => !f.endsWith('-shm') && f !== 'workspace.lock'));
}

let server: Awaited<ReturnType<typeof startTestServer>>;
let ws: string;
let png: Buffer;
let jpg: Buffer;

interface Tally {
  cases: number;
  clear: number;
  unchanged: number;
  failures: string[];
}

async function runCases<C extends Case>(
  label: string,
  cases: C[],
  attempt: (c: C) => Promise<string | null>,
  extraCheck?: (c: C) => boolean,
): Promise<Tally> {
  const t: Tally = { cases: 0, clear: 0, unchanged: 0, failures: [] };
  for (const c of cases) {
    t.cases++;
    const before = dataHash(ws);
    let message: string | null;
    try {
      message = await attempt(c);
    } catch (err) {
      message = null;
      t.failures.push(`${label} / ${c.name}: threw ${(err as Error).stack}`);
    }
    if (message === null) t.failures.push(`${label} / ${c.name}: accepted`);
    else if (message.includes('\n') || !c.expect.test(message))
      t.failures.push(`${label} / ${c.name}: unclear error: ${JSON.stringify(message)}`);
    else t.clear++;
    if (dataHash(ws) === before && (extraCheck?.(c) ?? true)) t.unchanged++;
    else t.failures.push(`${label} / ${c.name}: changed a workspace`);
  }
  return t;
}

function request(c: (typeof httpCases)[number]): Promise<{ status: number; body: string }> {
  const url = new URL(server.base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: c.method ?? 'GET',
        path: c.path,
        headers: { ...(c.body ? { 'Content-Type': 'application/json' } : {}), ...c.headers },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(c.body);
  });
}

const totals: Tally[] = [];

async function setUp(): Promise<void> {
  ws = path.join(tmpDir(), 'ws');
  server = await startTestServer({ pinnedWorkspace: ws });
  await post(server.base, 'workspace.create', {});
  const noise = Buffer.from(Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 7919) % 251));
  png = await sharp(noise, { raw: { width: 16, height: 16, channels: 3 } })
    .png()
    .toBuffer();
  jpg = await sharp(noise, { raw: { width: 16, height: 16, channels: 3 } })
    .jpeg()
    .toBuffer();
  const good = tmpDir();
  fs.writeFileSync(path.join(good, 'ok.png'), png);
  fs.writeFileSync(path.join(good, 'items.jsonl'), JSON.stringify({ image: 'ok.png', question: 'q?', answer: 1 }) + '\n');
  expect((await post(server.base, 'datasets.import', { path: good })).body.ok).toBe(true);
  const model = await post(server.base, 'models.add', { path: TINY_LLAVA });
  expect(model.body.error?.message ?? null).toBeNull();
  fs.writeFileSync(path.join(ws, 'blobs', 'shown.png'), png);
  fs.writeFileSync(path.join(path.dirname(ws), 'secret.txt'), 'secret');
}

describe('hostile inputs', () => {
  it('each gets a clear one-line error and leaves the workspace byte-identical; prints cases / clear errors / workspace unchanged', async () => {
    await setUp();
    try {
      {
        const t = await runCases('dataset', datasetCases, async (c) => {
          const dir = path.join(tmpDir(), 'data');
          fs.mkdirSync(dir);
          fs.writeFileSync(path.join(dir, 'ok.png'), png);
          const target = c.build(dir, png, jpg) ?? dir;
          const r = await post(server.base, 'datasets.import', { path: target });
          return r.body.ok ? null : r.body.error!.message;
        });
        totals.push(t);
      }

      {
        const t = await runCases('model', modelCases, async (c) => {
          const dir = path.join(tmpDir(), 'model');
          fs.cpSync(TINY_LLAVA, dir, { recursive: true });
          const target = c.build(dir) ?? dir;
          const r = await post(server.base, 'models.add', { path: target });
          return r.body.ok ? null : r.body.error!.message;
        });
        totals.push(t);
      }

      {
        const hashes = new Map<string, string>();
        const backend = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, configDir: tmpDir() });
        try {
          const t = await runCases(
            'workspace',
            workspaceCases,
            async (c) => {
              const dir = path.join(tmpDir(), 'damaged');
              const w = Workspace.create(dir);
              const insert = w.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
              for (let i = 0; i < 200; i++) insert.run(`row-${i}`, 'x'.repeat(100));
              w.close();
              const target = c.build(dir, path.join(dir, 'workspace.sqlite')) ?? dir;
              hashes.set(c.name, `${dir}|${dataHash(dir)}`);
              const r = await backend.invoke('workspace.open', { path: target });
              return r.ok ? null : r.error.message;
            },
            (c) => {
              const [dir, before] = hashes.get(c.name)!.split('|') as [string, string];
              return dataHash(dir) === before;
            },
          );
          totals.push(t);
        } finally {
          await backend.close();
        }
      }

      {
        const t = await runCases('http', httpCases, async (c) => {
          const r = await request(c);
          if (r.status < 400) return null;
          if (r.status !== c.status) return `status ${r.status}, expected ${c.status}: ${r.body}`.replace(/\n/g, ' ') + '\n';
          try {
            return (JSON.parse(r.body) as { error: { message: string } }).error.message;
          } catch {
            return r.body;
          }
        });
        totals.push(t);
      }

      {
        const saeCases = (
          JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'sae-hostile', 'cases.json'), 'utf8')) as unknown[]
        ).length;
        const sum = (k: 'cases' | 'clear' | 'unchanged') => totals.reduce((n, t) => n + t[k], 0);
        console.log(
          `hostile corpus: ${sum('cases')} cases / ${sum('clear')} clear errors / ${sum('unchanged')} workspace unchanged ` +
            `(datasets, models, workspace files, HTTP), plus ${saeCases} SAE files in sae-hostile.test.ts: ${sum('cases') + saeCases} in all`,
        );
        expect(totals.flatMap((t) => t.failures)).toEqual([]);
        expect(totals).toHaveLength(4);
        expect([sum('clear'), sum('unchanged')]).toEqual([sum('cases'), sum('cases')]);
        expect(sum('cases') + saeCases).toBeGreaterThanOrEqual(150);
      }
    } finally {
      await server.close();
    }
  }, 300_000);
});
