/**
 * What `npm run package:linux` ships, checked without the Electron binary this machine cannot
 * download: electron-builder runs with the real configuration on a stand-in Electron folder (a stub
 * executable carrying Electron's fuse wire), so the app's contents are exactly a real package's.
 * Its afterPack check (build/package-check.mjs) must pass except for the CUDA provider when
 * onnxruntime-node's download was unreachable, and then must refuse the package. The packaged app
 * itself runs: its main process from app.asar (as packaged), backend, pool and job workers, an
 * evaluation of the bundled model. Where a real `npm run package:linux` left dist/linux-unpacked,
 * that output is checked in full instead, fuses included. Also: the builder config, the preload
 * bundle a sandboxed renderer loads, and scripts/ensure-electron.mjs's pieces.
 */
import asar from '@electron/asar';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { repoRoot } from '../helpers/tmp';

const require = createRequire(import.meta.url);
/** The packaging scripts are plain .mjs (run by Node and electron-builder), untyped here. */
const script = (file: string): Promise<any> => import(/* @vite-ignore */ path.join(repoRoot, file));
const { checkFuses, checkPackagedApp } = await script('build/package-check.mjs');
const { buildStamp, isUpToDate, nodeGypArgs, nodedirOption, sourceFilter } = await script('scripts/ensure-electron.mjs');
const { missingCudaProviderFiles } = await script('scripts/cuda-provider.mjs');
const yaml = require('js-yaml') as { load(text: string): any };
const config = yaml.load(fs.readFileSync(path.join(repoRoot, 'build', 'electron-builder.yml'), 'utf8'));
const TARGET = { platform: 'linux', arch: 'x64' } as const;
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';

const scratch = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'ocular-package-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A stand-in for Electron's unpacked distribution: a stub executable holding Electron 39's default fuse wire. */
function standInElectron(dir: string, runAsNode: boolean): string {
  fs.mkdirSync(path.join(dir, 'resources'), { recursive: true });
  // Fuse wire v1: RunAsNode, CookieEncryption, NodeOptions, NodeCliInspect, AsarIntegrity, OnlyLoadAppFromAsar, V8Snapshot, FileProtocol.
  const wire = Buffer.concat([Buffer.from(FUSE_SENTINEL), Buffer.from([1, 8]), Buffer.from(`${runAsNode ? 1 : 0}0110001`)]);
  fs.writeFileSync(path.join(dir, 'electron'), Buffer.concat([Buffer.from('#!/bin/sh\n# '), wire, Buffer.from('\nexit 1\n')]), {
    mode: 0o755,
  });
  fs.writeFileSync(path.join(dir, 'version'), JSON.parse(fs.readFileSync(require.resolve('electron/package.json'), 'utf8')).version);
  fs.writeFileSync(path.join(dir, 'LICENSE'), 'stand-in');
  return dir;
}

describe('electron-builder configuration', () => {
  const minimatch = (require('minimatch') as { minimatch(p: string, g: string, o?: object): boolean }).minimatch;
  const unpacked = (file: string) =>
    config.asarUnpack.some((glob: string) => minimatch(file, glob, { dot: true, matchBase: !glob.includes('/') }));

  it('unpacks every native file and all of onnxruntime from app.asar', () => {
    const natives = (fs.readdirSync(path.join(repoRoot, 'node_modules'), { recursive: true }) as string[])
      .map((f) => `node_modules/${f.split(path.sep).join('/')}`)
      .filter((f) => /\.node$/.test(f) && !f.includes('/test/'));
    expect(natives.length).toBeGreaterThan(5);
    for (const f of natives) expect(unpacked(f), f).toBe(true);
    expect(unpacked('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1')).toBe(true);
    expect(unpacked('node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm')).toBe(true);
  });

  it('keeps the RunAsNode fuse, checks each package after packing, and never rebuilds node_modules in place', () => {
    expect(config.electronFuses?.runAsNode).not.toBe(false);
    expect(config.afterPack).toBe('build/after-pack.cjs');
    expect(config.npmRebuild).toBe(false);
    expect(config.extraResources.find((r: { from: string }) => r.from === 'resources/').filter).toContain('!**/*.ocular-*');
  });
});

