/**
 * The session pool runs ONNX Runtime in separate processes. This test is the basis of that choice
 * (docs/ARCHITECTURE.md): several sessions run concurrently in other processes with results equal
 * to an in-process run, and a host killed mid-run fails only its own call — with the cause — and is
 * replaced, while the caller's process carries on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { floatTensor, graph, model, node, valueInfo } from '../../src-main/core/onnx/builder';
import { writeModel } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';
import { SessionCrashed, SessionHostFailed, SessionPool } from '../../src-main/core/runtime/session-pool';
import { maxAbsDiff, runModel } from '../helpers/ort';
import { mulberry32, randn, tinyTransformer } from '../helpers/tiny-transformer';
import { sessionHostEntry, tmpDir } from '../helpers/tmp';

const pools: SessionPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});
function pool(size: number) {
  const p = new SessionPool({ hostEntry: sessionHostEntry, size });
  pools.push(p);
  return p;
}

/** A model that takes seconds: 120 chained 1024x1024 matrix products (~260 GFLOP). */
function slowModel(file: string) {
  const n = 1024;
  const w = floatTensor('W', [n, n], randn(mulberry32(1), n * n, 1 / Math.sqrt(n)));
  const nodes = Array.from({ length: 120 }, (_, i) =>
    node('MatMul', [i === 0 ? 'x' : `h${i - 1}`, 'W'], [i === 119 ? 'y' : `h${i}`], `mm${i}`),
  );
  writeModel(model(graph('slow', nodes, [valueInfo('x', DataType.FLOAT, [n, n])], [valueInfo('y', DataType.FLOAT, [n, n])], [w])), file);
}

describe('SessionPool (ONNX Runtime in child processes)', () => {
  it('runs several sessions concurrently in other processes, matching an in-process run', async () => {
    const dir = tmpDir();
    const files = [0, 1, 2].map((i) => {
      const f = path.join(dir, `m${i}.onnx`);
      writeModel(tinyTransformer({ layers: 2, d: 16, seed: 100 + i }).model, f);
      return f;
    });
    const p = pool(3);
    const pids = await p.pids();
    expect(new Set(pids).size).toBe(3);
    expect(pids).not.toContain(process.pid);
    const handles = await Promise.all(files.map((f) => p.load(f, 'cpu')));
    expect(new Set(handles.map((h) => h.host)).size).toBe(3); // spread over the hosts
    expect(handles.every((h) => h.executionProvider === 'cpu' && h.fallbackReason === null)).toBe(true);
    expect(await p.load(files[0]!, 'cpu')).toBe(handles[0]); // reused, not reloaded

    const x = randn(mulberry32(4), 2 * 7 * 16, 1);
    const expected = await Promise.all(files.map((f) => runModel(f, { inputs_embeds: { dims: [2, 7, 16], data: x } })));
    const runs = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        p.run(handles[i % 3]!, { inputs_embeds: { type: 'float32', dims: [2, 7, 16], data: x } }).then((out) => ({ i, out })),
      ),
    );
    for (const { i, out } of runs) expect(maxAbsDiff(out.logits!.data as Float32Array, expected[i % 3]!.logits!.data)).toBe(0);
  });

  it('reports why a session asked to use the GPU runs on CPU, never silently', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'm.onnx');
    writeModel(tinyTransformer({ layers: 1 }).model, f);
    const p = pool(1);
    const diagnostics = await p.diagnostics();
    const handle = await p.load(f, 'auto');
    if (!diagnostics.cudaProviderInstalled) {
      expect(handle.executionProvider).toBe('cpu');
      expect(handle.fallbackReason).toMatch(/CUDA execution provider is not installed/);
      expect((await p.diagnostics()).fallbacks).toEqual([{ modelPath: f, reason: handle.fallbackReason }]);
      await expect(p.load(f, 'cuda')).rejects.toThrow(/Cannot create a CUDA session: the CUDA execution provider is not installed/);
      expect(diagnostics.notes.join(' ')).toMatch(/npm run setup:cuda/);
    } else {
      expect(handle.executionProvider === 'cuda' || handle.fallbackReason !== null).toBe(true);
    }
    expect(diagnostics.pid).not.toBe(process.pid);
    expect(diagnostics.onnxruntimeVersion).toMatch(/^\d+\.\d+/);
  });

  it('a host killed mid-run fails that call with the cause, is restarted, and the pool keeps working', async () => {
    const dir = tmpDir();
    const slow = path.join(dir, 'slow.onnx');
    slowModel(slow);
    const quick = path.join(dir, 'quick.onnx');
    writeModel(tinyTransformer({ layers: 1 }).model, quick);
    const p = pool(2);
    const crashes: Array<{ cause: string; lostSessions: string[] }> = [];
    p.on('crash', (c) => crashes.push(c));
    const slowHandle = await p.load(slow, 'cpu');
    const quickHandle = await p.load(quick, 'cpu');
    expect(slowHandle.host).not.toBe(quickHandle.host);
    const victim = (await p.pids())[slowHandle.host]!;

    const x = randn(mulberry32(2), 1024 * 1024, 1);
    const pending = p.run(slowHandle, { x: { type: 'float32', dims: [1024, 1024], data: x } });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(victim, 'SIGKILL');
    await expect(pending).rejects.toThrow(SessionCrashed);
    await expect(pending).rejects.toThrow(/killed by SIGKILL/);
    expect(crashes).toHaveLength(1);
    expect(crashes[0]!.lostSessions).toEqual([slow]);

    // The other host was untouched; the crashed slot has a new process; stale handles say so.
    const e = randn(mulberry32(3), 16, 1);
    await expect(p.run(quickHandle, { inputs_embeds: { type: 'float32', dims: [1, 1, 16], data: e } })).resolves.toHaveProperty('logits');
    const pids = await p.pids();
    expect(pids).not.toContain(victim);
    await expect(p.run(slowHandle, { x: { type: 'float32', dims: [1024, 1024], data: x } })).rejects.toThrow(
      /lost when its ONNX Runtime process crashed/,
    );
    const reloaded = await p.load(slow, 'cpu');
    const out = await p.run(reloaded, { x: { type: 'float32', dims: [1024, 1024], data: x } });
    expect(out.y!.dims).toEqual([1024, 1024]);
  });

  it("starts a slot's process only when the slot is first needed", async () => {
    const dir = tmpDir();
    const files = [0, 1].map((i) => {
      const f = path.join(dir, `m${i}.onnx`);
      writeModel(tinyTransformer({ layers: 1, seed: 200 + i }).model, f);
      return f;
    });
    const p = pool(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(hostChildren()).toHaveLength(0);
    const first = await p.load(files[0]!, 'cpu');
    expect(hostChildren()).toEqual([first.pid]);
    const second = await p.load(files[1]!, 'cpu');
    expect(second.host).not.toBe(first.host);
    expect(hostChildren().sort()).toEqual([first.pid, second.pid].sort());
  });

  it('frees a model in its host when released', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'm.onnx');
    writeModel(tinyTransformer({ layers: 1 }).model, f);
    const p = pool(1);
    const first = await p.load(f, 'cpu');
    await p.releaseModel(f);
    const second = await p.load(f, 'cpu');
    expect(second.sessionId).not.toBe(first.sessionId);
  });
});

