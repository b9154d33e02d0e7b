/** The training loop's host-side parts (core/sae/train-step, train-log, train-checkpoint), checked without a pool. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initialState, readCheckpoint, writeCheckpoint } from '../../src-main/core/sae/train-checkpoint';
import { stateDims, stateNames, trainSpec } from '../../src-main/core/sae/train-graph';
import { deadShare, denseShare, fvuByModality, logMetrics, rowVariance } from '../../src-main/core/sae/train-log';
import { ChunkSampler, checkpointsAt, chunkLength, logsAt } from '../../src-main/core/sae/train-step';
import { ShuffleBuffer, shuffleLayout } from '../../src-main/core/harvest/shuffle-buffer';
import { streamedMean } from '../../src-main/core/sae/train-data';
import { memorySource } from '../helpers/row-source';
import { tmpDir } from '../helpers/tmp';

describe('SAE trainer parts', () => {
  const schedule = { steps: 105, stepsPerCall: 16, logEvery: 10, checkpointEvery: 50 };

  it('ends chunks at log and checkpoint steps and at the end of the run', () => {
    const ends: number[] = [];
    for (let step = 0; step < schedule.steps; step += chunkLength(step, schedule)) ends.push(step + chunkLength(step, schedule));
    expect(ends).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 105]);
    expect(ends.filter((e) => logsAt(e, schedule))).toEqual(ends);
    expect(ends.filter((e) => checkpointsAt(e, schedule))).toEqual([50, 100, 105]);
  });

  it('draws rows with their data from the shuffle buffer and feeds K steps of B rows', async () => {
    const spec = trainSpec({ dIn: 2, dSae: 4, dOut: 3, transcoder: true });
    const input = memorySource(
      Float32Array.from({ length: 10 }, (_, i) => i),
      2,
    ); // 5 rows of 2
    const target = memorySource(
      Float32Array.from({ length: 15 }, (_, i) => 100 + i),
      3,
    ); // 5 rows of 3
    const rows = new ShuffleBuffer(
      [
        { source: input, scale: 1 },
        { source: target, scale: 1 },
      ],
      shuffleLayout(5, [2, 3], 1 << 20, 1),
    );
    const s = new ChunkSampler(spec, 2, 3, rows);
    await s.sample(3);
    // 6 draws from 5 rows: the first epoch's 5 rows once each, then the next epoch begins.
    expect(new Set(s.picked.subarray(0, 5))).toEqual(new Set([0, 1, 2, 3, 4]));
    for (let j = 0; j < 6; j++) {
      const r = s.picked[j]!;
      expect([...s.xs.subarray(j * 2, j * 2 + 2)]).toEqual([2 * r, 2 * r + 1]);
      expect([...s.ys.subarray(j * 3, j * 3 + 3)]).toEqual([100 + 3 * r, 101 + 3 * r, 102 + 3 * r]);
    }
    const feeds = s.feeds(2, 7, Float32Array.of(0.1, 0.2), 50);
    expect(feeds.xs!.dims).toEqual([2, 2, 2]);
    expect(feeds.ys!.dims).toEqual([2, 2, 3]);
    expect([...feeds.t0!.data]).toEqual([7]);
  });

  it('logs FVU per modality, dead and dense shares from the last step of a chunk', () => {
    // Rows 0, 1 image, row 2 text; targets 1-D: 0, 2, 4 (mean 2: variances 4, 0, 4).
    const target = Float32Array.of(0, 2, 4);
    const rowVar = rowVariance(target, 3, 1, Float32Array.of(2));
    expect([...rowVar]).toEqual([4, 0, 4]);
    const modality = ['image', 'image', 'text'];
    const modalityOf = (r: number) => modality[r];
    expect(fvuByModality(Float32Array.of(1, 1, 2), Int32Array.of(0, 1, 2), modalityOf, rowVar)).toEqual({
      image: 2 / 4,
      text: 2 / 4,
      generated: null,
    });
    expect(deadShare(Float32Array.of(0, 90, 95, 99), 100, 10)).toBe(0.5); // steps since firing: 100, 10, 5, 1
    expect(deadShare(Float32Array.of(0, 0), 5, 10)).toBe(0);
    expect(denseShare(Float32Array.of(0, 5, 50), 100)).toBeCloseTo(1 / 3);
    const per = (v: number[]) => ({ data: Float32Array.from(v) });
    const m = logMetrics({
      step: 20,
      out: {
        loss: per([9, 1]),
        mse: per([9, 0.5]),
        l1: per([0, 0]),
        aux: per([0, 0.5]),
        fvu: per([1, 0.25]),
        l0: per([3, 4]),
        row_sse: per([7, 7, 1, 2]),
      },
      K: 2,
      B: 2,
      picked: Float64Array.of(0, 0, 1, 2),
      modalityOf,
      // The logged (last) step drew rows 1 and 2: targets 2 and 4 around the mean 2.
      targets: Float32Array.of(0, 0, 2, 4),
      mean: Float32Array.of(2),
      lastFired: Float32Array.of(19, 19),
      fireCounts: Float32Array.of(20, 1),
      logEvery: 10,
      deadAfterSteps: 100,
      lr: 0.01,
    });
    expect(m).toMatchObject({ step: 20, loss: 1, mse: 0.5, aux: 0.5, fvu: 0.25, l0: 4, lr: 0.01, deadFraction: 0, denseFraction: 0.5 });
    expect(m.fvuByModality).toEqual({ image: null, text: 2 / 4, generated: null }); // row 1 has no variance
  });

  it('writes a checkpoint that reads back with its step, scales and every state tensor', async () => {
    const spec = trainSpec({ architecture: 'topk', dIn: 3, dSae: 6, k: 2 });
    const target = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i));
    const state = initialState(spec, await streamedMean(memorySource(target, 3), 1), 3);
    expect([...state.b_dec!].map((v) => v.toFixed(5))).toEqual(
      [0, 1, 2].map((i) => ((Math.sin(i) + Math.sin(i + 3) + Math.sin(i + 6) + Math.sin(i + 9)) / 4).toFixed(5)),
    );
    const dir = tmpDir();
    const shuffle = { layout: shuffleLayout(4, [3], 1 << 20, 9), position: { epoch: 2, cursor: 3 } };
    writeCheckpoint(dir, { step: 40, scaleIn: 2.5, scaleOut: 2.5, state, shuffle }, stateNames(spec), stateDims(spec));
    const back = readCheckpoint(dir)!;
    expect(back).toMatchObject({ step: 40, scaleIn: 2.5, scaleOut: 2.5, shuffle });
    for (const name of [...stateNames(spec), 'threshold']) expect(back.state[name]).toEqual(state[name]);
    fs.rmSync(dir, { recursive: true });
    expect(readCheckpoint(dir)).toBeNull();
  });
});
