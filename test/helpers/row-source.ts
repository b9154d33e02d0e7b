/** Rows held in memory as a RowSource (core/harvest/shuffle-buffer.ts), for tests of what reads shards. */
import type { RowSource } from '../../src-main/core/harvest/shuffle-buffer';

export function memorySource(data: Float32Array, width: number, reads?: Array<[number, number]>): RowSource {
  return {
    rows: data.length / width,
    width,
    readRange(from, count, out, at, scale = 1) {
      reads?.push([from, count]);
      for (let i = 0; i < count * width; i++) out[at + i] = data[from * width + i]! * scale;
    },
  };
}
