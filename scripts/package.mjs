// npm run package:linux | package:win [-- --arch x64]: the desktop installers. Before electron-builder
// runs, the target's CUDA execution provider is put into node_modules/onnxruntime-node whatever this
// machine has (a GPU is not needed to build a package that uses one); a Linux x64 package without it
// is refused. electron-builder's afterPack hook (build/after-pack.cjs) then checks the unpacked app
// (build/package-check.mjs) before any installer is made.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cudaProviderFiles, installCudaProvider, missingCudaProviderFiles, ortBinDir } from './cuda-provider.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [os, ...rest] = process.argv.slice(2);
const platform = { linux: 'linux', win: 'win32' }[os];
const archAt = rest.indexOf('--arch');
const arch = archAt === -1 ? 'x64' : rest[archAt + 1];
if (!platform || !['x64', 'arm64'].includes(arch)) {
  console.error('usage: node scripts/package.mjs linux|win [--arch x64|arm64]');
  process.exit(2);
}

if (cudaProviderFiles(platform, arch).length === 0) {
  console.log(`Ocular: onnxruntime-node has no CUDA execution provider for ${platform}/${arch}; this package runs models on the CPU.`);
} else if (missingCudaProviderFiles(platform, arch).length > 0) {
  console.log(`Ocular: fetching onnxruntime-node's CUDA execution provider for ${platform}/${arch}…`);
  try {
    await installCudaProvider(platform, arch);
  } catch (err) {
    console.error(`Ocular: could not fetch the CUDA execution provider (${err.message}).`);
  }
  const missing = missingCudaProviderFiles(platform, arch);
  if (missing.length > 0) {
    console.error(
      `Ocular: a ${platform}/${arch} package must include the CUDA execution provider, and ${missing.join(', ')} ` +
        `are not in ${ortBinDir(platform, arch)}. Run this where api.nuget.org is reachable (set GLOBAL_AGENT_HTTPS_PROXY ` +
        'behind a proxy), or copy those files there from the Microsoft.ML.OnnxRuntime.Gpu.Linux NuGet package of the same version.',
    );
    process.exit(1);
  }
}

const builder = path.join(path.dirname(require.resolve('electron-builder/package.json')), 'cli.js');
const args = [builder, '--config', 'build/electron-builder.yml', `--${os}`, `--${arch}`];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
