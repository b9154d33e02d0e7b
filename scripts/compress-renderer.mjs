// Writes brotli (.br) and gzip (.gz) siblings of the built renderer's text files, which `ocular serve`
// sends to browsers that accept them (src-main/transport/static-files.ts): compressed once, at the
// highest levels, at build time instead of per request.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = new URL('../out/renderer/', import.meta.url).pathname;
const COMPRESSIBLE = new Set(['.js', '.mjs', '.css', '.html', '.svg', '.json']);

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (COMPRESSIBLE.has(extname(p))) yield p;
  }
}

let raw = 0;
let br = 0;
for (const file of files(root)) {
  const data = readFileSync(file);
  const b = brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } });
  writeFileSync(`${file}.br`, b);
  writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
  raw += data.length;
  br += b.length;
}
console.log(`renderer: ${(raw / 1024).toFixed(0)} KiB, ${(br / 1024).toFixed(0)} KiB with brotli`);
