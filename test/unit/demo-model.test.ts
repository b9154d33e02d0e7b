/**
 * The bundled demo model (resources/models/ocular-demo-vlm, trained by tools/train_demo_vlm.py on the
 * synthetic benchmark): it loads, exposes its towers, and meets the targets on freshly generated
 * held-out items (>= 90% at difficulty 1, >= 70% at difficulty 3, every task above chance), measured by
 * Ocular's own harness. Items, model and greedy decoding are deterministic, so the numbers reproduce.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EvalSummary, ReplicatedEffect } from '../../src-main/contract/contract';
import { Backend } from '../../src-main/core/backend/backend';
import { inspectModel } from '../../src-main/core/model/inspect';
import { Stores } from '../../src-main/core/store/stores';
import { Workspace } from '../../src-main/core/store/workspace';
import { runCli } from '../helpers/cli';
import { isDone, untilJob } from '../helpers/backend';
import { repoRoot, sessionHostEntry, taskWorkerEntry, tmpDir, workerEntry } from '../helpers/tmp';

const DEMO = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm');

describe('bundled demo model', () => {
  it('is a LLaVA-style export small enough to ship, with decoder and vision taps', () => {
    const report = inspectModel(DEMO);
    expect(report.problems).toEqual([]);
    expect(report.modelType).toBe('llava');
    expect(report.components.find((c) => c.role === 'decoder')!.tower).toMatchObject({ layers: 3, width: 128 });
    expect(report.components.find((c) => c.role === 'vision_encoder')!.tower).toMatchObject({ layers: 3, width: 128 });
  });

  it('meets the issue’s targets on freshly generated held-out items (`ocular eval`)', async () => {
    // 420 held-out items (seed 7, 20 per cell; training used seed 1001), generated fresh for this run
    const heldout = path.join(tmpDir(), 'heldout');
    expect((await runCli(['dataset', 'synth', '--out', heldout, '--seed', '7', '--per-cell', '20'])).code).toBe(0);
    // worked arithmetic answers ("3 / 8 = 0.375") are six tokens with the end token
    const res = await runCli(
      ['eval', '--model', DEMO, '--dataset', heldout, '--max-new-tokens', '8', '--device', 'cpu', '--json'],
      180_000,
    );
    expect(res.code, res.stderr).toBe(0);
    const s = JSON.parse(res.stdout) as EvalSummary;
    expect(s.overall.n).toBe(420);
    expect(s.hitLimitShare).toBe(0);
    expect(s.byDifficulty.find((d) => d.key === '1')!.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(s.byDifficulty.find((d) => d.key === '3')!.accuracy).toBeGreaterThanOrEqual(0.7);
    // chance per task: always giving the task's most common held-out answer (at least the uniform guess)
    const items = fs
      .readFileSync(path.join(heldout, 'items.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { task: string; answer: { value: unknown } });
    for (const t of s.byTask) {
      const answers = items.filter((i) => i.task === t.key).map((i) => JSON.stringify(i.answer.value));
      const counts = new Map<string, number>();
      for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
      const chance = Math.max(...counts.values()) / answers.length;
      expect(t.accuracy, `${t.key}: ${t.accuracy} against chance ${chance}`).toBeGreaterThan(chance + 0.1);
    }
  });

  it('`ocular demo` runs on the bundled model when no --model is given', async () => {
    const res = await runCli(['demo', '--workspace', path.join(tmpDir(), 'demo'), '--per-cell', '1', '--json'], 180_000);
    expect(res.code).toBe(0);
    expect((JSON.parse(res.stdout) as { evaluation: EvalSummary }).evaluation.eval.modelPath).toBe(DEMO);
  });

  it('`ocular demo --sae-tap` refuses a tap the model lacks, naming the ones it has', async () => {
    const res = await runCli(
      ['demo', '--workspace', path.join(tmpDir(), 'demo'), '--per-cell', '1', '--sae-tap', 'blocks.9.hook_resid_post'],
      60_000,
    );
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(
      "has no tap 'blocks.9.hook_resid_post'; its residual-stream taps are blocks.0.hook_resid_post, blocks.1.hook_resid_post, blocks.2.hook_resid_post, vision.blocks.0.hook_resid_post",
    );
  });

  it('`ocular demo --seeds 3` trains three SAEs, runs the experiment on each and prints each effect’s range across seeds', async () => {
    const ws = path.join(tmpDir(), 'demo');
    const res = await runCli(['demo', '--workspace', ws, '--per-cell', '4', '--seeds', '3'], 400_000);
    expect(res.code, res.stderr).toBe(0);
    const line = (set: string, task: string) =>
      res.stdout.split('\n').find((l) => l.trim().startsWith(`${set} on ${task}: `)) ?? `no line for ${set} on ${task}`;
    const colour = line('colour-question features', 'color');
    expect(colour).toMatch(/^ {2}colour-question features on color: -?\d+ \.\. -?\d+ points across 3 seeds \(median -?\d+; mean /);
    expect(line('shape-question features', 'shape')).toMatch(/points across 3 seeds/);

    // The printed numbers are the stored replication's, and those are the three experiments' own results.
    let replicationBefore: ReplicatedEffect | undefined;
    const opened = Workspace.open(ws);
    try {
      const stores = new Stores(opened.db, ws);
      const [replication] = stores.replications.list();
      expect(replication!.experimentIds).toHaveLength(3);
      const saes = replication!.experimentIds.map((id) => stores.experiments.get(id).spec.saeId);
      expect(new Set(saes).size).toBe(3);
      const effect = replication!.results!.effects.find((e) => e.set === 'colour-question features' && e.task === 'color')!;
      replicationBefore = effect;
      expect(effect.perSeed.map((p) => p.saeSeed)).toEqual([0, 1, 2]);
      for (const p of effect.perSeed) {
        const conditions = stores.experiments.get(p.experimentId).results!.conditions;
        const acc = (id: string) => conditions.find((c) => c.id === id)!.byTask.find((g) => g.key === 'color')!.accuracy;
        expect(p.effect).toBeCloseTo(acc(effect.condition) - acc('baseline'), 12);
      }
      const pts = (v: number) => `${v > 0 ? '+' : ''}${(v * 100).toFixed(0)}`;
      expect(colour).toContain(`: ${pts(effect.min)} .. ${pts(effect.max)} points across 3 seeds (median ${pts(effect.median)}; `);
      expect(colour).toContain(`per seed ${effect.perSeed.map((p) => pts(p.effect)).join(', ')})`);
    } finally {
      opened.close();
    }

    // The same replication through the channel the app uses: checked before anything is made, then run.
    const b = new Backend({ transport: 'http', workerEntry, taskWorkerEntry, sessionHostEntry, configDir: tmpDir(), pinnedWorkspace: ws });
    try {
      await b.invoke('workspace.open', {});
      const call = b.call.bind(b);
      const experiments = (await call('experiments.list', {})).sort((x, y) => x.id - y.id);
      const runs = experiments.slice(1).map((x) => ({ saeId: x.spec.saeId, analysisId: x.spec.analysisId }));
      const spec = experiments[0]!.spec;
      const refused = await b.invoke('replications.start', { spec, runs: [runs[0]!, { ...runs[1]!, analysisId: runs[0]!.analysisId }] });
      expect(refused.ok).toBe(false);
      expect(!refused.ok && refused.error.message).toMatch(/^Analysis \d+ is of SAE \d+, not SAE \d+\.$/);
      expect((await b.invoke('replications.start', { spec, runs: [runs[0]!, runs[0]!] })).ok).toBe(false);
      expect(await call('experiments.list', {})).toHaveLength(3);
      const started = await call('replications.start', { spec: { ...spec, name: 'again' }, runs });
      // Listen for every job before awaiting any (a later one may finish first).
      const ended = await Promise.all(started.jobs.map((job) => untilJob(b, job.id, isDone)));
      expect(ended.map((j) => [j.state, j.error])).toEqual(started.jobs.map(() => ['succeeded', null]));
      const again = (await call('replications.list', {})).find((r) => r.id === started.replication.id)!;
      expect(again.results!.seeds).toBe(2);
      const effect = again.results!.effects.find((e) => e.set === 'colour-question features' && e.task === 'color')!;
      expect(effect.perSeed.map((p) => p.saeSeed)).toEqual([1, 2]);
      // Same SAEs, analyses, items and seeds as the demo's runs: the same effects.
      const before = replicationBefore!.perSeed.slice(1).map((p) => p.effect);
      expect(effect.perSeed.map((p) => p.effect)).toEqual(before);
    } finally {
      await b.close();
    }
  }, 420_000);
});
