/**
 * End to end in headless Chromium at 1024 px (over `ocular serve`, and in the desktop app): the Studies page
 * (explain, SAE-V data filter and its filtered-vs-random-vs-all comparison, patch masking, model diff) and the chat endpoint form in Settings, on a demo
 * workspace, each page checked with axe and for layout defects. The fine-tuned model for the diff is the demo
 * model with test/fixtures/vlm/demo-finetuned-exists's decoder (its `exists` answers negated by fine-tuning).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisStore } from '../../src-main/core/analysis/analysis-store';
import { LabelStore } from '../../src-main/core/analysis/label-store';
import { inspectModel } from '../../src-main/core/model/inspect';
import { ModelRegistry } from '../../src-main/core/model/registry';
import { Settings } from '../../src-main/core/store/settings';
import { Workspace } from '../../src-main/core/store/workspace';
import { OVER, startApp, type RunningApp } from '../helpers/app';
import { launchBrowser } from '../helpers/browser';
import { runCli } from '../helpers/cli';
import { repoRoot } from '../helpers/tmp';
import { axeViolations, layoutProblems } from '../helpers/ui-checks';

const DEMO = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm');
let browser: Browser;
let root: string;
let ws: string;
let app: RunningApp;

beforeAll(async () => {
  browser = await launchBrowser();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-studies-e2e-'));
  ws = path.join(root, 'demo');
  const demo = await runCli(['demo', '--workspace', ws, '--per-cell', '3', '--json'], 300_000);
  expect(demo.code, demo.stderr).toBe(0);
  const tuned = path.join(root, 'demo-finetuned');
  fs.cpSync(DEMO, tuned, { recursive: true });
  fs.copyFileSync(
    path.join(repoRoot, 'test', 'fixtures', 'vlm', 'demo-finetuned-exists', 'onnx', 'decoder_model_merged.onnx'),
    path.join(tuned, 'onnx', 'decoder_model_merged.onnx'),
  );
  const w = Workspace.open(ws, {});
  try {
    new ModelRegistry(w.db).add(inspectModel(tuned), 'demo fine-tuned (exists)');
  } finally {
    w.close();
  }
  app = await startApp(['--workspace', ws, '--port', '0']);
}, 340_000);
afterAll(async () => {
  await app?.stop();
  await browser?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function open(route: string): Promise<{ page: Page; errors: string[] }> {
  // browser.newPage: in the desktop project it gives the page the preload bridge.
  const page = await browser.newPage();
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.addInitScript(() => localStorage.setItem('ocular.annotator', 'ana'));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${app.url.replace(/\/$/, '')}/#/${route}`);
  return { page, errors };
}

async function checked(page: Page, errors: string[]) {
  expect([...(await layoutProblems(page)), ...(await axeViolations(page))]).toEqual([]);
  expect(errors).toEqual([]);
}

const read = <T>(fn: (w: Workspace) => T): T => {
  const w = Workspace.open(ws, { readOnly: true });
  try {
    return fn(w);
  } finally {
    w.close();
  }
};

describe(`the Studies page and the endpoint form ${OVER}`, () => {
  it('validates the chat endpoint, says when it is remote, and saves a loopback one', async () => {
    const { page, errors } = await open('settings');
    const url = page.getByLabel('Endpoint URL');
    await url.waitFor();
    await page.getByLabel('Model name').fill('qwen2.5-vl');
    await url.fill('ftp://127.0.0.1/v1');
    await page.getByText('http or https, not ftp:').waitFor();
    expect(await page.getByRole('button', { name: 'Save endpoint' }).isDisabled()).toBe(true);
    await url.fill('http://192.0.2.7:8080/v1');
    expect(await page.getByTestId('endpoint-remote').textContent()).toMatch(/not on this machine.*192\.0\.2\.7:8080/);
    await url.fill('http://127.0.0.1:8080/v1');
    expect(await page.getByTestId('endpoint-remote').count()).toBe(0);
    await checked(page, errors);
    await page.getByRole('button', { name: 'Save endpoint' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    expect(read((w) => new Settings(w.db).get('autointerp.endpoint'))).toEqual({
      url: 'http://127.0.0.1:8080/v1',
      model: 'qwen2.5-vl',
      multimodal: false,
    });
    await page.context().close();
  });

  it('explains features from the ground truth, shows scores and provenance, and accepts one into a label', async () => {
    const { page, errors } = await open('studies');
    await page.getByTestId('tab-explain').click();
    await page.getByLabel('Most active features').fill('3');
    await page.getByRole('button', { name: 'Explain features' }).click();
    const row = page.locator('[data-testid^="suggestion-"]').first();
    await row.waitFor({ timeout: 120_000 });
    expect(await page.locator('[data-testid^="suggestion-"]').count()).toBe(3);
    expect(await row.textContent()).toMatch(/ground truth · prompt .* · seed 0 · scored by ground-truth predicate/);
    expect(await row.textContent()).toMatch(/\d+% \[\d+%, \d+%\] \(n \d+\)/);
    await checked(page, errors);
    const feature = Number((await row.getAttribute('data-testid'))!.replace('suggestion-', ''));
    await page.getByRole('button', { name: `Accept explanation of #${feature}` }).click();
    await expect.poll(() => row.textContent()).toMatch(/accepted by ana/);
    const saeId = read((w) => new AnalysisStore(w.db).get(1).saeId);
    const label = read((w) => new LabelStore(w.db).get(saeId, feature));
    expect(label?.label).toBeTruthy();
    await page.context().close();
  });

  it('filters the dataset by L0 and shows the score histogram and the kept share', async () => {
    const { page, errors } = await open('studies');
    await page.getByTestId('tab-filter').click();
    await page.getByLabel('Score').click();
    await page.getByRole('option', { name: 'L0 (active features)' }).click();
    await page.getByRole('button', { name: 'Filter dataset' }).click();
    await page.getByTestId('filter-histogram').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('filter-kept').textContent()).toMatch(/^Kept (\d+) of (\d+) items \((4\d|50)\.\d%\) by l0, keep 0\.5/);
    expect(await page.getByTestId('filter-histogram').locator('canvas').count()).toBe(1);
    await checked(page, errors);
    await page.context().close();
  });

  it('compares SAEs trained on the filtered share, a random share and all items, with CIs, a chart and the report section', async () => {
    const { page, errors } = await open('studies');
    await page.getByTestId('tab-compare').click();
    const steps = page.getByLabel('Steps');
    await steps.fill('ten');
    await page.getByText('a whole number, not “ten”').waitFor();
    expect(await page.getByRole('button', { name: 'Compare shares' }).isDisabled()).toBe(true);
    await page.getByLabel('Held out').fill('1');
    await page.getByText('a positive number up to 0.99').waitFor();
    await page.getByLabel('Held out').fill('0.25');
    // Small runs: the point is the path from the form to the three arms, not the SAEs' quality.
    await steps.fill('20');
    await page.getByLabel('CE items').fill('4');
    await page.getByLabel('Filter by').click();
    await page.getByRole('option', { name: 'L0 (active features)' }).click();
    await page.getByRole('button', { name: 'Compare shares' }).click();
    await page.getByTestId('compare-result').waitFor({ timeout: 300_000 });
    for (const arm of ['filtered', 'random', 'all']) {
      const text = await page.getByTestId(`compare-arm-${arm}`).textContent();
      // FVU and CE recovered with bootstrap intervals, probe accuracy with its Wilson interval.
      expect(text).toMatch(new RegExp(`^${arm}\\d+ \\(\\d+ rows\\)(-?\\d+\\.\\d{3} \\[-?\\d+\\.\\d{3}, -?\\d+\\.\\d{3}\\]){2}`));
      expect(text).toMatch(/\d+\.\d% \[\d+\.\d%, \d+\.\d%\] \(n \d+\)#\d+$/);
    }
    expect(await page.getByTestId('compare-summary').textContent()).toMatch(/bootstrap over held-out items .*Wilson 95%/);
    expect(await page.getByRole('columnheader', { name: 'Probe accuracy [Wilson 95%]' }).count()).toBe(1);
    expect(await page.getByTestId('compare-chart').locator('canvas').count()).toBe(1);
    await checked(page, errors);
    const [saved] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'HTML report' }).click()]);
    const html = fs.readFileSync((await saved.path())!, 'utf8');
    expect(html).toContain('<h2 id="comparison">');
    expect(html).toMatch(/Comparison job \d+: l0 keep 0\.5/);
    expect(html).toMatch(/<td>random<\/td>/);
    await page.context().close();
  }, 400_000);

  it('masks patches, evaluates the copies and plots accuracy against the kept share for each score and random', async () => {
    const { page, errors } = await open('studies');
    await page.getByTestId('tab-mask').click();
    await page.getByLabel('Kept shares').fill('1.5');
    await page.getByText('shares in (0, 1]').waitFor();
    await page.getByLabel('Kept shares').fill('0.5');
    await page.getByRole('button', { name: 'Mask patches' }).click();
    await page.getByRole('button', { name: 'Evaluate them' }).click({ timeout: 150_000 });
    await page.getByTestId('mask-results').waitFor({ timeout: 300_000 });
    expect(await page.getByTestId('mask-chart').locator('canvas').count()).toBe(1);
    expect(await page.getByTestId('mask-row-random-0.5').textContent()).toMatch(/\d+\.\d% \[\d+\.\d%, \d+\.\d%\]/);
    expect(await page.getByTestId('mask-row-l0-0.5').textContent()).toMatch(/[+-]\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\]/);
    await checked(page, errors);
    await page.context().close();
  }, 400_000);

  it('diffs the demo model against its fine-tune and shows the changed task with the features that moved', async () => {
    const { page, errors } = await open('studies');
    await page.getByTestId('tab-diff').click();
    const pick = async (label: string, option: RegExp) => {
      await page.getByLabel(label, { exact: true }).click();
      await page.getByRole('option', { name: option }).click();
    };
    await pick('SAE', /^#1 /);
    await pick('Base model', /^ocular-demo-vlm$/);
    await pick('Fine-tuned model', /fine-tuned/);
    await pick('Dataset', /benchmark/);
    await page.getByRole('button', { name: 'Run diff' }).click();
    await page.getByTestId('diff-result').waitFor({ timeout: 300_000 });
    expect(await page.getByTestId('diff-fvu').textContent()).toMatch(/FVU: base 0\.\d+, fine-tuned \d\.\d+/);
    expect(await page.getByTestId('diff-task-exists').textContent()).toMatch(/exists \(changed\)/);
    expect(await page.getByTestId('diff-task-exists').textContent()).toMatch(/#\d+ [+-]/);
    expect(await page.getByTestId('diff-features-chart').locator('canvas').count()).toBe(1);
    await checked(page, errors);
    // The HTML report holds every study run above.
    const [saved] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'HTML report' }).click()]);
    expect(saved.suggestedFilename()).toBe('ocular-studies.html');
    const html = fs.readFileSync((await saved.path())!, 'utf8');
    for (const id of ['explanations', 'filter', 'comparison', 'masking', 'diff']) expect(html).toContain(`<h2 id="${id}">`);
    expect(html).toContain('exists (changed)');
    expect(html).toMatch(/accepted by ana/);
    expect(html).toMatch(/kept \d+ of \d+ items/);
    expect(html).toMatch(/random 50\.0%/);
    await page.context().close();
  }, 400_000);
});
