// Bundles the plain-Node entry points (the `ocular` CLI and the job worker) into out/node/.
// Native and heavy packages stay external and load from node_modules at run time.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: {
    cli: 'src-main/cli/main.ts',
    'job-worker': 'src-main/core/jobs/worker-entry.ts',
    'session-host': 'src-main/core/runtime/session-host.ts',
    'task-worker': 'src-main/core/tasks/task-worker.ts',
  },
  outdir: 'out/node',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  packages: 'external',
  define: { __OCULAR_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
