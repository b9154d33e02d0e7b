// electron-builder afterPack hook: check the unpacked app (build/package-check.mjs) before the
// installers are made from it, so a package without its CUDA provider or native builds fails here.
const path = require('node:path');

/** electron-builder's Arch enum, by value. */
const ARCH = ['ia32', 'x64', 'armv7l', 'arm64', 'universal'];

exports.default = async function afterPack(context) {
  const { checkFuses, checkPackagedApp } = await import('./package-check.mjs');
  const target = { platform: context.electronPlatformName, arch: ARCH[context.arch] };
  const exe = path.join(context.appOutDir, `${context.packager.executableName}${target.platform === 'win32' ? '.exe' : ''}`);
  const problems = [...checkPackagedApp(context.appOutDir, target), ...(await checkFuses(exe))];
  if (problems.length > 0) throw new Error(`The ${target.platform}/${target.arch} package is incomplete:\n  ${problems.join('\n  ')}`);
};
