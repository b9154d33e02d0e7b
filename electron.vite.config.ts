import react from '@vitejs/plugin-react';
import { defineConfig, externalizeDepsPlugin } from 'electron-vite';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const version = JSON.parse(readFileSync(resolve(__dirname, 'package.json'), 'utf8')).version as string;
const define = { __OCULAR_VERSION__: JSON.stringify(version) };

export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    define,
    build: {
      outDir: 'out/main',
      rollupOptions: {
        // Entries: the Electron shell, the backend utility process, the job worker thread, the session host.
        input: {
          index: resolve(__dirname, 'src-main/electron/main.ts'),
          backend: resolve(__dirname, 'src-main/electron/backend-process.ts'),
          'job-worker': resolve(__dirname, 'src-main/core/jobs/worker-entry.ts'),
          // ONNX Runtime sessions run in child processes of the backend (ELECTRON_RUN_AS_NODE).
          'session-host': resolve(__dirname, 'src-main/core/runtime/session-host.ts'),
          'task-worker': resolve(__dirname, 'src-main/core/tasks/task-worker.ts'),
        },
      },
    },
  },
  preload: {
    plugins: [externalizeDepsPlugin()],
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(__dirname, 'src-preload/index.ts') },
        // Sandboxed preloads cannot be ES modules.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src-renderer'),
    plugins: [react()],
    resolve: { alias: { '@contract': resolve(__dirname, 'src-main/contract') } },
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      // electron-vite leaves the renderer unminified; a lab member on a remote `ocular serve` downloads it.
      minify: 'esbuild',
      rollupOptions: {
        input: resolve(__dirname, 'src-renderer/index.html'),
        // Pages are split by route (React.lazy), MUI's components with the pages that use them (a feature page does
        // not parse the Stepper or the Slider); React and ECharts are stable, long-cached chunks of their own.
        output: {
          manualChunks: (id: string) =>
            /node_modules[\\/](react|react-dom|scheduler)[\\/]/.test(id)
              ? 'react'
              : /node_modules[\\/](echarts|zrender)[\\/]/.test(id)
                ? 'echarts'
                : undefined,
        },
      },
    },
  },
});
