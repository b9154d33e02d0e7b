import { describe, expect, it } from 'vitest';
import { etaSeconds, formatDuration } from '../../src-renderer/src/lib/eta';

describe('job ETA', () => {
  it('extrapolates linearly from progress and elapsed time', () => {
    const start = '2026-01-01T00:00:00.000Z';
    expect(etaSeconds(0.25, start, Date.parse(start) + 10_000)).toBeCloseTo(30);
    expect(etaSeconds(0.5, start, Date.parse(start) + 60_000)).toBeCloseTo(60);
  });
  it('gives no estimate without enough progress or a start time', () => {
    expect(etaSeconds(0, '2026-01-01T00:00:00Z')).toBeNull();
    expect(etaSeconds(0.5, null)).toBeNull();
    expect(etaSeconds(1, '2026-01-01T00:00:00Z')).toBeNull();
  });
  it('formats durations for people', () => {
    expect(formatDuration(0.2)).toBe('<1 s');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(600)).toBe('10 min');
    expect(formatDuration(3 * 3600 + 20 * 60)).toBe('3 h 20 min');
  });
});
