#!/usr/bin/env node
// `ocular` command. The CLI is bundled to out/node/ by `npm run build` (npm ci runs it).
import { existsSync } from 'node:fs';

const cli = new URL('../out/node/cli.mjs', import.meta.url);
if (!existsSync(cli)) {
  console.error('Ocular is not built yet: run `npm run build` in the Ocular folder (npm ci does this for you).');
  process.exit(1);
}
await import(cli.href);
