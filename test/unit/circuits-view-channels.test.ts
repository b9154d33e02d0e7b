/**
 * The Circuits page's channels through the real backend (zod at the boundary, SQLite jobs, files in
 * the workspace): a saved graph is listed and read re-pruned, its attention by layer, on a read-only
 * server too; bad requests are refused with one line and change nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { contract } from '../../src-main/contract/contract';
import { Backend } from '../../src-main/core/backend/backend';
import { JobStore } from '../../src-main/core/jobs/job-store';
import { layoutOf } from '../../src-main/core/store/layout';
import { Workspace } from '../../src-main/core/store/workspace';
import { randomGraph, savedCircuit } from '../helpers/circuit-docs';
import { taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';

const backends: Backend[] = [];
function make(options: Partial<ConstructorParameters<typeof Backend>[0]> = {}) {
  const b = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, configDir: tmpDir('cfg-'), ...options });
  backends.push(b);
  return b;
}
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
});

/** A workspace holding one saved graph as a succeeded circuit-trace job (job id 1) would leave it. */
async function workspaceWithGraph() {
  const dir = path.join(tmpDir(), 'ws');
  const writer = make({ pinnedWorkspace: dir });
  expect((await writer.invoke('workspace.create', {})).ok).toBe(true);
  await writer.close();
  const doc = savedCircuit(randomGraph(9), 0.95);
  const png = path.join(dir, 'square.png');
  fs.writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  const w = Workspace.open(dir);
  try {
    const jobs = new JobStore(w.db);
    const job = jobs.insert('circuit-trace', { setId: 1, image: png, prompt: doc.prompt, maxFeatureNodes: 1000, nodeThreshold: 0.95 });
    const file = layoutOf(dir).circuit(job.id);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ ...doc, image: png }));
    jobs.finish(job.id, 'succeeded', {
      result: {
        circuitId: job.id,
        file,
        method: doc.method,
        nodes: doc.nodes.length,
        edges: doc.edges.length,
        target: doc.target.text,
        outputValue: doc.outputValue,
        seconds: doc.seconds,
      },
    });
  } finally {
    w.close();
  }
  return { dir, doc };
}

describe('circuits channels', () => {
  it('list, read re-pruned and read attention on a read-only server; the response never holds the pruned-away graph', async () => {
    const { dir, doc } = await workspaceWithGraph();
    const b = make({ pinnedWorkspace: dir, readOnly: true });
    b.openPinnedIfPresent();
    const list = await b.invoke('circuits.list', {});
    expect(list.ok && contract['circuits.list'].response.parse(list.result)).toEqual([
      expect.objectContaining({ id: 1, setId: 1, target: 'red', method: 'linearised-backward', nodes: doc.nodes.length }),
    ]);
    const full = await b.invoke('circuits.get', { id: 1 });
    const small = await b.invoke('circuits.get', { id: 1, share: 0.3 });
    const f = contract['circuits.get'].response.parse(full.ok && full.result);
    const s = contract['circuits.get'].response.parse(small.ok && small.result);
    expect([f.share, s.share, s.savedShare]).toEqual([0.95, 0.3, 0.95]);
    expect(s.nodes.filter((n) => n.kind === 'feature').length).toBeLessThan(f.nodes.filter((n) => n.kind === 'feature').length);
    expect(s.edges.length).toBeLessThan(f.edges.length);
    expect(f.image).toMatch(/^data:image\/png;base64,/);
    // Features of a transcoder no analysis covers have no page to open.
    expect(f.nodes.filter((n) => n.kind === 'feature').every((n) => n.analysisId === null)).toBe(true);
    // A graph saved without token ids and cumulative influence cannot be exported for Neuronpedia: refused by name.
    const np = await b.invoke('circuits.exportNeuronpedia', { id: 1 });
    expect(!np.ok && np.error.message).toMatch(/saved before token ids and cumulative influence were recorded; trace it again/);
    const att = await b.invoke('circuits.attention', { id: 1, layer: 2 });
    expect(att.ok && att.result).toEqual({ maps: doc.attention.layers[2] });

    const refused = [
      await b.invoke('circuits.get', { id: 1, share: 0.99 }),
      await b.invoke('circuits.get', { id: 2 }),
      await b.invoke('circuits.get', { id: 1, share: 0 }),
      await b.invoke('circuits.attention', { id: 1, layer: 7 }),
      await b.invoke('circuits.trace', { setId: 1, image: { kind: 'item', datasetId: 1, itemId: 1 }, prompt: 'colour?' }),
    ];
    expect(refused.map((r) => !r.ok && r.error.code)).toEqual([
      'invalid_request',
      'not_found',
      'invalid_request',
      'invalid_request',
      'read_only',
    ]);
    expect(!refused[0]!.ok && refused[0]!.error.message).toMatch(/saved with the features carrying 95% of the influence/);
  });

  it('refuses a trace of an unknown set or a non-image upload before anything is written', async () => {
    const { dir } = await workspaceWithGraph();
    const b = make({ pinnedWorkspace: dir });
    b.openPinnedIfPresent();
    const before = fs.readdirSync(path.join(dir, 'blobs', 'circuits'));
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>').toString('base64');
    const r = await b.invoke('circuits.trace', { setId: 4, image: { kind: 'upload', data: svg }, prompt: 'colour?' });
    expect(!r.ok && r.error.message).toMatch(/set|transcoder/i);
    const bad = await b.invoke('circuits.trace', { setId: 4, image: { kind: 'upload', data: 'not base64!' }, prompt: 'x' });
    expect(!bad.ok && bad.error.code).toBe('invalid_request');
    expect(fs.readdirSync(path.join(dir, 'blobs', 'circuits'))).toEqual(before);
    const jobs = await b.invoke('jobs.list', { limit: 10 });
    expect(jobs.ok && (jobs.result as unknown[]).length).toBe(1);
  });
});
