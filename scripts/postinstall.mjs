// Runs after `npm ci` / `npm install`. onnxruntime-node's own install step (which downloads the CUDA
// execution provider on Linux x64) is disabled in package.json/.npmrc because it fails the whole
// install wherever its download host is unreachable. Here we fetch CUDA only when an NVIDIA GPU is
// present, and on any failure continue on CPU with a one-line notice. Never fails the install.
//
//   node scripts/postinstall.mjs               automatic: CUDA only if a GPU is detected
//   node scripts/postinstall.mjs --retry-cuda  (npm run setup:cuda) try the CUDA download now
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { buildNative } from './build-native.mjs';
import { missingCudaProviderFiles } from './cuda-provider.mjs';

const require = createRequire(import.meta.url);
const retry = process.argv.includes('--retry-cuda');

function hasNvidiaGpu() {
  if (process.platform === 'linux' && fs.existsSync('/proc/driver/nvidia/version')) return true;
  try {
    execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function ortDir() {
  try {
    return path.dirname(require.resolve('onnxruntime-node/package.json'));
  } catch {
    return null;
  }
}

function cudaProviderInstalled() {
  return missingCudaProviderFiles('linux', 'x64').length === 0;
}

function main() {
  if (process.env.OCULAR_SKIP_CUDA === '1' && !retry) return;
  const dir = ortDir();
  if (!dir) return;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    if (retry)
      console.log(
        `Ocular: onnxruntime-node ships no separately downloaded CUDA provider for ${process.platform}/${process.arch}; nothing to do.`,
      );
    return;
  }
  if (cudaProviderInstalled()) {
    if (retry) console.log('Ocular: the CUDA execution provider is already installed.');
    return;
  }
  if (!retry && !hasNvidiaGpu()) {
    console.log('Ocular: no NVIDIA GPU found; onnxruntime will run on CPU (after installing a GPU driver, run `npm run setup:cuda`).');
    return;
  }
  const result = spawnSync(process.execPath, [path.join(dir, 'script', 'install.js')], {
    cwd: dir,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' },
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (result.status === 0 && cudaProviderInstalled()) {
    console.log('Ocular: CUDA execution provider installed.');
  } else {
    const reason =
      (result.stderr || result.stdout || String(result.error ?? '')).trim().split('\n').filter(Boolean).pop() ?? 'unknown error';
    console.log(
      `Ocular: could not install the CUDA execution provider (${reason.slice(0, 200)}); continuing on CPU. Retry later with \`npm run setup:cuda\`.`,
    );
  }
}

try {
  if (!retry) buildNative();
} catch (err) {
  console.log(`Ocular: native kernels not built (${String(err).slice(0, 200)}); using the JS fallback.`);
}
main();
