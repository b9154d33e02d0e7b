/**
 * End to end in headless Chromium, over `ocular serve` and again in the desktop app (its main process
 * under Node, test/helpers/app.ts, where patch images come from ocular://app/files/): the demo workspace (`ocular demo`: benchmark,
 * evaluation, harvest, SAE, analysis) opened from the Features link; a feature's patch crops render
 * (pixels checked, not blank); keyboard review moves between features; a label is added by keys (the
 * annotator named once), survives a reload; a read-only server shows the features with every label
 * control disabled and saying why, and its backend refuses the edit anyway. The Experiments page
 * shows the demo's ablation experiment (conditions with CIs and p-values, the union-vs-single view,
 * per-item drill-down) and the per-layer probe plot.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../helpers/browser';
import { DESKTOP, OVER, startApp } from '../helpers/app';
import { runCli } from '../helpers/cli';

let browser: Browser;
let root: string;
let ws: string;
beforeAll(async () => {
  browser = await launchBrowser();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-browser-'));
  ws = path.join(root, 'demo');
  const demo = await runCli(['demo', '--workspace', ws, '--per-cell', '4', '--json'], 300_000);
  expect(demo.code, demo.stderr).toBe(0);
}, 320_000);
afterAll(async () => {
  await browser?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Open the Features page and move (with j) to the first feature whose examples include an image patch. */
async function openFeatureWithPatches(page: Page, url: string): Promise<string> {
  await page.goto(url);
  await page.getByRole('link', { name: 'Features' }).click();
  await page.locator('[data-testid^="feature-row-"]').first().click();
  for (let i = 0; i < 40; i++) {
    // Shown once the examples of the feature's default tab (image or text) have loaded.
    await page.getByTestId('examples-shown').waitFor();
    if ((await page.getByTestId('patch-crop').count()) > 0) return (await page.getByTestId('feature-title').textContent())!;
    const before = await page.getByTestId('feature-title').textContent();
    await page.locator('body').press('j');
    await expect
      .poll(() =>
        page
          .getByTestId('feature-title')
          .textContent()
          .catch(() => before),
      )
      .not.toBe(before);
  }
  throw new Error('no feature with image-patch examples among the first 40');
}

/** Whether a canvas holds a real picture: several distinct colours, not one flat fill. */
async function canvasColours(page: Page, testId: string): Promise<number> {
  return page
    .getByTestId(testId)
    .first()
    .evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const colours = new Set<number>();
      for (let i = 0; i < data.length; i += 4) if (data[i + 3]! > 0) colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      return colours.size;
    });
}