describe('the preload bundle', () => {
  it('is CommonJS and requires only what a sandboxed preload may', () => {
    const source = fs.readFileSync(path.join(repoRoot, 'out', 'preload', 'index.cjs'), 'utf8');
    expect(source).not.toMatch(/^\s*(import|export)\s/m);
    const required = [...source.matchAll(/require\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0);
    // Electron's sandboxed preloads get a require() for these modules only.
    for (const name of required) expect(['electron', 'events', 'timers', 'url'], name).toContain(name!.replace(/^node:/, ''));
  });
});

describe('scripts/ensure-electron.mjs', () => {
  it('copies better-sqlite3 from a checkout under any /build/ folder, leaving out only its own build output', () => {
    const src = path.join(scratch, 'build', 'ocular', 'node_modules', 'better-sqlite3');
    fs.mkdirSync(path.join(src, 'build', 'Release'), { recursive: true });
    fs.mkdirSync(path.join(src, 'src'), { recursive: true });
    fs.writeFileSync(path.join(src, 'src', 'better_sqlite3.cpp'), '');
    fs.writeFileSync(path.join(src, 'binding.gyp'), '{}');
    fs.writeFileSync(path.join(src, 'build', 'Release', 'better_sqlite3.node'), '');
    const dest = path.join(scratch, 'copy');
    fs.cpSync(src, dest, { recursive: true, filter: sourceFilter(src) });
    expect(fs.existsSync(path.join(dest, 'src', 'better_sqlite3.cpp'))).toBe(true);
    expect(fs.existsSync(path.join(dest, 'binding.gyp'))).toBe(true);
    expect(fs.existsSync(path.join(dest, 'build'))).toBe(false);
  });

  it('rebuilds when either Electron or better-sqlite3 changes version', () => {
    const out = path.join(scratch, 'native-electron');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'better_sqlite3.node'), '');
    fs.writeFileSync(path.join(out, 'build-stamp.json'), buildStamp({ electron: '39.8.10', betterSqlite3: '12.11.1' }));
    expect(isUpToDate(out, buildStamp({ electron: '39.8.10', betterSqlite3: '12.11.1' }))).toBe(true);
    expect(isUpToDate(out, buildStamp({ electron: '39.8.10', betterSqlite3: '12.12.0' }))).toBe(false);
    expect(isUpToDate(out, buildStamp({ electron: '40.0.0', betterSqlite3: '12.11.1' }))).toBe(false);
  });

  it('compiles against local Electron headers with --nodedir, and downloads them otherwise', () => {
    const headers = path.join(scratch, 'node_headers');
    fs.mkdirSync(path.join(headers, 'include', 'node'), { recursive: true });
    fs.writeFileSync(path.join(headers, 'include', 'node', 'node_api.h'), '');
    expect(nodedirOption(['--nodedir', headers], {})).toBe(headers);
    expect(nodedirOption([`--nodedir=${headers}`], {})).toBe(headers);
    expect(nodedirOption([], { npm_config_nodedir: headers })).toBe(headers);
    expect(nodedirOption([], {})).toBeNull();
    expect(() => nodedirOption(['--nodedir', scratch], {})).toThrow(/not a headers folder/);
    expect(nodeGypArgs({ electronVersion: '39.8.10', nodedir: headers })).toContain(`--nodedir=${headers}`);
    expect(nodeGypArgs({ electronVersion: '39.8.10', nodedir: null })).toContain('--dist-url=https://electronjs.org/headers');
  });
});

