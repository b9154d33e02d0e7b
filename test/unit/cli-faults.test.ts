/**
 * The CLI meets a machine fault or a wrong place on disk with one line on stderr and an exit code,
 * never a stack trace (issue 14: a port in use, `selftest` on a locked workspace, `export --out`
 * naming a file, a corrupt database).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DB_FILE, LOCK_FILE, Workspace } from '../../src-main/core/store/workspace';
import { runCli } from '../helpers/cli';
import { hashTree } from '../helpers/hash-tree';
import { tmpDir } from '../helpers/tmp';

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

describe('CLI faults get one line', () => {
  it('selftest on a workspace another live process holds', async () => {
    const ws = Workspace.create(path.join(tmpDir(), 'ws'));
    ws.close();
    // pid 1 is alive on every machine: the lock is live, as if another Ocular had the workspace open.
    fs.writeFileSync(path.join(ws.dir, LOCK_FILE), JSON.stringify({ pid: 1, host: os.hostname(), openedAt: 'now' }));
    const before = hashTree(ws.dir);
    const r = await runCli(['selftest', '--workspace', ws.dir, '--steps', '1']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^ocular selftest: The workspace .* is already open in another Ocular process \(pid 1/);
    expect(hashTree(ws.dir)).toEqual(before);
  });

  it('serve on a port already in use', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['serve', '--workspace', path.join(tmpDir(), 'ws'), '--port', String(port)]);
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toBe(
        `ocular serve: port ${port} on 127.0.0.1 is already in use (another \`ocular serve\`?): choose another with --port N, or --port 0 for any free port.`,
      );
    } finally {
      holder.close();
    }
  });

  it('export --out naming a file', async () => {
    const ws = Workspace.create(path.join(tmpDir(), 'ws'));
    ws.close();
    const file = path.join(tmpDir(), 'a-file');
    fs.writeFileSync(file, 'keep me');
    const r = await runCli(['export', 'neuronpedia', '-w', ws.dir, '--analysis', '1', '--model-id', 'm', '--source', 's', '--out', file]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe(`ocular export: --out ${file} is a file; export writes a folder.`);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('workspace check on a corrupt database, quick and --full', async () => {
    const ws = Workspace.create(path.join(tmpDir(), 'ws'));
    const insert = ws.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    for (let i = 0; i < 400; i++) insert.run(`filler-${i}`, 'x'.repeat(200));
    const leaf = ws.db.prepare("SELECT max(pageno) FROM dbstat WHERE name = 'meta' AND pagetype = 'leaf'").pluck().get() as number;
    const pageSize = Number(ws.db.pragma('page_size', { simple: true }));
    ws.close();
    const fd = fs.openSync(path.join(ws.dir, DB_FILE), 'r+');
    fs.writeSync(fd, Buffer.from([0x00]), 0, 1, (leaf - 1) * pageSize);
    fs.closeSync(fd);
    const before = hashTree(ws.dir);
    const quick = await runCli(['workspace', 'check', ws.dir]);
    expect(quick.code).toBe(2);
    expect(oneLine(quick.stderr)).toMatch(/^ocular workspace: .* is corrupt \(.+\); it was left untouched/);
    const full = await runCli(['workspace', 'check', '--full', ws.dir]);
    expect(full.code).toBe(2);
    expect(oneLine(full.stderr)).toMatch(/^ocular workspace: integrity_check found \d+ problems? in /);
    expect(hashTree(ws.dir)).toEqual(before);
  });
});
