import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startServe } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';

describe('ocular CLI', () => {
  it('prints help for the program and every command', async () => {
    const main = await runCli(['--help']);
    expect(main.code).toBe(0);
    for (const command of ['serve', 'demo', 'workspace', 'selftest', 'model', 'dataset', 'eval', 'harvest', 'train', 'sae']) {
      expect(main.stdout).toContain(command);
      const help = await runCli([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout).toMatch(/^Usage: ocular /);
    }
  });

  it('refuses to serve on a non-loopback host without a token', async () => {
    const res = await runCli(['serve', '--workspace', tmpDir(), '--host', '0.0.0.0', '--port', '0']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Refusing to serve on 0\.0\.0\.0 without --token/);
  });

  it('rejects unknown options with usage', async () => {
    const res = await runCli(['serve', '--wokspace', 'x']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Unknown option '--wokspace'/);
  });

  it('creates and checks a workspace, and runs the self-test headless', async () => {
    const dir = path.join(tmpDir(), 'ws');
    expect((await runCli(['workspace', 'create', dir])).code).toBe(0);
    const selftest = await runCli(['selftest', '--workspace', dir, '--steps', '3', '--json']);
    expect(selftest.code).toBe(0);
    expect(JSON.parse(selftest.stdout)).toMatchObject({ kind: 'selftest', state: 'succeeded', progress: 1 });
    const check = await runCli(['workspace', 'check', dir, '--json']);
    expect(JSON.parse(check.stdout)).toMatchObject({ path: dir, counts: { jobs: 1 } });
    const notWorkspace = await runCli(['workspace', 'check', tmpDir()]);
    expect(notWorkspace.code).toBe(2);
    expect(notWorkspace.stderr).toMatch(/not an Ocular workspace/);
  });

  it('serves read-only: a mutating call is refused', async () => {
    const dir = path.join(tmpDir(), 'ws');
    await runCli(['workspace', 'create', dir]);
    const serve = await startServe(['--workspace', dir, '--port', '0', '--read-only']);
    try {
      expect(serve.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const res = await fetch(`${serve.url}api/invoke/jobs.start`, { method: 'POST', body: JSON.stringify({ kind: 'selftest' }) });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/read-only/);
    } finally {
      await serve.stop();
    }
  });
});