describe('the Linux x64 package', () => {
  const real = path.join(repoRoot, 'dist', 'linux-unpacked');
  const isReal = fs.existsSync(path.join(real, 'resources', 'app.asar'));
  const appOutDir = isReal ? real : path.join(scratch, 'dist', 'linux-unpacked');
  const cache = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm', 'onnx', 'decoder_model_merged.ocular-0123abcd.onnx');
  const missingCuda = missingCudaProviderFiles('linux', 'x64');
  let buildError: string | null = null;

  beforeAll(async () => {
    if (isReal) return;
    // An edited-graph cache beside the bundled model, as tests and the app leave them: it must not ship.
    fs.writeFileSync(cache, 'cache');
    try {
      const { build, Platform, Arch } = require('electron-builder');
      const sqlite = path.join(repoRoot, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
      const patched = {
        ...config,
        electronDist: standInElectron(path.join(scratch, 'electron'), true),
        directories: { ...config.directories, output: path.join(scratch, 'dist') },
        // The Electron build of better-sqlite3 needs Electron's headers; its Node build has the same format.
        extraResources: config.extraResources.map((r: { from: string }) =>
          r.from.endsWith('better_sqlite3.node') ? { ...r, from: sqlite } : r,
        ),
      };
      await build({ targets: Platform.LINUX.createTarget('dir', Arch.x64), config: patched, projectDir: repoRoot }).catch((err: Error) => {
        buildError = err.message;
      });
    } finally {
      fs.rmSync(cache, { force: true });
    }
  }, 300_000);

  it('is refused by the afterPack check exactly when the CUDA provider could not be fetched', () => {
    if (isReal || missingCuda.length === 0) return expect(buildError).toBeNull();
    expect(buildError).toMatch(/^The linux\/x64 package is incomplete:/);
    const listed = buildError!.split('\n').slice(1);
    expect(listed).toEqual(missingCuda.map((f: string) => expect.stringContaining(`the CUDA execution provider's ${f} is missing`)));
  });

  it('holds only the target onnxruntime binaries, native code unpacked, no caches, and everything else the check asks for', async () => {
    const problems = checkPackagedApp(appOutDir, TARGET);
    const expected = isReal ? [] : missingCuda.map((f: string) => expect.stringContaining(`the CUDA execution provider's ${f} is missing`));
    expect(problems).toEqual(expected);
    const ortBin = path.join(appOutDir, 'resources', 'app.asar.unpacked', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    expect(fs.readdirSync(ortBin)).toEqual(['linux']);
    expect(fs.readdirSync(path.join(ortBin, 'linux'))).toEqual(['x64']);
    expect(fs.existsSync(path.join(appOutDir, 'resources', 'resources', 'models', 'ocular-demo-vlm', 'onnx', path.basename(cache)))).toBe(
      false,
    );
    expect(await checkFuses(path.join(appOutDir, 'ocular'))).toEqual([]);
  });

  it('the check names a disabled RunAsNode fuse', async () => {
    const stub = standInElectron(path.join(scratch, 'no-run-as-node'), false);
    expect(await checkFuses(path.join(stub, 'electron'))).toEqual([expect.stringMatching(/RunAsNode fuse is disabled/)]);
  });

  it('runs: the packaged main process starts its backend, evaluates the bundled model and says how CUDA comes in a package', async () => {
    const app = path.join(scratch, 'extracted');
    asar.extractAll(path.join(appOutDir, 'resources', 'app.asar'), app);
    vi.resetModules();
    const e = await import('../electron/electron');
    e.app.isPackaged = true;
    e.standin.paths.userData = fs.mkdtempSync(path.join(scratch, 'user-data-'));
    const resourcesPath = (process as { resourcesPath?: string }).resourcesPath;
    (process as { resourcesPath?: string }).resourcesPath = path.join(appOutDir, 'resources');
    try {
      await import(/* @vite-ignore */ path.join(app, 'out', 'main', 'index.js'));
      e.app.emitReady();
      await vi.waitFor(() => expect([e.standin.dialogs, e.BrowserWindow.getAllWindows().length]).toEqual([[], 1]));
      const call = async (channel: string, payload: unknown) => {
        const r = (await e.standin.invoke('ocular://app/index.html', 'ocular:invoke', channel, payload)) as any;
        if (!r.ok) throw new Error(`${channel}: ${r.error.message}`);
        return r.result;
      };
      expect((await e.standin.fetch('ocular://app/index.html')).status).toBe(200);
      await call('workspace.create', { path: path.join(scratch, 'ws') });
      const finished = (id: number) =>
        vi.waitFor(
          async () => {
            const job = await call('jobs.get', { id });
            expect([job.state, job.error]).toEqual(['succeeded', null]);
          },
          { timeout: 120_000, interval: 300 },
        );
      await finished((await call('datasets.synth', { perCell: 1 })).id);
      const [dataset] = await call('datasets.list', {});
      // The bundled model, from the package's resources: preprocessing in a job worker, sessions in the pool.
      const model = await call('models.add', { path: path.join(appOutDir, 'resources', 'resources', 'models', 'ocular-demo-vlm') });
      const started = await call('evals.start', { modelId: model.id, datasetId: dataset.id, maxNewTokens: 4, limit: 6, device: 'cpu' });
      await finished(started.job.id);
      const diagnostics = await call('runtime.diagnostics', {});
      const notes = (diagnostics.notes as string[]).join(' ');
      expect(notes).not.toMatch(/npm run/);
      if (!diagnostics.cudaProviderInstalled)
        expect(notes).toMatch(/missing from this Ocular package; reinstall Ocular from its Linux x64 package/);
    } finally {
      e.app.quit();
      await vi.waitFor(() => expect(e.standin.quitted).toBe(true), { timeout: 15_000 });
      (process as { resourcesPath?: string }).resourcesPath = resourcesPath;
    }
  }, 180_000);
});
