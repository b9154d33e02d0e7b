// onnxruntime-node's CUDA execution provider: which files it is for a platform, and fetching them for
// any target (not only this machine) with onnxruntime-node's own installer (script/install-utils.js,
// from the NuGet package it names in script/install-metadata.js). onnxruntime-node 1.30 has one for
// Linux x64 only; its Windows binding is built with DirectML and has no CUDA at all.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

export function ortDir() {
  return path.dirname(require.resolve('onnxruntime-node/package.json'));
}

/** Where onnxruntime-node keeps a target's binaries (and where the provider must go). */
export function ortBinDir(platform, arch) {
  return path.join(ortDir(), 'bin', 'napi-v6', platform, arch);
}

function metadata() {
  return require(path.join(ortDir(), 'script', 'install-metadata.js'));
}

function manifests(platform, arch) {
  const meta = metadata();
  const target = `${platform}/${arch}`;
  return (meta.requirements[target] ?? []).flatMap((name) =>
    Object.entries(meta.manifests[`${target}:${name}`] ?? {}).map(([file, { package: pkg, path: pathInPackage }]) => ({
      filepath: path.normalize(path.join(ortBinDir(platform, arch), file)),
      packagesInfo: meta.packages[pkg],
      pathInPackage,
    })),
  );
}

/** The provider's file names for a target; [] where onnxruntime-node has none. */
export function cudaProviderFiles(platform, arch) {
  return manifests(platform, arch).map((m) => path.basename(m.filepath));
}

export function missingCudaProviderFiles(platform, arch) {
  return manifests(platform, arch)
    .filter((m) => !fs.existsSync(m.filepath))
    .map((m) => path.basename(m.filepath));
}

/** Download the target's provider files into node_modules/onnxruntime-node (honours GLOBAL_AGENT_* proxies, as its installer does). */
export async function installCudaProvider(platform, arch) {
  const wanted = manifests(platform, arch);
  if (wanted.length === 0) return;
  const fromOrt = createRequire(path.join(ortDir(), 'package.json'));
  fromOrt('global-agent').bootstrap();
  const { installPackages } = fromOrt('./script/install-utils.js');
  await installPackages(new Set(wanted.map((m) => m.packagesInfo)), wanted, metadata().feeds);
}
