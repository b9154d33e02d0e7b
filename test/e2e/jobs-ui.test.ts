/**
 * End to end: the built renderer in headless Chromium, over `ocular serve` on a temp folder and again
 * in the desktop app (its main process under Node, test/helpers/app.ts): create a workspace, see the
 * empty state, run a self-test to 100% and success, cancel another; models, diagnostics, evaluation,
 * harvest and SAE training pages.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../helpers/browser';
import { DESKTOP, OVER, startApp, type RunningApp } from '../helpers/app';
import { gemmaGraphsDir, repoRoot, tmpDir } from '../helpers/tmp';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** Add a model folder on the Models page: typed in a browser, picked in the native dialog on the desktop. */
async function addModel(page: Page, app: RunningApp, modelDir: string): Promise<void> {
  if (app.desktop) {
    await app.answerFolderDialog(modelDir);
    await page.getByRole('button', { name: 'Add model folder…' }).click();
  } else {
    await page.getByLabel('Model folder or .onnx file on this machine').fill(modelDir);
    await page.getByRole('button', { name: 'Add model' }).click();
  }
}

/** Open the app, create its workspace and register a model folder on the Models page. */
async function createWorkspaceWithModel(page: Page, app: RunningApp, modelDir: string): Promise<void> {
  await page.goto(app.url);
  await page.getByRole('button', { name: 'Create workspace' }).click();
  await page.getByTestId('empty-state').waitFor();
  await page.getByRole('link', { name: 'Models' }).click();
  await addModel(page, app, modelDir);
  await page.getByTestId('model-detail').waitFor();
}

/** On the Evaluate page, generate a one-item-per-cell benchmark and wait for its 21 items. */
async function generateBenchmark(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'Evaluate', exact: true }).click();
  await page.getByLabel('Items per task & difficulty').fill('1');
  await page.getByRole('button', { name: 'Generate benchmark' }).click();
  await page.getByText('21 items').waitFor({ timeout: 30_000 });
}

async function jobState(page: Page, id: number): Promise<string | null> {
  return page.getByTestId(`job-row-${id}`).getAttribute('data-state');
}

describe(`UI ${OVER}`, () => {
  it('creates a workspace, runs a self-test to completion and cancels another', async () => {
    const dir = path.join(tmpDir(), 'lab-workspace');
    const serve = await startApp(['--workspace', dir, '--port', '0']);
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    try {
      await page.goto(serve.url);
      // The transport the client took: the preload's bridge in the desktop app, HTTP and WebSocket in a browser.
      expect(await page.evaluate(() => typeof (window as { ocular?: { invoke?: unknown } }).ocular?.invoke)).toBe(
        DESKTOP ? 'function' : 'undefined',
      );
      await expect.poll(() => page.getByText('Welcome to Ocular').isVisible()).toBe(true);
      await page.getByRole('button', { name: 'Create workspace' }).click();
      await page.getByTestId('empty-state').waitFor();
      expect(await page.getByTestId('workspace-path').textContent()).toBe(dir);

      await page.getByRole('button', { name: 'Run self-test' }).click();
      const row1 = page.getByTestId('job-row-1');
      await row1.waitFor();
      // Watch it move: some intermediate progress, then 100% and succeeded.
      const seen = new Set<string>();
      await expect
        .poll(
          async () => {
            seen.add((await row1.getByTestId('job-progress').textContent()) ?? '');
            return jobState(page, 1);
          },
          { timeout: 30_000, interval: 100 },
        )
        .toBe('succeeded');
      expect(await row1.getByTestId('job-progress').textContent()).toBe('100%');
      expect(await row1.getByTestId('job-state').textContent()).toBe('succeeded');
      expect([...seen].some((p) => p !== '0%' && p !== '100%')).toBe(true);

      await page.getByRole('button', { name: 'Start self-test' }).click();
      const row2 = page.getByTestId('job-row-2');
      await row2.waitFor();
      await expect.poll(() => jobState(page, 2), { timeout: 10_000 }).toBe('running');
      await row2.getByRole('button', { name: 'Cancel' }).click();
      await expect.poll(() => jobState(page, 2), { timeout: 15_000 }).toBe('cancelled');
      expect(await row2.getByTestId('job-state').textContent()).toBe('cancelled');
      // A cancelled self-test is resumable, and the UI offers it.
      expect(await row2.getByRole('button', { name: 'Resume' }).isVisible()).toBe(true);
      expect(consoleErrors).toEqual([]);
    } finally {
      await page.close();
      await serve.stop();
    }
  });

  // `ocular serve --read-only`: the desktop app has no read-only mode.
  it.skipIf(DESKTOP)('shows the read-only refusal to the user', async () => {
    const dir = path.join(tmpDir(), 'ro');
    const writer = await startApp(['--workspace', dir, '--port', '0']);
    await fetch(`${writer.url}api/invoke/workspace.create`, { method: 'POST', body: '{}' });
    await writer.stop();
    const serve = await startApp(['--workspace', dir, '--port', '0', '--read-only']);
    const page = await browser.newPage();
    try {
      await page.goto(serve.url);
      await page.getByTestId('read-only-chip').waitFor();
      await page.getByRole('link', { name: 'Jobs' }).click();
      // Editing controls are disabled, and say why.
      const start = page.getByRole('button', { name: 'Start self-test' });
      expect(await start.isDisabled()).toBe(true);
      await page.getByTestId('read-only-control').first().hover();
      await expect.poll(() => page.getByRole('tooltip').textContent()).toContain('Read-only');
      // The backend refuses the call anyway, whoever sends it.
      const refused = await fetch(`${serve.url}api/invoke/jobs.start`, { method: 'POST', body: '{"kind":"selftest"}' }).then((r) =>
        r.json(),
      );
      expect(refused.error.message).toContain("read-only: 'jobs.start' would change it and was refused");
    } finally {
      await page.close();
      await serve.stop();
    }
  });
});

