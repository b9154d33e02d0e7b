/** fp16 decoding (core/util/half.ts): the lookup table gives fromHalf's value for every one of the 65,536 halves. */
import { describe, expect, it } from 'vitest';
import { fromHalf, halfToFloat } from '../../src-main/core/util/half';

describe('halfToFloat', () => {
  it('equals fromHalf rounded to float32 for every bit pattern (NaNs stay NaN)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, h) => h);
    const out = halfToFloat(all);
    for (let h = 0; h < 65536; h++) {
      const want = Math.fround(fromHalf(h));
      if (Number.isNaN(want)) expect(Number.isNaN(out[h]!)).toBe(true);
      else expect(Object.is(out[h], want), `half 0x${h.toString(16)}`).toBe(true);
    }
    expect(out[0x3c00]).toBe(1);
    expect(out[0xc000]).toBe(-2);
    expect(out[0x0001]).toBe(2 ** -24);
  });
});