describe(`feature browser ${OVER}`, () => {
  it('shows patch crops and heatmaps, moves with j/k, saves a label that survives a reload', async () => {
    const serve = await startApp(['--workspace', ws, '--port', '0']);
    const page = await browser.newPage();
    try {
      const title = await openFeatureWithPatches(page, serve.url);
      await expect.poll(() => canvasColours(page, 'patch-crop'), { timeout: 10_000 }).toBeGreaterThan(3);
      await expect.poll(() => canvasColours(page, 'patch-heatmap'), { timeout: 10_000 }).toBeGreaterThan(3);
      // The density histogram is drawn when it scrolls into view.
      await page.getByRole('region', { name: 'Activation density' }).scrollIntoViewIfNeeded();
      await expect.poll(() => page.getByTestId('feature-histogram').locator('canvas').count(), { timeout: 10_000 }).toBe(1);
      expect(await page.getByTestId('ground-truth').first().textContent()).toMatch(/→/);
      expect(await page.getByTestId('feature-count').textContent()).toBe('512 features');
      // j moves to the next feature in list order, k back again.
      await page.locator('body').press('j');
      await expect.poll(() => page.getByTestId('feature-title').textContent()).not.toBe(title);
      await page.locator('body').press('k');
      await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(title);
      await page.getByTestId('feature-examples').waitFor();
      // A number key sets the status; the first edit in this browser asks the annotator's name, then
      // the cursor is in the label field.
      await page.locator('body').press('3');
      await page.getByTestId('annotator-name').fill('ada');
      await page.keyboard.press('Enter');
      await expect
        .poll(() =>
          page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.closest('[data-testid="label-editor"]') !== null),
        )
        .toBe(true);
      await page.keyboard.type('green diamond patches');
      await page.keyboard.press('Enter');
      // Saved: the feature's heading shows the stored label, and Enter handed focus back to the list.
      await expect.poll(() => page.getByTestId('feature-label').textContent(), { timeout: 10_000 }).toBe('“green diamond patches”');
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('feature-list');
      const feature = title.replace('Feature ', '');
      await page.reload();
      // The URL kept the feature; the label and status came back from the workspace.
      await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(title);
      await expect.poll(() => page.getByLabel('Label', { exact: true }).inputValue(), { timeout: 10_000 }).toBe('green diamond patches');
      await expect.poll(() => page.getByTestId('feature-status').textContent()).toBe('needs-review');
      await page.getByTestId('feature-search').fill(`#${feature}`);
      await expect
        .poll(async () => (await page.getByTestId(`feature-row-${feature}`).textContent()) ?? '', { timeout: 10_000 })
        .toContain('needs-review');
      await page.getByTestId('feature-search').fill('diamond');
      await expect.poll(() => page.getByTestId('feature-count').textContent()).toBe('1 features');
      await expect.poll(() => page.getByTestId(`feature-row-${feature}`).textContent()).toContain('green diamond patches');
    } finally {
      await page.close();
      await serve.stop();
    }
  });

  // `ocular serve --read-only`: the desktop app has no read-only mode.
  it.skipIf(DESKTOP)('a read-only server shows the features and refuses a label edit with a visible reason', async () => {
    const serve = await startApp(['--workspace', ws, '--port', '0', '--read-only']);
    const page = await browser.newPage();
    try {
      const title = await openFeatureWithPatches(page, serve.url);
      await expect.poll(() => canvasColours(page, 'patch-crop'), { timeout: 10_000 }).toBeGreaterThan(3);
      // The label controls are disabled, and say why.
      expect(await page.getByLabel('Label', { exact: true }).isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Save label' }).isDisabled()).toBe(true);
      await page.getByTestId('read-only-control').first().hover();
      await expect
        .poll(() => page.getByRole('tooltip').textContent())
        .toContain('Read-only: this server shows the workspace but does not accept changes');
      // A status key changes nothing.
      const status = await page.getByTestId('feature-status').textContent();
      await page.getByTestId('feature-list').focus();
      await page.keyboard.press('3');
      expect(await page.getByTestId('annotator-name').count()).toBe(0);
      expect(await page.getByTestId('feature-status').textContent()).toBe(status);
      // The backend refuses the edit anyway, whoever sends it.
      const refused = await fetch(`${serve.url}api/invoke/labels.set`, {
        method: 'POST',
        body: JSON.stringify({
          saeId: 1,
          feature: Number(title.replace('Feature ', '')),
          label: 'should not be saved',
          tags: [],
          confidence: null,
          status: 'labelled',
          annotator: 'ada',
        }),
      }).then((r) => r.json());
      expect(refused.error.message).toContain("read-only: 'labels.set' would change it and was refused");
    } finally {
      await page.close();
      await serve.stop();
    }
  });

  it('shows the demo experiment with controls, the interference view, item drill-down and probes per layer', async () => {
    const serve = await startApp(['--workspace', ws, '--port', '0']);
    const page = await browser.newPage();
    try {
      await page.goto(serve.url);
      await page.getByRole('link', { name: 'Experiments' }).click();
      await page.getByTestId('experiment-results').waitFor();
      for (const kind of ['baseline', 'intervention', 'union', 'random-set', 'random-direction'])
        expect(await page.getByTestId(`condition-${kind}`).count()).toBeGreaterThan(0);
      expect(await page.getByTestId('condition-intervention').first().textContent()).toMatch(/%.*\[.*%.*\]/);
      // Beside each raw p against the baseline, the Holm and BH adjusted ones across the table's conditions.
      expect(await page.getByTestId('condition-intervention').first().getByTestId('p-adjusted').textContent()).toMatch(
        /^Holm (<0\.001|\d\.\d{3}) · BH (<0\.001|\d\.\d{3})$/,
      );
      expect(await page.getByTestId('accuracy-chart').locator('canvas').count()).toBe(1);
      const interference = page.getByTestId('interference');
      expect(await interference.textContent()).toMatch(/sum of the two.*observed/);
      expect(await interference.getByRole('row').count()).toBe(4); // header, all, color, shape
      await page.getByLabel('Condition', { exact: true }).click();
      await page.getByRole('option', { name: 'shape-question features', exact: true }).click();
      await expect.poll(() => page.getByRole('table', { name: 'Items' }).getByRole('row').count()).toBeGreaterThan(10);
      await page.getByTestId('probe-chart').first().locator('canvas').waitFor();
    } finally {
      await page.close();
      await serve.stop();
    }
  });
});