describe(`Models page ${OVER}`, () => {
  it('adds the real Gemma-3 graph folder and shows its towers, what Ocular can do with it and a plan for real sizes', async () => {
    const gemma = gemmaGraphsDir();
    const dir = path.join(tmpDir(), 'models-ws');
    const serve = await startApp(['--workspace', dir, '--port', '0']);
    const page = await browser.newPage();
    try {
      await createWorkspaceWithModel(page, serve, gemma);
      expect(await page.getByTestId('tower-decoder').textContent()).toBe('34 layers · width 2560 · 204 taps');
      expect(await page.getByTestId('tower-vision_encoder').textContent()).toBe('27 layers · width 1152 · 162 taps');
      // What Ocular can do with it, up front: without config.json the family is unknown.
      expect(await page.getByTestId('model-capabilities').textContent()).toMatch(/^generate: noconfig.json names no model_type/);
      // The plan: 18.77 GiB of fp32 weights + 34 layers' KV at 4096 tokens + last-position logits.
      await expect.poll(() => page.getByTestId('plan-memory').textContent()).toMatch(/^Memory 19\.83 GiB .*fits in 24 GiB/);
      await page.getByLabel('Batch').fill('2');
      await page.getByLabel('Context tokens').fill('1024');
      await page.getByLabel('Taps (comma-separated)').fill('blocks.20.hook_resid_post, vision.blocks.10.hook_resid_post');
      await page.getByRole('button', { name: 'Estimate' }).click();
      await expect.poll(() => page.getByTestId('plan-memory').textContent()).toMatch(/^Memory 19\.30 GiB /);
      expect(await page.getByRole('table', { name: 'Plan' }).textContent()).toMatch(
        /KV cache272\.0 MiBpast_key_values\.\*\.key: 34 × \[2, 4, 1024, 256\] float32/,
      );
      await page.getByLabel('Taps (comma-separated)').fill('blocks.34.hook_resid_post');
      await page.getByRole('button', { name: 'Estimate' }).click();
      await page.getByText("Unknown tap 'blocks.34.hook_resid_post'").waitFor();
      await addModel(page, serve, dir);
      await page.getByTestId('error-alert').waitFor();
      expect(await page.getByTestId('error-alert').textContent()).toMatch(/is not a model folder: it has no .onnx files/);
    } finally {
      await page.close();
      await serve.stop();
    }
  });
});

describe(`Settings > Diagnostics ${OVER}`, () => {
  it('shows whether the CUDA execution provider is installed, from a pool process', async () => {
    const serve = await startApp(['--workspace', path.join(tmpDir(), 'diag'), '--port', '0']);
    const page = await browser.newPage();
    try {
      await page.goto(serve.url);
      await page.getByRole('link', { name: 'Settings' }).click();
      const cell = page.getByTestId('cuda-provider');
      await cell.waitFor({ timeout: 20_000 });
      expect(await cell.textContent()).toMatch(/^(not installed|installed \(.+\))$/);
    } finally {
      await page.close();
      await serve.stop();
    }
  });
});

describe(`Evaluate page ${OVER}`, () => {
  it('generates the benchmark, evaluates a model, shows accuracy with CIs and the token-limit warning', async () => {
    const llava = path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-llava');
    const dir = path.join(tmpDir(), 'eval-ws');
    const serve = await startApp(['--workspace', dir, '--port', '0']);
    const page = await browser.newPage();
    try {
      await createWorkspaceWithModel(page, serve, llava);
      await generateBenchmark(page);
      await page.getByLabel('Model', { exact: true }).click();
      await page.getByRole('option', { name: 'tiny-llava' }).click();
      await page.getByLabel('Dataset', { exact: true }).click();
      await page.getByRole('option').first().click();
      await page.getByLabel('Max new tokens').fill('2');
      await page.getByRole('button', { name: 'Evaluate', exact: true }).click();
      await expect
        .poll(
          async () =>
            (await page
              .getByTestId('overall-accuracy')
              .textContent()
              .catch(() => '')) ?? '',
          { timeout: 60_000 },
        )
        .toMatch(/overall \(\d+\/21\), 95% CI/);
      await page.getByTestId('token-limit-warning').waitFor();
      expect(await page.getByTestId('token-limit-warning').textContent()).toMatch(/hit the token limit of 2/);
      expect(await page.getByTestId('accuracy-chart').locator('canvas').count()).toBe(1);
      // The predictions page is a separate query that refreshes after the summary: wait for it rather than race it.
      await expect.poll(() => page.getByRole('table', { name: 'Predictions' }).getByRole('row').count(), { timeout: 15_000 }).toBe(22);
    } finally {
      await page.close();
      await serve.stop();
    }
  });
});

