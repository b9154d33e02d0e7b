import { resolve } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@contract': resolve(__dirname, 'src-main/contract'),
      // Main-process code runs under Node against a stand-in written from Electron 39's types and source.
      electron: resolve(__dirname, 'test/electron/electron.ts'),
    },
  },
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests start worker threads and servers; two cores are shared, so keep file parallelism modest.
    maxWorkers: 2,
    // Every test process, and the worker threads and pool processes it starts, loads the guard that
    // fails any worker thread loading onnxruntime-node (it belongs in pool processes only).
    execArgv: ['--require', resolve(__dirname, 'test/helpers/native-guard.cjs')],
    projects: [
      // Each project names its own files: a project extending the root would add its include to the root's.
      { extends: true, test: { name: 'node', include: ['test/**/*.test.ts'] } },
      // The e2e suite once more through the renderer's other transport: the desktop app's main process
      // under Node with the electron stand-in, the page on the real preload over structured-cloning IPC.
      // workbench.test.ts drives `ocular serve` only (its own browser contexts, read-only and shared
      // serving, delivery), so here it would only repeat itself over HTTP.
      {
        extends: true,
        test: {
          name: 'desktop-e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/e2e/workbench.test.ts'],
          env: { OCULAR_E2E_TRANSPORT: 'ipc' },
        },
      },
    ],
  },
});
