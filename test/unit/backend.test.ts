import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { contract } from '../../src-main/contract/contract';
import { Backend } from '../../src-main/core/backend/backend';
import { gemmaGraphsDir, taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';

const backends: Backend[] = [];
function make(options: Partial<ConstructorParameters<typeof Backend>[0]> = {}) {
  const b = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, configDir: tmpDir('cfg-'), ...options });
  backends.push(b);
  return b;
}
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
});

describe('Backend dispatch (the contract boundary)', () => {
  it('rejects unknown channels and invalid payloads with clear errors', async () => {
    const b = make();
    expect(await b.invoke('fs.readFile', {})).toEqual({
      ok: false,
      error: { code: 'unknown_channel', message: 'Unknown channel "fs.readFile".' },
    });
    const bad = await b.invoke('jobs.get', { id: 'seven' });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.code).toBe('invalid_request');
    expect(!bad.ok && bad.error.message).toMatch(/Invalid request for 'jobs.get': id:/);
    const extra = await b.invoke('app.info', { sneaky: true });
    expect(!extra.ok && extra.error.code).toBe('invalid_request');
  });

  it('answers every response in the shape its schema declares', async () => {
    const b = make();
    const dir = path.join(tmpDir(), 'ws');
    const created = await b.invoke('workspace.create', { path: dir });
    expect(created.ok).toBe(true);
    contract['workspace.create'].response.parse(created.ok && created.result);
    const started = await b.invoke('jobs.start', { kind: 'selftest', params: { steps: 1, stepMs: 0 } });
    contract['jobs.start'].response.parse(started.ok && started.result);
    const info = await b.invoke('app.info', {});
    const parsed = contract['app.info'].response.parse(info.ok && info.result);
    expect(parsed.workspace?.path).toBe(dir);
    expect(parsed.jobKinds.map((k) => k.kind)).toContain('selftest');
    const recent = await b.invoke('workspace.recent', {});
    expect(recent.ok && (recent.result as Array<{ path: string }>)[0]?.path).toBe(dir);
  });

  it('refuses every mutating channel in read-only mode and allows reads', async () => {
    const dir = path.join(tmpDir(), 'ws');
    const writer = make({ pinnedWorkspace: dir });
    await writer.invoke('workspace.create', {});
    await writer.close();
    const b = make({ pinnedWorkspace: dir, readOnly: true });
    b.openPinnedIfPresent();
    for (const [name, def] of Object.entries(contract)) {
      if (!def.mutates) continue;
      const res = await b.invoke(name, {});
      expect(res).toEqual({
        ok: false,
        error: { code: 'read_only', message: `This workspace is open read-only: '${name}' would change it and was refused.` },
      });
    }
    const list = await b.invoke('jobs.list', {});
    expect(list.ok).toBe(true);
  });

  it('a pinned backend only acts on its own folder', async () => {
    const dir = path.join(tmpDir(), 'ws');
    const b = make({ pinnedWorkspace: dir });
    const other = await b.invoke('workspace.create', { path: tmpDir() });
    expect(!other.ok && other.error.message).toMatch(/pinned to the workspace/);
    const mine = await b.invoke('workspace.create', {});
    expect(mine.ok && (mine.result as { path: string }).path).toBe(dir);
  });

  it('reports a corrupt pinned workspace through app.info instead of failing to start', async () => {
    const dir = tmpDir();
    (await import('node:fs')).writeFileSync(path.join(dir, 'workspace.sqlite'), 'garbage'.repeat(50));
    const b = make({ pinnedWorkspace: dir });
    b.openPinnedIfPresent();
    const info = await b.invoke('app.info', {});
    expect(info.ok && (info.result as { workspaceError: string }).workspaceError).toMatch(/is not a SQLite database/);
  });
});

describe('model registry channels', () => {
  const GEMMA = gemmaGraphsDir();

  it('adds a model folder with its report, lists, refuses duplicates and unusable folders, removes', async () => {
    const b = make();
    await b.invoke('workspace.create', { path: path.join(tmpDir(), 'ws') });
    const added = await b.invoke('models.add', { path: GEMMA, name: 'gemma-3-4b-it' });
    expect(added.ok).toBe(true);
    const record = contract['models.add'].response.parse(added.ok && added.result);
    expect(record.report.components.find((c) => c.role === 'decoder')!.tower).toMatchObject({ layers: 34, width: 2560 });
    const dup = await b.invoke('models.add', { path: GEMMA });
    expect(!dup.ok && dup.error.message).toMatch(/already registered/);
    const empty = await b.invoke('models.add', { path: tmpDir() });
    expect(!empty.ok && empty.error.message).toMatch(/is not a model folder/);
    const list = await b.invoke('models.list', {});
    expect(list.ok && (list.result as unknown[]).length).toBe(1);
    const info = await b.invoke('app.info', {});
    expect(info.ok && (info.result as { workspace: { counts: { models: number } } }).workspace.counts.models).toBe(1);
    expect(await b.invoke('models.remove', { id: record.id })).toEqual({ ok: true, result: { removed: true } });
  });
});

describe('hub download channel', () => {
  it('downloads into the workspace only, and jobs.start cannot aim the download elsewhere', async () => {
    const b = make();
    const ws = path.join(tmpDir(), 'ws');
    await b.invoke('workspace.create', { path: ws });
    const refused = await b.invoke('jobs.start', { kind: 'model-download', params: { repo: 'a/b', dest: '/etc' } });
    expect(!refused.ok && refused.error.message).toMatch(/started by their own command/);
    const bad = await b.invoke('models.download', { repo: '../../etc' });
    expect(!bad.ok && bad.error.code).toBe('invalid_request');
    const started = await b.invoke('models.download', { repo: 'onnx-community/tiny', dtype: 'q4' });
    expect(started.ok).toBe(true);
    const job = contract['models.download'].response.parse(started.ok && started.result);
    expect(job.params).toMatchObject({ repo: 'onnx-community/tiny', dtype: 'q4', dest: path.join(ws, 'models', 'onnx-community', 'tiny') });
    await b.invoke('jobs.cancel', { id: job.id });
  });
});