/** Session-host processes that are children of this process (from /proc). */
function hostChildren(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === process.pid && fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(path.basename(sessionHostEntry));
      } catch {
        return false; // gone between listing and reading
      }
    })
    .map(Number);
}

/** A pool host that dies before it is ready, as one whose onnxruntime library fails to load would; it counts its starts. */
function dyingHost(dir: string): { entry: string; starts: () => number } {
  const entry = path.join(dir, 'dying-host.mjs');
  const log = path.join(dir, 'starts.log');
  fs.writeFileSync(
    entry,
    `import fs from 'node:fs';
fs.appendFileSync(${JSON.stringify(log)}, 'start\\n');
process.stderr.write('Error: libonnxruntime.so.1: cannot open shared object file: No such file or directory\\n');
process.exit(3);
`,
  );
  return { entry, starts: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0) };
}

/** Fails instead of hanging: the old pool never settled these promises. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms))]);
}

describe('SessionPool when a host dies before it is ready', () => {
  it('fails the waiting calls with its stderr, retries with a growing delay and gives up', async () => {
    const host = dyingHost(tmpDir());
    const p = new SessionPool({ hostEntry: host.entry, size: 1, restart: { firstDelayMs: 50, maxDelayMs: 200, maxFailedStarts: 4 } });
    pools.push(p);
    const first = within(p.pids(), 5000);
    await expect(first).rejects.toThrow(SessionHostFailed);
    await expect(first).rejects.toThrow(/exited with code 3 before it was ready; retrying in 0.05 s/);
    await expect(first).rejects.toThrow(/libonnxruntime\.so\.1: cannot open shared object file/);
    // 50 + 100 + 200 ms of backoff, then no more starts.
    await new Promise((r) => setTimeout(r, 1500));
    expect(host.starts()).toBe(4);
    await expect(within(p.diagnostics(), 5000)).rejects.toThrow(/gave up after 4 failed starts\. Its last output:\nError: libonnxruntime/);
    await expect(within(p.load('/nowhere/model.onnx', 'cpu'), 5000)).rejects.toThrow(/gave up after 4 failed starts/);
    await new Promise((r) => setTimeout(r, 500));
    expect(host.starts()).toBe(4);
  });

  it('stops retrying when closed', async () => {
    const host = dyingHost(tmpDir());
    const p = new SessionPool({ hostEntry: host.entry, size: 2, restart: { firstDelayMs: 300, maxDelayMs: 300, maxFailedStarts: 10 } });
    await expect(within(p.pids(), 5000)).rejects.toThrow(SessionHostFailed);
    await expect.poll(() => host.starts()).toBe(2);
    await p.close();
    await new Promise((r) => setTimeout(r, 800));
    expect(host.starts()).toBe(2);
  });
});
