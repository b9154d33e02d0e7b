// Prepares what the desktop app needs beyond `npm ci`, outside postinstall so tests and the CLI
// never depend on it: (1) the Electron binary, whose download npm's install step skips; (2)
// better-sqlite3 compiled against Electron's ABI, kept in out/native-electron/ apart from the
// Node build in node_modules that the tests and CLI use. Run by `npm start` and the packagers.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const electronDir = path.dirname(require.resolve('electron/package.json'));
const electronVersion = JSON.parse(fs.readFileSync(path.join(electronDir, 'package.json'), 'utf8')).version;

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (r.status !== 0) {
    console.error(`\nOcular: \`${[path.basename(cmd), ...args].join(' ')}\` failed.`);
    process.exit(r.status ?? 1);
  }
}

// 1. The Electron binary.
if (!fs.existsSync(path.join(electronDir, 'path.txt'))) {
  console.log(`Ocular: downloading Electron ${electronVersion}…`);
  const env = { ...process.env };
  delete env.ELECTRON_SKIP_BINARY_DOWNLOAD;
  run(process.execPath, [path.join(electronDir, 'install.js')], { cwd: electronDir, env });
}

// 2. better-sqlite3 for Electron's ABI.
const outDir = path.join(root, 'out', 'native-electron');
const stamp = path.join(outDir, 'electron-version.txt');
const binding = path.join(outDir, 'better_sqlite3.node');
if (!fs.existsSync(binding) || !fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== electronVersion) {
  console.log(`Ocular: building better-sqlite3 for Electron ${electronVersion}…`);
  const src = path.dirname(require.resolve('better-sqlite3/package.json'));
  const work = path.join(outDir, 'build-better-sqlite3');
  fs.rmSync(work, { recursive: true, force: true });
  fs.cpSync(src, work, { recursive: true, filter: (p) => !p.includes(`${path.sep}build${path.sep}`) && !p.endsWith(`${path.sep}build`) });
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  run(
    process.execPath,
    [nodeGyp, 'rebuild', '--release', '--runtime=electron', `--target=${electronVersion}`, '--dist-url=https://electronjs.org/headers'],
    { cwd: work },
  );
  fs.copyFileSync(path.join(work, 'build', 'Release', 'better_sqlite3.node'), binding);
  fs.writeFileSync(stamp, electronVersion);
  fs.rmSync(work, { recursive: true, force: true });
}
console.log(`Ocular: Electron ${electronVersion} and its better-sqlite3 build are ready.`);
