/**
 * The evaluation path end to end through the backend: generate the benchmark into the workspace,
 * register a model, evaluate (a resumable job), read accuracy with CIs, page predictions, export.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { contract } from '../../src-main/contract/contract';
import { backendWithBenchmark, TINY_LLAVA as LLAVA } from '../helpers/backend';
import { tmpDir } from '../helpers/tmp';

async function setup() {
  const env = await backendWithBenchmark(3, 2);
  expect(env.dataset).toMatchObject({ items: 42, source: 'synth' });
  return env;
}

describe('evaluation harness', () => {
  it('grades a model on the benchmark and reports accuracy with Wilson CIs, predictions and exports', async () => {
    const { call, until, done, datasetId, modelId } = await setup();
    const started = await call('evals.start', { modelId, datasetId, maxNewTokens: 3, device: 'cpu' });
    expect((await until(started.job.id, done)).state).toBe('succeeded');
    const summary = contract['evals.get'].response.parse(await call('evals.get', { id: started.eval.id }));
    expect(summary.overall.n).toBe(42);
    expect(summary.byTask.map((t) => t.key).sort()).toEqual(['arithmetic', 'color', 'count', 'exists', 'shape', 'size', 'spatial']);
    expect(summary.byDifficulty.map((t) => [t.key, t.n])).toEqual([
      ['1', 14],
      ['2', 14],
      ['3', 14],
    ]);
    for (const a of [summary.overall, ...summary.byTask]) {
      expect(a.ci95[0]).toBeLessThanOrEqual(a.accuracy);
      expect(a.ci95[1]).toBeGreaterThanOrEqual(a.accuracy);
    }
    expect(summary.hitLimitShare).toBeGreaterThan(0); // a random-weight model rambles until the limit
    const preds = await call('evals.predictions', { id: started.eval.id, limit: 5 });
    expect(preds).toHaveLength(5);
    expect(typeof preds[0]!.raw).toBe('string');
    const csv = await call('evals.export', { id: started.eval.id, format: 'csv' });
    expect(csv.content.trim().split('\n')).toHaveLength(43);
    expect(csv.content.split('\n')[0]).toMatch(/^item,task,difficulty,image,question,answer_type,answer,extracted,method,correct/);
    const json = JSON.parse((await call('evals.export', { id: started.eval.id, format: 'json' })).content);
    expect(json.predictions).toHaveLength(42);
  });

  it('resumes a cancelled evaluation without grading any item twice', async () => {
    const { call, until, done, datasetId, modelId } = await setup();
    const started = await call('evals.start', {
      modelId,
      datasetId,
      maxNewTokens: 40,
      batchSize: 2,
      device: 'cpu',
    });
    await until(started.job.id, (j) => j.progress > 0.1);
    await call('jobs.cancel', { id: started.job.id });
    expect((await until(started.job.id, done)).state).toBe('cancelled');
    const partial = (await call('evals.get', { id: started.eval.id })).eval.predictions;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(42);
    await call('jobs.resume', { id: started.job.id });
    const finished = await until(started.job.id, done);
    expect(finished.state).toBe('succeeded');
    expect(finished.attempts).toBe(2);
    const summary = await call('evals.get', { id: started.eval.id });
    expect(summary.overall.n).toBe(42);
  });

  it('refuses a prompt template without {question}', async () => {
    const { b } = await setup();
    const r = await b.invoke('evals.start', { modelId: 1, datasetId: 1, promptTemplate: 'Answer:' });
    expect(!r.ok && r.error.message).toMatch(/must contain \{question\}/);
  });
});

describe('ocular demo', () => {
  it('generates the benchmark, evaluates the model, harvests, trains an SAE and analyses it, headless', async () => {
    const { runCli } = await import('../helpers/cli');
    const ws = path.join(tmpDir(), 'demo');
    const res = await runCli(['demo', '--workspace', ws, '--per-cell', '1', '--model', LLAVA, '--json'], 120_000);
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout) as {
      evaluation: { overall: { n: number }; byTask: unknown[] };
      sae: { id: number };
      analysis: { features: number };
    };
    expect(summary.evaluation.overall.n).toBe(21);
    expect(summary.evaluation.byTask).toHaveLength(7);
    // The rest of the pipeline ran too: an SAE trained on the harvest, its features analysed.
    expect(summary.sae.id).toBe(1);
    expect(summary.analysis.features).toBeGreaterThan(0);
  });
});
