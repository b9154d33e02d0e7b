/**
 * The SAE-file part of the hostile-input corpus (test/fixtures/sae-hostile, made by
 * tools/make-sae-hostile.mjs from files the libraries wrote): every case goes through
 * `ocular sae import` into a workspace that already holds an SAE, and must be refused with a clear
 * one-line error while the workspace (database and blobs) stays byte-identical.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { saeCommand } from '../../src-main/cli/commands/sae';
import { OcularError } from '../../src-main/core/errors';
import { hashTree } from '../helpers/hash-tree';
import { repoRoot, tmpDir } from '../helpers/tmp';

const corpus = path.join(repoRoot, 'test', 'fixtures', 'sae-hostile');
const cases = JSON.parse(fs.readFileSync(path.join(corpus, 'cases.json'), 'utf8')) as Array<{ case: string; expect: string }>;

async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => undefined;
  try {
    return await fn();
  } finally {
    console.log = log;
  }
}

describe('hostile SAE files', () => {
  it(`refuses all ${cases.length} cases with a one-line error and leaves the workspace byte-identical`, async () => {
    const ws = path.join(tmpDir(), 'ws');
    await quiet(() =>
      saeCommand.run({ workspace: ws }, ['import', path.join(repoRoot, 'test', 'fixtures', 'sae-libs', 'saelens6-standard-f32')]),
    );
    const before = hashTree(ws);
    expect(Object.keys(before).some((f) => f.startsWith(path.join('blobs', 'saes', '1')))).toBe(true);
    let clear = 0;
    let unchanged = 0;
    const failures: string[] = [];
    for (const c of cases) {
      let error: unknown = null;
      try {
        await quiet(() => saeCommand.run({ workspace: ws }, ['import', path.join(corpus, c.case)]));
      } catch (err) {
        error = err;
      }
      const message = error instanceof Error ? error.message : '';
      // The CLI prints an OcularError as one line ("ocular sae: <message>", exit 2); anything else is a stack trace.
      if (error instanceof OcularError && !message.includes('\n') && new RegExp(c.expect).test(message)) clear++;
      else failures.push(`${c.case}: ${error === null ? 'accepted' : `${(error as Error).name}: ${message}`}`);
      const after = hashTree(ws);
      if (JSON.stringify(after) === JSON.stringify(before)) unchanged++;
      else failures.push(`${c.case}: changed the workspace`);
    }
    console.log(`SAE hostile corpus: ${cases.length} cases / ${clear} clear errors / ${unchanged} workspace unchanged`);
    expect(failures).toEqual([]);
    expect([clear, unchanged]).toEqual([cases.length, cases.length]);
  });

  it('refuses a missing workspace folder argument or SAE folder without creating anything', async () => {
    const ws = path.join(tmpDir(), 'never-created');
    await expect(saeCommand.run({ workspace: ws }, ['import', path.join(corpus, 'cfg-null')])).rejects.toThrow(
      /must hold a JSON object, not null/,
    );
    expect(fs.existsSync(ws)).toBe(false);
    await expect(saeCommand.run({ workspace: ws }, ['import', path.join(corpus, 'no-such-case')])).rejects.toThrow(/No SAE folder at/);
    expect(fs.existsSync(ws)).toBe(false);
  });
});
