/**
 * End to end in headless Chromium (over `ocular serve`, and in the desktop app): a vision-tower
 * ablation experiment designed and run from the Experiments page, on a demo workspace whose SAE reads
 * the bundled model's vision tower (`ocular demo --sae-tap vision.blocks.2.hook_resid_post`). For a
 * vision SAE the designer offers patches (every one, or where the set's features fire) instead of
 * token kinds; the results say which patches were edited and report conditions with their controls.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OVER, startApp } from '../helpers/app';
import { launchBrowser } from '../helpers/browser';
import { runCli } from '../helpers/cli';
import { ExperimentStore } from '../../src-main/core/experiments/experiment-store';
import { Workspace } from '../../src-main/core/store/workspace';

const TAP = 'vision.blocks.2.hook_resid_post';
let browser: Browser;
let root: string;
let ws: string;
beforeAll(async () => {
  browser = await launchBrowser();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-vision-e2e-'));
  ws = path.join(root, 'demo');
  const demo = await runCli(['demo', '--workspace', ws, '--per-cell', '3', '--sae-tap', TAP, '--json'], 300_000);
  expect(demo.code, demo.stderr).toBe(0);
}, 320_000);
/** The workspace's experiments, read from its store beside the running app. */
function experiments() {
  const w = Workspace.open(ws, { readOnly: true });
  try {
    return new ExperimentStore(w.db).list();
  } finally {
    w.close();
  }
}
afterAll(async () => {
  await browser?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe(`a vision-tower experiment from the Experiments page ${OVER}`, () => {
  it("offers patches for a vision SAE, runs an ablation where the set's features fire, and shows its controls and statistics", async () => {
    const serve = await startApp(['--workspace', ws, '--port', '0']);
    const page = await browser.newPage();
    try {
      await page.goto(serve.url);
      await page.getByRole('link', { name: 'Experiments' }).click();
      await page.getByTestId('experiment-designer').waitFor();
      await page.getByLabel('Name', { exact: true }).fill('vision patches');
      await page.getByLabel('Analysis (SAE)').click();
      await page.getByRole('option', { name: '#1: SAE' }).click();
      await expect.poll(() => page.getByLabel('Dataset').textContent()).toMatch(/benchmark/);
      // A vision SAE: patches instead of token kinds.
      await page.getByLabel('Patches (vision tower)').waitFor();
      expect(await page.getByLabel('Apply at').count()).toBe(0);
      await page.getByLabel('Patches (vision tower)').click();
      await page.getByRole('option', { name: "where the set's features fire" }).click();
      await page.getByLabel('Tasks').click();
      await page.getByRole('option', { name: /^color \(\d+\)$/ }).click();
      await page.keyboard.press('Escape');
      await page.getByLabel('Picked by').first().click();
      await page.getByRole('option', { name: 'feature numbers' }).click();
      await page.getByLabel('Features, comma-separated').fill(Array.from({ length: 64 }, (_, i) => 2 * i).join(', '));
      await page.getByRole('button', { name: 'Remove feature set 2' }).click();
      await page.getByLabel('Random sets').fill('1');
      const existing = experiments();
      await page.getByRole('button', { name: 'Run experiment' }).click();
      await expect.poll(() => page.url()).toMatch(new RegExp(`#/experiments/${existing.length + 1}$`));
      await page.getByTestId('experiment-results').waitFor({ timeout: 150_000 });
      expect(await page.getByTestId('experiment-edit').textContent()).toBe(
        "zero at image tokens, only the patches where each set's features fire",
      );
      for (const kind of ['baseline', 'intervention', 'random-set', 'random-direction'])
        expect(await page.getByTestId(`condition-${kind}`).count()).toBeGreaterThan(0);
      expect(await page.getByTestId('condition-intervention').first().textContent()).toMatch(/random set 1: p /);
      // What ran is what the page asked for: the vision SAE, firing patches, the features typed.
      const ran = experiments().find((x) => x.name === 'vision patches')!;
      expect(ran.spec.patches).toBe('firing');
      expect(ran.spec.where).toBe('image');
      expect(ran.results!.conditions.find((c) => c.kind === 'intervention')!.shiftNorm).toBeGreaterThan(0);
    } finally {
      await page.close();
      await serve.stop();
    }
  }, 240_000);
});
