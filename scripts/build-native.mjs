// Builds Ocular's own N-API addons in native/ (run by scripts/postinstall.mjs during `npm ci`, as
// better-sqlite3 builds its own). Never fails the install: where there is no compiler or no Node
// headers, the addon is left unbuilt and the pure-JS fallback (same numbers) is used.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const addons = ['sparse-topk'];

export function buildNative() {
  if (process.env.OCULAR_SKIP_NATIVE === '1') return;
  let gyp;
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    console.log('Ocular: node-gyp not found; native kernels not built (the JS fallback gives the same numbers).');
    return;
  }
  // Headers beside this Node (a distro or nvm install) need no download; otherwise node-gyp fetches them.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const nodedir = fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi')) ? [`--nodedir=${prefix}`] : [];
  for (const name of addons) {
    const cwd = path.join(root, 'native', name);
    const r = spawnSync(process.execPath, [gyp, 'rebuild', ...nodedir], { cwd, encoding: 'utf8', timeout: 5 * 60_000 });
    if (r.status === 0) console.log(`Ocular: built native/${name}.`);
    else {
      const reason = (r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n').filter(Boolean).pop() ?? 'unknown error';
      console.log(`Ocular: native/${name} not built (${reason.slice(0, 200)}); using the JS fallback, which gives the same numbers.`);
      fs.rmSync(path.join(cwd, 'build'), { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) buildNative();
