/**
 * A VLM job runs its pipeline in a worker thread with sessions in the backend's shared pool; killing
 * the pool process mid-generation fails the job with the cause, and the backend keeps working.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../src-main/contract/contract';
import type { Backend } from '../../src-main/core/backend/backend';
import { backendWithWorkspace } from '../helpers/backend';
import { repoRoot, tmpDir } from '../helpers/tmp';
import { jobResult } from '../../src-main/contract/job-results';

const LLAVA = path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-llava');
const reference = JSON.parse(fs.readFileSync(path.join(LLAVA, 'reference.json'), 'utf8')) as {
  prompts: string[];
  greedy_tokens: number[][];
  max_new_tokens: number;
};
const items = reference.prompts.map((prompt, i) => ({ image: path.join(LLAVA, 'test-images', `${i}.png`), prompt }));

function finished(b: Backend, id: number): Promise<Job> {
  return new Promise((resolve) => {
    const off = b.onEvent((e) => {
      if (e.type === 'job.updated' && e.job.id === id && !['queued', 'running'].includes(e.job.state)) {
        off();
        resolve(e.job);
      }
    });
  });
}

describe('vlm-generate job', () => {
  it('answers a batch of 8 images in a worker thread through the shared pool', async () => {
    const b = await backendWithWorkspace();
    const job = b.startTrustedJob('vlm-generate', { model: LLAVA, items, maxNewTokens: reference.max_new_tokens, device: 'cpu' });
    const done = await finished(b, job.id);
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    const result = jobResult(done, 'vlm-generate');
    expect(result.family).toBe('llava');
    expect(result.outputs.map((o) => o.tokenIds)).toEqual(reference.greedy_tokens);
  });

  it('fails with the cause when its pool process is killed, and the next job still runs', async () => {
    const b = await backendWithWorkspace();
    const job = b.startTrustedJob('vlm-generate', { model: LLAVA, items, maxNewTokens: 8000, ignoreEos: true, device: 'cpu' });
    const outcome = finished(b, job.id);
    await new Promise((r) => setTimeout(r, 2500));
    for (const pid of await b.sessionPool().pids()) process.kill(pid, 'SIGKILL');
    const failed = await outcome;
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/killed by SIGKILL/);
    const again = b.startTrustedJob('vlm-generate', { model: LLAVA, items: items.slice(0, 2), maxNewTokens: 3, device: 'cpu' });
    expect((await finished(b, again.id)).state).toBe('succeeded');
  });
});

describe('ocular model generate', () => {
  it('prints answers for images and prompts, as JSON too', async () => {
    const { runCli } = await import('../helpers/cli');
    const res = await runCli([
      'model',
      'generate',
      LLAVA,
      '--image',
      items[0]!.image,
      '--image',
      items[1]!.image,
      '--prompt',
      items[0]!.prompt,
      '--prompt',
      items[1]!.prompt,
      '--max-new-tokens',
      String(reference.max_new_tokens),
      '--device',
      'cpu',
      '--json',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { outputs: Array<{ tokenIds: number[]; text: string }> };
    expect(out.outputs.map((o) => o.tokenIds)).toEqual(reference.greedy_tokens.slice(0, 2));
    expect(fs.readdirSync(LLAVA).some((f) => f.startsWith('.ocular'))).toBe(false);
  });
});

describe('model registry and the pool', () => {
  it('removing a model releases its sessions; unsupported families are flagged', async () => {
    const b = await backendWithWorkspace();
    const added = await b.invoke('models.add', { path: LLAVA });
    expect(added.ok).toBe(true);
    const id = (added as { result: { id: number; report: { warnings: string[] } } }).result.id;
    expect(
      (added as { result: { report: { warnings: string[] } } }).result.report.warnings.some((w) => w.includes('cannot generate')),
    ).toBe(false);
    const decoder = path.join(LLAVA, 'onnx', 'decoder_model_merged.onnx');
    const first = await b.sessionPool().load(decoder, 'cpu');
    expect((await b.sessionPool().load(decoder, 'cpu')).sessionId).toBe(first.sessionId);
    expect(await b.invoke('models.remove', { id })).toEqual({ ok: true, result: { removed: true } });
    expect((await b.sessionPool().load(decoder, 'cpu')).sessionId).not.toBe(first.sessionId);

    const foreign = tmpDir();
    fs.cpSync(LLAVA, foreign, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(foreign, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(foreign, 'config.json'), JSON.stringify({ ...config, model_type: 'florence2' }));
    const flagged = await b.invoke('models.add', { path: foreign });
    expect((flagged as { result: { report: { warnings: string[] } } }).result.report.warnings.join(' ')).toMatch(
      /Model family 'florence2'.*cannot generate with it yet/,
    );
  });
});
