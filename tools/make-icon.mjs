// Renders resources/icon.png (512x512), the same eye as src-renderer/public/favicon.svg, with no
// dependencies: rasterise the shapes by hand and write a PNG with zlib. Re-run: node tools/make-icon.mjs
import fs from 'node:fs';
import zlib from 'node:zlib';

const N = 512;
const px = Buffer.alloc(N * N * 4);
const s = N / 64;
function shade(x, y) {
  const u = x / s,
    v = y / s;
  const r = 14;
  const cx = Math.min(Math.max(u, r), 64 - r),
    cy = Math.min(Math.max(v, r), 64 - r);
  if ((u - cx) ** 2 + (v - cy) ** 2 > r * r) return [0, 0, 0, 0];
  const d = Math.hypot(u - 32, v - 32);
  if (d <= 4.5) return [0x1a, 0x1a, 0x2e, 255];
  if (d <= 10) return [0x00, 0x89, 0x7b, 255];
  if (((u - 32) / 24) ** 2 + ((v - 32) / 15) ** 2 <= 1) return [255, 255, 255, 255];
  return [0x3d, 0x5a, 0xfe, 255];
}
for (let y = 0; y < N; y++)
  for (let x = 0; x < N; x++) {
    // 4x supersampling for smooth edges
    const acc = [0, 0, 0, 0];
    for (const [dx, dy] of [
      [0.25, 0.25],
      [0.75, 0.25],
      [0.25, 0.75],
      [0.75, 0.75],
    ])
      shade(x + dx, y + dy).forEach((c, i) => (acc[i] += c / 4));
    acc.forEach((c, i) => (px[(y * N + x) * 4 + i] = Math.round(c)));
  }
const raw = Buffer.alloc(N * (N * 4 + 1));
for (let y = 0; y < N; y++) px.copy(raw, y * (N * 4 + 1) + 1, y * N * 4, (y + 1) * N * 4);
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc(td));
  return Buffer.concat([len, td, c]);
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(N, 0);
ihdr.writeUInt32BE(N, 4);
ihdr[8] = 8;
ihdr[9] = 6;
fs.writeFileSync(
  new URL('../resources/icon.png', import.meta.url),
  Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]),
);
