// Prepares what the desktop app needs beyond `npm ci`, outside postinstall so tests and the CLI
// never depend on it: (1) the Electron binary, whose download npm's install step skips; (2)
// better-sqlite3 compiled against Electron's ABI, kept in out/native-electron/ apart from the
// Node build in node_modules that the tests and CLI use. Run by `npm start` and the packagers.
//
//   node scripts/ensure-electron.mjs [--nodedir DIR]
//
// --nodedir (or npm's --nodedir / npm_config_nodedir) compiles against Electron headers already on
// disk (electron-vXX-headers.tar.gz unpacked) instead of downloading them, for closed networks.
// The build is redone when Electron's or better-sqlite3's version changes (both are in its stamp).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function packageVersion(name) {
  return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
}

/** Copy better-sqlite3's sources, but not a build folder of its own; paths are judged relative to it, not to the disk. */
export function sourceFilter(src) {
  return (p) => {
    const rel = path.relative(src, p);
    return rel !== 'build' && !rel.startsWith(`build${path.sep}`);
  };
}

/** What out/native-electron/better_sqlite3.node was built from; a change in either means rebuild. */
export function buildStamp(versions) {
  return JSON.stringify({ electron: versions.electron, betterSqlite3: versions.betterSqlite3 });
}

export function isUpToDate(outDir, stamp) {
  const stampFile = path.join(outDir, 'build-stamp.json');
  return (
    fs.existsSync(path.join(outDir, 'better_sqlite3.node')) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp
  );
}

/** The headers folder from --nodedir DIR, --nodedir=DIR or npm's npm_config_nodedir; null to download them. */
export function nodedirOption(argv, env) {
  const i = argv.findIndex((a) => a === '--nodedir' || a.startsWith('--nodedir='));
  const dir = i === -1 ? env.npm_config_nodedir || null : argv[i].includes('=') ? argv[i].slice('--nodedir='.length) : argv[i + 1];
  if (dir === null) return null;
  const resolved = path.resolve(dir ?? '');
  if (!dir || !fs.existsSync(path.join(resolved, 'include', 'node', 'node_api.h')))
    throw new Error(
      `--nodedir ${dir ?? ''}: not a headers folder (include/node/node_api.h is missing); unpack electron-vXX-headers.tar.gz and name its node_headers folder.`,
    );
  return resolved;
}

export function nodeGypArgs({ electronVersion, nodedir }) {
  const headers = nodedir ? `--nodedir=${nodedir}` : '--dist-url=https://electronjs.org/headers';
  return ['rebuild', '--release', '--runtime=electron', `--target=${electronVersion}`, headers];
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (r.status !== 0) {
    console.error(`\nOcular: \`${[path.basename(cmd), ...args].join(' ')}\` failed.`);
    process.exit(r.status ?? 1);
  }
}

function main() {
  const electronDir = path.dirname(require.resolve('electron/package.json'));
  const versions = { electron: packageVersion('electron'), betterSqlite3: packageVersion('better-sqlite3') };
  let nodedir;
  try {
    nodedir = nodedirOption(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`Ocular: ${err.message}`);
    process.exit(2);
  }

  // 1. The Electron binary.
  if (!fs.existsSync(path.join(electronDir, 'path.txt'))) {
    console.log(`Ocular: downloading Electron ${versions.electron}…`);
    const env = { ...process.env };
    delete env.ELECTRON_SKIP_BINARY_DOWNLOAD;
    run(process.execPath, [path.join(electronDir, 'install.js')], { cwd: electronDir, env });
  }

  // 2. better-sqlite3 for Electron's ABI.
  const outDir = path.join(root, 'out', 'native-electron');
  const stamp = buildStamp(versions);
  if (!isUpToDate(outDir, stamp)) {
    console.log(`Ocular: building better-sqlite3 ${versions.betterSqlite3} for Electron ${versions.electron}…`);
    const src = path.dirname(require.resolve('better-sqlite3/package.json'));
    const work = path.join(outDir, 'build-better-sqlite3');
    fs.rmSync(work, { recursive: true, force: true });
    fs.cpSync(src, work, { recursive: true, filter: sourceFilter(src) });
    run(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), ...nodeGypArgs({ electronVersion: versions.electron, nodedir })], {
      cwd: work,
    });
    fs.copyFileSync(path.join(work, 'build', 'Release', 'better_sqlite3.node'), path.join(outDir, 'better_sqlite3.node'));
    fs.writeFileSync(path.join(outDir, 'build-stamp.json'), stamp);
    fs.rmSync(path.join(outDir, 'electron-version.txt'), { force: true }); // the old, Electron-only stamp
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`Ocular: Electron ${versions.electron} and its better-sqlite3 ${versions.betterSqlite3} build are ready.`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
