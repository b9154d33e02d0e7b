/**
 * A harvest refused by its disk estimate changes nothing: the estimate runs before the model is
 * registered or the dataset imported, so the workspace stays byte-identical (database and blobs
 * hashed). The free-space figure comes from OCULAR_FREE_DISK_BYTES, which replaces statfs for this
 * check only (core/harvest/estimate.ts), so no disk has to be filled.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { freeDiskBytes } from '../../src-main/core/harvest/estimate';
import { runCli } from '../helpers/cli';
import { hashTree } from '../helpers/hash-tree';
import { repoRoot, tmpDir } from '../helpers/tmp';

const DEMO = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm');

/**
 * The workspace hashed file by file, the database with its header's file change counter (bytes 24-27)
 * and version-valid-for number (92-95) zeroed: every read-write open and close of a workspace switches
 * WAL -> rollback journal (Workspace.close), which bumps those two counters without changing a page's
 * content. Every other byte of the database and every blob must be as before.
 */
function workspaceHash(ws: string): Record<string, string> {
  const all = hashTree(ws);
  const db = Buffer.from(fs.readFileSync(path.join(ws, 'workspace.sqlite')));
  db.fill(0, 24, 28).fill(0, 92, 96);
  all['workspace.sqlite'] = createHash('sha256').update(db).digest('hex');
  return all;
}

describe('harvest disk estimate', () => {
  it('OCULAR_FREE_DISK_BYTES replaces the free-space figure; anything else there is ignored', () => {
    const saved = process.env.OCULAR_FREE_DISK_BYTES;
    try {
      process.env.OCULAR_FREE_DISK_BYTES = '1234';
      expect(freeDiskBytes(tmpDir())).toBe(1234);
      process.env.OCULAR_FREE_DISK_BYTES = 'lots';
      expect(freeDiskBytes(tmpDir())).toBeGreaterThan(1234); // statfs again
    } finally {
      if (saved === undefined) delete process.env.OCULAR_FREE_DISK_BYTES;
      else process.env.OCULAR_FREE_DISK_BYTES = saved;
    }
  });

  it('a harvest refused for space registers no model, imports no dataset and leaves the workspace byte-identical', async () => {
    const root = tmpDir();
    const ws = path.join(root, 'ws');
    const bench = path.join(root, 'bench');
    expect((await runCli(['dataset', 'synth', '--out', bench, '--seed', '1', '--per-cell', '1'])).code).toBe(0);
    expect((await runCli(['workspace', 'create', ws])).code).toBe(0);
    const before = workspaceHash(ws);
    const args = [
      'harvest',
      '--workspace',
      ws,
      '--model',
      DEMO,
      '--dataset',
      bench,
      '--tap',
      'blocks.0.hook_resid_post',
      '--device',
      'cpu',
    ];
    const res = await runCli(args, 60_000, { ...process.env, OCULAR_FREE_DISK_BYTES: '1000' });
    expect(res.code).not.toBe(0);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/needs about \d+\.\d\d GB but the workspace disk has 0\.00 GB free; nothing was registered or imported/);
    expect(workspaceHash(ws)).toEqual(before);
    const db = new Database(path.join(ws, 'workspace.sqlite'), { readonly: true });
    try {
      for (const table of ['models', 'datasets', 'dataset_items', 'harvests', 'jobs'])
        expect(db.prepare(`SELECT count(*) AS n FROM ${table}`).get(), table).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  }, 120_000);
});
