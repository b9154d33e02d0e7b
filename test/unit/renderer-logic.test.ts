/**
 * The renderer's logic that does not need a browser: the per-feature label save queue (keys at
 * machine speed, answers out of order), errors as sentences, hash routes, form checks.
 */
import type { FeatureLabel, RequestOf } from '@contract/contract';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src-renderer/src/api/client';
import { parseConfidence, parseCount, parseNumbers } from '../../src-renderer/src/lib/validate';
import { describeError } from '../../src-renderer/src/lib/errors';
import { LabelQueue } from '../../src-renderer/src/lib/label-queue';
import { formatRoute, parseRoute } from '../../src-renderer/src/lib/router';
import { viridis } from '../../src-renderer/src/lib/colormap';

const label = (feature: number, label: string, status: FeatureLabel['status'] = 'labelled'): FeatureLabel => ({
  feature,
  label,
  tags: [],
  confidence: null,
  status,
  annotator: 'ada',
  updatedAt: '2026-01-01T00:00:00Z',
});

describe('the label save queue', () => {
  it("runs each feature's saves in order on top of the previous one, features in parallel, answers in any order", async () => {
    const stored = new Map<number, FeatureLabel>([[2, label(2, 'kept text', 'needs-review')]]);
    const sent: Array<RequestOf<'labels.set'>> = [];
    // The backend answers later requests first.
    let delay = 40;
    const queue = new LabelQueue(1, {
      send: (req) => {
        sent.push(req);
        const d = (delay = Math.max(1, delay - 10));
        return new Promise((resolve) =>
          setTimeout(() => {
            const l = { ...label(req.feature, req.label, req.status), tags: req.tags as string[] };
            stored.set(req.feature, l);
            resolve(l);
          }, d),
        );
      },
      load: async (f) => stored.get(f) ?? null,
      saved: () => undefined,
      failed: (err) => {
        throw err;
      },
    });
    const all: Array<Promise<unknown>> = [];
    for (const f of [1, 2, 3]) {
      all.push(queue.save(f, { status: 'labelled' }, 'ada'));
      all.push(queue.save(f, { label: `label ${f}`, tags: ['t'], confidence: null, status: 'labelled' }, 'ada'));
    }
    // A status key alone on a labelled feature keeps its text.
    all.push(queue.save(2, { status: 'uninterpretable' }, 'ada'));
    await Promise.all(all);
    expect(stored.get(1)).toMatchObject({ label: 'label 1', status: 'labelled', tags: ['t'] });
    expect(stored.get(3)).toMatchObject({ label: 'label 3', status: 'labelled' });
    expect(stored.get(2)).toMatchObject({ label: 'label 2', status: 'uninterpretable', tags: ['t'] });
    // Per feature, the sends went out in the order the keys were pressed.
    expect(sent.filter((r) => r.feature === 2).map((r) => [r.label, r.status])).toEqual([
      ['kept text', 'labelled'],
      ['label 2', 'labelled'],
      ['label 2', 'uninterpretable'],
    ]);
    expect(queue.pending(2)).toBe(false);
  });

  it('reports a failed save and carries on with the next one', async () => {
    const failures: number[] = [];
    let first = true;
    const queue = new LabelQueue(1, {
      send: async (req) => {
        if (first) {
          first = false;
          throw new Error('disk full');
        }
        return label(req.feature, req.label);
      },
      load: async () => null,
      saved: () => undefined,
      failed: (_, f) => failures.push(f),
    });
    expect(await queue.save(4, { status: 'labelled' }, 'ada')).toBeNull();
    expect(await queue.save(4, { label: 'x', tags: [], confidence: null, status: 'labelled' }, 'ada')).toMatchObject({ label: 'x' });
    expect(failures).toEqual([4]);
  });
});

describe('errors as sentences', () => {
  it('turns validation failures into field sentences and keeps the channel for the details', () => {
    const e = describeError(
      new ApiError(
        'invalid_request',
        "Invalid request for 'saes.estimate': steps: Invalid input: expected number, received null",
        'saes.estimate',
      ),
    );
    expect(e.sentence).toBe('Steps must be a number (it was empty).');
    expect(e.sentence).not.toContain('saes.estimate');
    expect(e.details).toContain('saes.estimate');
    const two = describeError(
      new ApiError(
        'invalid_request',
        "Invalid request for 'x.y': batchSize: Too big: expected number to be <=64; featureSets.0.selective.top: Too small: expected number to be >=1",
        'x.y',
      ),
    );
    expect(two.sentence).toBe('Batch size must be at most 64; Feature sets #1 selective top must be at least 1.');
    expect(
      describeError(
        new ApiError('read_only', "This workspace is open read-only: 'labels.set' would change it and was refused.", 'labels.set'),
      ).sentence,
    ).toBe('This workspace is shared read-only, so nothing can be changed from here.');
    expect(describeError(new ApiError('internal', "'models.add' failed: EACCES: permission denied", 'models.add')).sentence).toBe(
      'Something went wrong on the server: EACCES: permission denied.',
    );
    expect(describeError(new ApiError('not_found', 'No analysis with id 9.', 'features.get')).sentence).toBe('No analysis with id 9.');
  });
});

describe('routes', () => {
  it('parse and format hash routes, falling back to the workspace page', () => {
    expect(parseRoute('#/features/3/140')).toEqual({ page: 'features', ids: [3, 140] });
    expect(parseRoute('#/experiments/2')).toEqual({ page: 'experiments', ids: [2] });
    expect(parseRoute('')).toEqual({ page: 'workspace', ids: [] });
    expect(parseRoute('#/nonsense/1')).toEqual({ page: 'workspace', ids: [1] });
    expect(parseRoute('#/features/x/2')).toEqual({ page: 'features', ids: [] });
    expect(formatRoute({ page: 'saes', ids: [7] })).toBe('#/saes/7');
  });
});

describe('form checks', () => {
  it('accept numbers only where numbers are asked for', () => {
    expect(parseCount('ten', 1, 100, true)).toEqual({ error: 'a whole number, not “ten”' });
    expect(parseCount('', 1, 100, true)).toEqual({ value: null });
    expect(parseCount('0', 1, 100)).toEqual({ error: 'from 1 to 100' });
    expect(parseCount('24', 1, 100)).toEqual({ value: 24 });
    expect(parseNumbers('0, 0.5, 2')).toEqual({ values: [0, 0.5, 2] });
    expect(parseNumbers('1, two')).toEqual({ bad: 'two' });
    expect(parseNumbers('1.5', true)).toEqual({ bad: '1.5' });
    expect(parseConfidence('')).toBeNull();
    expect(parseConfidence('0.7')).toBe(0.7);
    expect(parseConfidence('1.5')).toBe('invalid');
  });
  it('colour heatmaps with viridis from dark purple to yellow, lightness rising', () => {
    expect(viridis(0)).toEqual([0x44, 0x01, 0x54]);
    expect(viridis(1)).toEqual([0xfd, 0xe7, 0x25]);
    const lightness = (t: number) => {
      const [r, g, b] = viridis(t);
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    for (let t = 0.1; t <= 1; t += 0.1) expect(lightness(t)).toBeGreaterThan(lightness(t - 0.1));
  });
});
