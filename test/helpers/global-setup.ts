import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { buildSync } from 'esbuild';

/**
 * Tests run the bundled job worker and CLI, so make sure they match the sources under test; and
 * bundle the desktop e2e harness (test/electron) into out/test-electron for Node and the page.
 */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-node.mjs'], { stdio: 'inherit' });
  const out = 'out/test-electron';
  const common = { bundle: true, logLevel: 'warning', target: 'es2022' } as const;
  buildSync({
    ...common,
    entryPoints: { electron: 'test/electron/electron.ts', 'desktop-harness': 'test/electron/desktop-harness.ts' },
    outdir: out,
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    packages: 'external',
    external: ['electron'],
  });
  buildSync({
    ...common,
    entryPoints: ['test/electron/renderer-bridge.ts'],
    outfile: `${out}/renderer-bridge.js`,
    platform: 'browser',
    format: 'iife',
  });
  for (const f of ['parent-port.cjs', 'hooks.mjs']) fs.copyFileSync(`test/electron/${f}`, `${out}/${f}`);
}
