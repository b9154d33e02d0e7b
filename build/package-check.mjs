// What a packaged Ocular must contain, checked on electron-builder's unpacked output (the folder an
// AppImage, deb or NSIS installer is then made from). Run by the afterPack hook (after-pack.cjs), so
// `npm run package:linux` / `package:win` fail instead of shipping a broken app, and by
// test/unit/packaging.test.ts. Returns the problems found, one line each; [] when all is well.
import asar from '@electron/asar';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import fs from 'node:fs';
import path from 'node:path';
import { cudaProviderFiles } from '../scripts/cuda-provider.mjs';

/** Entry points the main process starts (electron.vite.config.ts) and the renderer it loads. */
const APP_FILES = [
  'package.json',
  'out/main/index.js',
  'out/main/backend.js',
  'out/main/job-worker.js',
  'out/main/task-worker.js',
  'out/main/session-host.js',
  'out/preload/index.cjs',
  'out/renderer/index.html',
];
/** onnxruntime-web's Node build and the one WebAssembly runtime it loads (src-main/core/runtime/ort-boundary.ts). */
const ORT_WEB_FILES = ['ort.node.min.js', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
const NATIVE = /\.(node|so(\.\d+)*|dll|dylib|wasm)$/;
/** A fuse's state byte when disabled ('0'; @electron/fuses' FuseState.DISABLE, not exported by it). */
const FUSE_DISABLED = 48;

/** Every file in an asar header, with whether it was left unpacked. */
function asarEntries(archive) {
  const out = [];
  const walk = (node, prefix) => {
    for (const [name, entry] of Object.entries(node.files ?? {})) {
      const rel = prefix ? `${prefix}/${name}` : name;
      if (entry.files) walk(entry, rel);
      else out.push({ path: rel, unpacked: entry.unpacked === true });
    }
  };
  walk(asar.getRawHeader(archive).header, '');
  return out;
}

/** The executable format a native file is in: what it can run on. */
function binaryFormat(file) {
  const head = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 20, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.readUInt32BE(0) === 0x7f454c46) return { platform: 'linux', arch: { 0x3e: 'x64', 0xb7: 'arm64' }[head.readUInt16LE(18)] };
  if (head.toString('latin1', 0, 2) === 'MZ') return { platform: 'win32', arch: null };
  if ([0xcffaedfe, 0xcafebabe].includes(head.readUInt32BE(0))) return { platform: 'darwin', arch: null };
  return { platform: 'unknown', arch: null };
}

function formatProblem(file, { platform, arch }) {
  const found = binaryFormat(file);
  if (found.platform !== platform) return `${file} is a ${found.platform} binary, not ${platform}`;
  if (found.arch && found.arch !== arch) return `${file} is built for ${found.arch}, not ${arch}`;
  return null;
}

function list(dir) {
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

/**
 * @param {string} appOutDir electron-builder's unpacked app folder (dist/linux-unpacked, dist/win-unpacked)
 * @param {{ platform: 'linux' | 'win32', arch: string }} target
 */
export function checkPackagedApp(appOutDir, target) {
  const problems = [];
  const resources = path.join(appOutDir, 'resources');
  const archive = path.join(resources, 'app.asar');
  const unpacked = `${archive}.unpacked`;
  if (!fs.existsSync(archive)) return [`${archive} is missing`];
  const entries = asarEntries(archive);
  const names = new Set(entries.map((e) => e.path));

  for (const f of APP_FILES) if (!names.has(f)) problems.push(`app.asar lacks ${f}`);
  // Native code cannot be loaded from inside an asar archive.
  for (const e of entries.filter((e) => NATIVE.test(e.path))) {
    if (!e.unpacked) problems.push(`${e.path} is inside app.asar: asarUnpack must cover it`);
    else if (!fs.existsSync(path.join(unpacked, e.path))) problems.push(`${e.path} is marked unpacked but missing from app.asar.unpacked`);
  }

  // onnxruntime-node: the target's binaries only, with the CUDA execution provider where one exists.
  const ortBin = path.join(unpacked, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
  for (const p of list(ortBin)) if (p !== target.platform) problems.push(`onnxruntime-node binaries for ${p} are packaged`);
  for (const a of list(path.join(ortBin, target.platform)))
    if (a !== target.arch) problems.push(`onnxruntime-node binaries for ${target.platform}/${a} are packaged`);
  const ortDir = path.join(ortBin, target.platform, target.arch);
  const binding = path.join(ortDir, 'onnxruntime_binding.node');
  if (!fs.existsSync(binding)) problems.push(`onnxruntime-node's binding for ${target.platform}/${target.arch} is missing`);
  else {
    const wrong = formatProblem(binding, target);
    if (wrong) problems.push(wrong);
  }
  for (const f of cudaProviderFiles(target.platform, target.arch))
    if (!fs.existsSync(path.join(ortDir, f))) problems.push(`the CUDA execution provider's ${f} is missing from ${ortDir}`);

  // onnxruntime-web: what transformers.js's processors run on outside the pool, and nothing else of it.
  const webDist = path.join(unpacked, 'node_modules', 'onnxruntime-web', 'dist');
  for (const f of ORT_WEB_FILES) if (!fs.existsSync(path.join(webDist, f))) problems.push(`onnxruntime-web's ${f} is missing`);
  for (const f of list(webDist)) if (!ORT_WEB_FILES.includes(f)) problems.push(`onnxruntime-web's ${f} is packaged but never used`);

  // sharp loads its platform package; better-sqlite3's Electron build ships beside the app.
  const sharp = `sharp-${target.platform}-${target.arch}`;
  if (!list(path.join(unpacked, 'node_modules', '@img')).includes(sharp)) problems.push(`sharp's @img/${sharp} is missing`);
  const sqlite = path.join(resources, 'native', 'better_sqlite3.node');
  if (!fs.existsSync(sqlite)) problems.push(`${sqlite} (better-sqlite3 built for Electron) is missing`);
  else {
    const wrong = formatProblem(sqlite, target);
    if (wrong) problems.push(wrong);
  }
  if ([...names].some((n) => n.startsWith('node_modules/better-sqlite3/build/')))
    problems.push("better-sqlite3's Node build is packaged; the app loads resources/native/better_sqlite3.node");

  // Bundled resources: the demo model, without the caches of graphs edited from it.
  const bundled = path.join(resources, 'resources');
  if (!fs.existsSync(path.join(bundled, 'models', 'ocular-demo-vlm', 'config.json'))) problems.push('the bundled demo model is missing');
  for (const f of fs.existsSync(bundled) ? fs.readdirSync(bundled, { recursive: true }) : [])
    if (String(f).includes('.ocular-')) problems.push(`resources/${f} is an edited-graph cache and must not ship`);
  return problems;
}

/**
 * The Electron binary's fuses: RunAsNode must stay on, since pool processes are started as
 * ELECTRON_RUN_AS_NODE children of the backend (src-main/electron/backend-process.ts).
 */
export async function checkFuses(executable) {
  const wire = await getCurrentFuseWire(executable);
  return wire[FuseV1Options.RunAsNode] === FUSE_DISABLED
    ? [`${executable}: the RunAsNode fuse is disabled, so ONNX Runtime's pool processes cannot start`]
    : [];
}
