/**
 * End to end in headless Chromium (over `ocular serve`, and in the desktop app): the Circuits page on
 * a workspace prepared through the CLI on the bundled model (benchmark, harvest of every layer's
 * hook_mlp_in / hook_mlp_out, a transcoder set, an analysis of each transcoder). From the page: trace
 * a colour question's graph (a job with progress), see its image-patch input nodes on the image, move
 * the prune slider and see fewer nodes (each re-pruned on the server), open a feature node's page;
 * no layout defects or serious axe violations at 1024 px; and (over serve) a read-only server shows
 * the saved graph without the trace form.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, OVER, startApp } from '../helpers/app';
import { launchBrowser } from '../helpers/browser';
import { runCli } from '../helpers/cli';
import { repoRoot } from '../helpers/tmp';
import { axeViolations, layoutProblems } from '../helpers/ui-checks';

const DEMO = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm');
let browser: Browser;
let root: string;
let ws: string;
let bench: string;

const cli = async (args: string[], timeout: number) => {
  const r = await runCli(args, timeout);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
};

beforeAll(async () => {
  browser = await launchBrowser();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-circuits-e2e-'));
  ws = path.join(root, 'ws');
  bench = path.join(root, 'bench');
  await cli(['dataset', 'synth', '--out', bench, '--seed', '5', '--per-cell', '2'], 60_000);
  const taps = [0, 1, 2].flatMap((l) => ['--tap', `blocks.${l}.hook_mlp_in`, '--tap', `blocks.${l}.hook_mlp_out`]);
  await cli(['harvest', '--workspace', ws, '--model', DEMO, '--dataset', bench, ...taps, '--dtype', 'fp32', '--device', 'cpu'], 240_000);
  const set = JSON.parse(
    await cli(
      ['circuit', 'train-set', '--workspace', ws, '--harvest', '1', '--expansion', '4', '--k', '8', '--steps', '200', '--batch', '256'],
      240_000,
    ).then(() => cli(['sae', 'list', '--workspace', ws, '--json'], 60_000)),
  ) as Array<{ id: number }>;
  for (const sae of set) await cli(['analyze', '--workspace', ws, '--sae', String(sae.id), '--harvest', '1', '--top', '5'], 240_000);
}, 900_000);

afterAll(async () => {
  await browser?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const counts = async (page: Page) => {
  const text = (await page.getByTestId('circuit-counts').textContent()) ?? '';
  const m = /^(\d+) nodes \((\d+) features\) · (\d+) edges$/.exec(text);
  expect(m, text).not.toBeNull();
  return { nodes: Number(m![1]), features: Number(m![2]), edges: Number(m![3]) };
};

describe(`the Circuits page ${OVER}`, () => {
  let graphId = 0;

  it('traces a graph from a dataset item, draws its image-patch inputs on the image, prunes with the slider and opens a feature page', async () => {
    const serve = await startApp(['--workspace', ws, '--port', '0']);
    const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
    try {
      await page.goto(serve.url);
      await page.getByRole('link', { name: 'Circuits' }).click();
      await page.getByRole('heading', { name: 'Circuits', level: 2 }).waitFor();
      // A colour question about a dataset item: the prompt comes from the item.
      await expect.poll(() => page.getByLabel('Transcoder set').textContent()).toMatch(/set \d+ \(3 layers\)/);
      await expect.poll(() => page.getByLabel('Dataset').textContent()).toMatch(/benchmark|bench/);
      await page.getByLabel('Item').click();
      await page
        .getByRole('option', { name: /\[color\]/ })
        .first()
        .click();
      await expect.poll(() => page.getByLabel('Prompt').inputValue()).toMatch(/colou?r/i);
      await page.getByRole('button', { name: 'Trace' }).click();
      await expect.poll(() => page.url(), { timeout: 120_000 }).toMatch(/#\/circuits\/\d+$/);
      graphId = Number(/(\d+)$/.exec(page.url())![1]);
      await page.getByTestId('circuit-view').waitFor();

      // What produced the graph is on the page.
      expect(await page.getByTestId('circuit-method').textContent()).toBe('method: linearised-backward');
      // Image-patch input nodes drawn on the image, and as input nodes in the graph.
      await page.getByTestId('circuit-image').locator('img').waitFor();
      const patches = await page.getByTestId('patch-node').count();
      expect(patches).toBeGreaterThan(0);
      expect(await page.locator('[data-testid="circuit-node"][data-kind="embedding"][data-modality="image-patch"]').count()).toBe(patches);
      expect(await page.locator('[data-testid="circuit-node"][data-kind="output"]').count()).toBe(1);
      const before = await counts(page);
      expect(before.features).toBeGreaterThan(1);
      expect(await page.locator('[data-testid="circuit-node"][data-kind="feature"]').count()).toBe(before.features);

      await expect(axeViolations(page)).resolves.toEqual([]);
      await expect(layoutProblems(page)).resolves.toEqual([]);

      // The prune slider: a smaller influence share, re-pruned on the server, keeps fewer nodes.
      const slider = page.getByRole('slider', { name: 'Influence share kept' });
      await slider.focus();
      await page.keyboard.press('Home');
      await expect.poll(async () => (await counts(page)).features, { timeout: 20_000 }).toBeLessThan(before.features);
      const after = await counts(page);
      expect(after.nodes).toBeLessThan(before.nodes);
      expect(await slider.getAttribute('aria-valuetext')).toBe('5%');
      expect(await page.locator('[data-testid="circuit-node"][data-kind="feature"]').count()).toBe(after.features);

      // The attention panel: the rollout drawn on the image.
      await page.getByRole('combobox', { name: /Drawn on the image/ }).click();
      await page.getByRole('option', { name: 'Attention rollout' }).click();
      await page.getByRole('img', { name: /attention rollout from the answer position/ }).waitFor();
      await page.getByRole('combobox', { name: /Drawn on the image/ }).click();
      await page.getByRole('option', { name: 'Attention, layer 2 head 0' }).click();
      await page.getByRole('img', { name: /attention of layer 2 head 0/ }).waitFor();

      // A feature node opens that feature's page.
      const node = page.locator('a[data-testid="circuit-node"][data-kind="feature"]').first();
      const href = (await node.getAttribute('href'))!;
      const [, analysis, feature] = /^#\/features\/(\d+)\/(\d+)$/.exec(href)!;
      const name = (await node.getAttribute('aria-label'))!;
      expect(name).toMatch(new RegExp(`^Feature ${feature} of layer \\d `));
      await node.click();
      await expect.poll(() => page.url()).toMatch(new RegExp(`#/features/${analysis}/${feature}$`));
      await expect.poll(() => page.getByTestId('feature-title').textContent(), { timeout: 20_000 }).toBe(`Feature ${feature}`);
    } finally {
      await page.close();
      await serve.stop();
    }
  }, 300_000);

  it('traces your own image (sent as bytes, kept in the workspace) against a contrast token', async () => {
    const item = fs
      .readFileSync(path.join(bench, 'items.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { task: string; image: string; question: string; answer: { value: string } })
      .find((i) => i.task === 'color' && i.answer.value !== 'red')!;
    const serve = await startApp(['--workspace', ws, '--port', '0']);
    const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
    try {
      await page.goto(`${serve.url}#/circuits`);
      await page.getByRole('button', { name: 'your image' }).click();
      await page.getByTestId('image-drop').locator('input[type="file"]').setInputFiles(path.join(bench, item.image));
      await page.getByRole('img', { name: /^Your image:/ }).waitFor();
      await page.getByLabel('Prompt').fill(item.question);
      await page.getByLabel('Target token').fill(` ${item.answer.value}`);
      await page.getByLabel('Contrast token').fill(' red');
      await page.getByRole('button', { name: 'Trace' }).click();
      await expect.poll(() => page.url(), { timeout: 120_000 }).toMatch(/#\/circuits\/\d+$/);
      const id = Number(/(\d+)$/.exec(page.url())![1]);
      expect(id).toBeGreaterThan(graphId);
      await page.getByTestId('circuit-view').waitFor();
      expect(await page.getByRole('heading', { level: 3, name: /^Graph \d+: / }).textContent()).toBe(
        `Graph ${id}: ' ${item.answer.value}' − ' red'`,
      );
      expect(await page.getByTestId('patch-node').count()).toBeGreaterThan(0);
      expect(fs.readdirSync(path.join(ws, 'blobs', 'circuits', 'inputs'))).toHaveLength(1);

      // The graph as Neuronpedia's graph JSON, saved as a file: its image patches are listed in the metadata.
      const [saved] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export JSON (Neuronpedia)' }).click(),
      ]);
      expect(saved.suggestedFilename()).toBe(`ocular-circuit-${id}.json`);
      const graph = JSON.parse(fs.readFileSync((await saved.path())!, 'utf8')) as {
        metadata: { prompt: string; ocular: { image_patches: unknown[] } };
        nodes: Array<{ feature_type: string; ctx_idx: number }>;
        links: unknown[];
      };
      expect(graph.metadata.prompt).toBe(item.question);
      expect(graph.metadata.ocular.image_patches.length).toBeGreaterThan(0);
      expect(graph.nodes.filter((n) => n.feature_type === 'logit')).toHaveLength(1);
      expect(graph.nodes.some((n) => n.feature_type === 'cross layer transcoder')).toBe(true);
      expect(graph.links.length).toBeGreaterThan(0);
    } finally {
      await page.close();
      await serve.stop();
    }
  }, 180_000);

  it.skipIf(DESKTOP)(
    'a read-only server shows a saved graph, and offers no trace',
    async () => {
      expect(graphId).toBeGreaterThan(0);
      const serve = await startApp(['--workspace', ws, '--port', '0', '--read-only']);
      const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
      try {
        await page.goto(`${serve.url}#/circuits/${graphId}`);
        await page.getByTestId('circuit-view').waitFor();
        expect(await page.getByTestId('patch-node').count()).toBeGreaterThan(0);
        expect(await page.getByRole('button', { name: 'Trace' }).count()).toBe(0);
        await expect(page.getByTestId('saved-graphs').textContent()).resolves.toMatch(new RegExp(`#${graphId}: `));
      } finally {
        await page.close();
        await serve.stop();
      }
    },
    120_000,
  );
});
