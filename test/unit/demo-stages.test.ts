/** The demo pipeline's stage chaining (core/backend/demo.ts), over a stand-in runner that records what it is asked. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Job, ModelRecord } from '../../src-main/contract/contract';
import { DEMO_STAGES, demoPlan, startDemo } from '../../src-main/core/backend/demo';
import type { OpenWorkspace } from '../../src-main/core/backend/open-workspace';

const job = (id: number, kind: string, state: Job['state'], result: unknown = null, error: string | null = null): Job => ({
  id,
  kind,
  params: {},
  state,
  progress: 1,
  message: null,
  error,
  result,
  resumable: true,
  createdAt: '',
  startedAt: null,
  finishedAt: null,
  attempts: 0,
});

class StandInRunner extends EventEmitter {
  started: string[] = [];
  failed: Array<{ kind: string; error: string }> = [];
  start(kind: string): Job {
    this.started.push(kind);
    return job(this.started.length, kind, 'queued');
  }
  failToStart(kind: string, _params: unknown, error: string): Job {
    this.failed.push({ kind, error });
    const j = job(100, kind, 'failed', null, error);
    this.emit('updated', j);
    return j;
  }
}

function demo() {
  const runner = new StandInRunner();
  const evalStore = { create: () => ({ id: 7 }), attachJob: () => undefined };
  const open = { runner, dir: '/ws', stores: { evals: evalStore } } as unknown as OpenWorkspace;
  const model = { id: 1, path: '/model', name: 'm' } as ModelRecord;
  const first = startDemo(open, { model, taps: ['blocks.0.hook_resid_post'], saeTap: 'blocks.0.hook_resid_post', perCell: 1 }, () => true);
  return { runner, first };
}

describe('demo stages', () => {
  it('start in the declared order, each when the previous succeeds', () => {
    const { runner, first } = demo();
    expect(first.kind).toBe(DEMO_STAGES[0]);
    runner.emit('updated', job(first.id, 'dataset-synth', 'succeeded', { datasetId: 3, items: 1, path: '/d' }));
    expect(runner.started).toEqual(['dataset-synth', 'evaluate']);
  });

  it('report a stage that cannot start as a failed job of its kind, and stop', () => {
    const { runner, first } = demo();
    // A result the next stage cannot read: the evaluate stage cannot start.
    runner.emit('updated', job(first.id, 'dataset-synth', 'succeeded', { unexpected: true }));
    expect(runner.failed).toHaveLength(1);
    expect(runner.failed[0]!.kind).toBe('evaluate');
    expect(runner.failed[0]!.error).toMatch(/^The demo could not start its evaluate stage: /);
    expect(runner.listenerCount('updated')).toBe(0);
  });

  it('stop when a stage fails', () => {
    const { runner, first } = demo();
    runner.emit('updated', job(first.id, 'dataset-synth', 'failed', null, 'disk full'));
    expect(runner.started).toEqual(['dataset-synth']);
    expect(runner.listenerCount('updated')).toBe(0);
  });

  it('repeat the SAE, its analysis and the experiment for each further SAE seed', () => {
    expect(demoPlan(1).map((p) => p.stage)).toEqual([...DEMO_STAGES]);
    const three = demoPlan(3);
    expect(three.slice(0, DEMO_STAGES.length).every((p) => p.seed === 0)).toBe(true);
    expect(three.slice(DEMO_STAGES.length).map((p) => `${p.stage}@${p.seed}`)).toEqual([
      'sae-train@1',
      'analyze@1',
      'experiment@1',
      'sae-train@2',
      'analyze@2',
      'experiment@2',
    ]);
  });
});