describe(`Activations and SAEs pages ${OVER}`, () => {
  it('shows the disk estimate, harvests chosen taps, then trains an SAE on them with live curves', async () => {
    const llava = path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-llava');
    const serve = await startApp(['--workspace', path.join(tmpDir(), 'harvest-ws'), '--port', '0']);
    const page = await browser.newPage();
    try {
      await createWorkspaceWithModel(page, serve, llava);
      await generateBenchmark(page);
      await page.getByRole('link', { name: 'Activations' }).click();
      await page.getByLabel('Model', { exact: true }).click();
      await page.getByRole('option', { name: 'tiny-llava' }).click();
      await page.getByLabel('Dataset', { exact: true }).click();
      await page.getByRole('option').first().click();
      await page.getByLabel('Taps').click();
      await page.getByRole('option', { name: 'blocks.1.hook_resid_post', exact: true }).click();
      await page.getByRole('option', { name: 'vision.blocks.0.hook_resid_post', exact: true }).click();
      await page.keyboard.press('Escape');
      await page.getByLabel('Item limit').fill('4');
      await page.getByTestId('harvest-estimate').waitFor();
      expect(await page.getByTestId('harvest-estimate').textContent()).toMatch(/^About [\d.]+ (MB|GB) on disk/);
      await page.getByRole('button', { name: 'Harvest', exact: true }).click();
      const row = page.getByTestId('harvest-1');
      await expect
        .poll(async () => (await row.textContent().catch(() => '')) ?? '', { timeout: 60_000 })
        .toMatch(/blocks.1.hook_resid_post, vision.blocks.0.hook_resid_post4\d+ \/ 68/);

      // Train SAE wizard: model -> tap -> harvest -> architecture, estimate, then a live run page.
      await page.getByRole('link', { name: 'SAEs' }).click();
      const wizard = page.getByTestId('train-sae-wizard');
      await wizard.getByLabel('Model', { exact: true }).click();
      await page.getByRole('option', { name: 'tiny-llava' }).click();
      await wizard.getByRole('button', { name: 'Next' }).click();
      await wizard.getByLabel('Tap', { exact: true }).click();
      await page.getByRole('option', { name: 'blocks.1.hook_resid_post', exact: true }).click();
      await wizard.getByRole('button', { name: 'Next' }).click();
      await wizard.getByLabel('Harvest', { exact: true }).click();
      // Training from the model (no shards kept) is offered for each dataset, after the harvests.
      await page
        .getByRole('option', { name: /^From the model, no shards kept: / })
        .first()
        .waitFor({ state: 'visible' });
      await page.getByRole('option').first().click();
      await wizard.getByRole('button', { name: 'Next' }).click();
      await wizard.getByLabel('Expansion', { exact: true }).fill('2');
      await wizard.getByLabel('k', { exact: true }).fill('4');
      await wizard.getByLabel('Steps').fill('120');
      await wizard.getByLabel('Batch', { exact: true }).fill('32');
      await wizard.getByLabel('Learning rate').fill('1e-3');
      expect(await wizard.getByLabel(/^Normalise activations/).isChecked()).toBe(true);
      await expect
        .poll(
          async () =>
            (await page
              .getByTestId('train-estimate')
              .textContent()
              .catch(() => '')) ?? '',
          { timeout: 10_000 },
        )
        .toMatch(/d_in 32 → 64 features .* of memory/);
      await wizard.getByRole('button', { name: 'Train', exact: true }).click();
      await expect.poll(async () => page.getByTestId('training-state').textContent(), { timeout: 60_000 }).toBe('succeeded');
      await expect
        .poll(async () => (await page.getByTestId('training-latest').textContent()) ?? '', { timeout: 10_000 })
        .toMatch(/^step 120: FVU \d\.\d{3}.*L0 4\.0/);
      for (const curve of ['curve-loss', 'curve-fvu', 'curve-l0', 'curve-dead'])
        await expect.poll(() => page.getByTestId(curve).locator('canvas').count(), { timeout: 10_000 }).toBe(1);
      await expect
        .poll(
          async () =>
            (await page
              .getByTestId('sae-1')
              .textContent()
              .catch(() => '')) ?? '',
        )
        .toMatch(/topk k=4blocks.1.hook_resid_post64/);
    } finally {
      await page.close();
      await serve.stop();
    }
  });
});
