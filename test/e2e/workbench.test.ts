/**
 * End to end in headless Chromium over `ocular serve` on the demo workspace (`ocular demo`: benchmark,
 * evaluation, harvest, SAE, analysis, probes, an experiment), one block per item of the workbench issue:
 *   1. the annotator's keyboard loop at machine speed (30 labels, each on its own feature), history, review
 *   2. URLs: deep links survive a reload, back / forward, "copy link"
 *   3. feature pages: examples above the fold, modality tabs, quantile samples and "more", marked
 *      histogram, logit effects without special tokens, nearest features, colormap legend and outline mode
 *   4. your own image and prompt through the model with the SAE; steering from a feature
 *   5. search by content (token:, color:, promotes:)
 *   6. the experiment form: task picker, validation, stratified plan, progress and failure in place,
 *      named controls, kept across navigation
 *   7. read-only and shared serving
 *   8. no overflow or clipped labels and no serious axe violations on any page, at 1440x900 and 1024x700
 *   9. delivery: split chunks, brotli, long-lived caching, first paint of a feature page at 5 Mbps
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../helpers/browser';
import { runCli, startServe } from '../helpers/cli';
import { post } from '../helpers/server';
import { repoRoot } from '../helpers/tmp';
import { axeViolations, layoutProblems } from '../helpers/ui-checks';

let browser: Browser;
let root: string;
let ws: string;
let serve: Awaited<ReturnType<typeof startServe>>;
let base: string;
const SIZES: Array<[number, number]> = [
  [1440, 900],
  [1024, 700],
];

beforeAll(async () => {
  browser = await launchBrowser();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-workbench-'));
  ws = path.join(root, 'demo');
  const demo = await runCli(['demo', '--workspace', ws, '--per-cell', '4', '--json'], 300_000);
  expect(demo.code, demo.stderr).toBe(0);
  serve = await startServe(['--workspace', ws, '--port', '0']);
  base = serve.url.replace(/\/$/, '');
}, 340_000);
afterAll(async () => {
  await serve?.stop();
  await browser?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function call<T = any>(channel: string, body: unknown, at = base): Promise<T> {
  const r = await post(at, channel, body);
  if (!r.body.ok) throw new Error(`${channel}: ${r.body.error?.message}`);
  return r.body.result as T;
}

/** A fresh browser profile (its own localStorage / sessionStorage) at a size, optionally with the annotator named. */
async function open(route: string, options: { size?: [number, number]; annotator?: string; at?: string } = {}) {
  const [width, height] = options.size ?? SIZES[0]!;
  const context = await browser.newContext({ viewport: { width, height } });
  if (options.annotator) await context.addInitScript((name) => localStorage.setItem('ocular.annotator', name), options.annotator);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${options.at ?? base}/#/${route}`);
  return { context, page, errors };
}

const title = (page: Page) => page.getByTestId('feature-title').textContent();
const listOrder = async (n: number) =>
  (
    await call<{ features: Array<{ feature: number; label: string | null; status: string }> }>('features.list', {
      analysisId: 1,
      limit: n,
      sort: 'density',
      order: 'desc',
    })
  ).features;

describe('1. the annotator loop, keyboard first', () => {
  it('labels 30 features with keys at machine speed, every label on its own feature, the list never jumping', async () => {
    const { context, page, errors } = await open('features/1');
    try {
      await page.getByTestId('feature-title').waitFor();
      const before = await listOrder(31);
      // The name is asked once, before the first edit.
      await page.getByTestId('feature-list').focus();
      await page.keyboard.press('2');
      await page.getByTestId('annotator-name').fill('ada');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.evaluate(() => document.activeElement?.closest('[data-testid="label-editor"]') !== null)).toBe(true);
      // Esc leaves the field, back to the list.
      await page.keyboard.press('Escape');
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('feature-list');

      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('2');
        await page.keyboard.type(`auto label ${i}`);
        await page.keyboard.press('Enter');
        await page.keyboard.press('j');
      }
      // Saves drain in the background; each landed on the feature shown when it was typed.
      await expect
        .poll(async () => (await listOrder(30)).filter((f, i) => f.label === `auto label ${i}` && f.status === 'labelled').length, {
          timeout: 90_000,
          interval: 500,
        })
        .toBe(30);
      const after = await listOrder(31);
      expect(after.map((f) => f.feature)).toEqual(before.map((f) => f.feature));
      // The selection is on the 31st feature, in view, and the list was not scrolled back to the top.
      expect(page.url()).toMatch(new RegExp(`#/features/1/${before[30]!.feature}$`));
      const row = page.getByTestId(`feature-row-${before[30]!.feature}`);
      await expect.poll(() => row.getAttribute('aria-selected')).toBe('true');
      expect(await page.getByTestId('feature-list').evaluate((el) => el.scrollTop)).toBeGreaterThan(0);
      expect(await page.getByTestId(`feature-row-${before[29]!.feature}`).textContent()).toContain('auto label 29');

      // ? shows the keys; / searches.
      await page.keyboard.press('?');
      await page.getByTestId('key-help').waitFor();
      await page.keyboard.press('Escape');
      await page.getByTestId('feature-list').focus();
      await page.keyboard.press('/');
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('feature-search');

      // History: who, when, what.
      await page.goto(`${base}/#/features/1/${before[3]!.feature}`);
      const history = page.getByTestId('label-history');
      await expect.poll(() => history.textContent(), { timeout: 10_000 }).toContain('auto label 3');
      expect(await history.textContent()).toContain('ada');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }

    // Review mode: another annotator agrees (a) with one label and disagrees (d) with the next.
    const reviewer = await open(`features/1/${(await listOrder(1))[0]!.feature}`, { annotator: 'grace' });
    try {
      const p = reviewer.page;
      await p.getByLabel('Review labels').check();
      await p.getByTestId('review-bar').waitFor();
      await expect.poll(() => p.getByTestId('review-bar').textContent()).toContain('auto label 0');
      await p.getByTestId('feature-list').focus();
      await p.keyboard.press('a');
      await expect.poll(() => p.getByTestId('label-history').textContent(), { timeout: 10_000 }).toMatch(/grace.*agreed: “auto label 0”/s);
      await p.keyboard.press('j');
      await expect.poll(() => p.getByTestId('review-bar').textContent()).toContain('auto label 1');
      await p.keyboard.press('d');
      await expect.poll(() => p.getByTestId('feature-status').textContent(), { timeout: 10_000 }).toBe('needs-review');
    } finally {
      await reviewer.context.close();
    }
  }, 240_000);
});

describe('2. URLs for everything', () => {
  it('deep links open the right feature, experiment and SAE run after a reload; back and forward keep the state; copy link works', async () => {
    const [a, b] = await listOrder(60).then((f) => [f[50]!.feature, f[55]!.feature]);
    const { context, page } = await open(`features/1/${a}`);
    try {
      await expect.poll(() => title(page)).toBe(`Feature ${a}`);
      await page.reload();
      await expect.poll(() => title(page)).toBe(`Feature ${a}`);
      await page.getByTestId('feature-search').fill(`#${b}`);
      await page.getByTestId(`feature-row-${b}`).click();
      await expect.poll(() => title(page)).toBe(`Feature ${b}`);
      await page.goBack();
      await expect.poll(() => title(page)).toBe(`Feature ${a}`);
      await page.goForward();
      await expect.poll(() => title(page)).toBe(`Feature ${b}`);

      // "Copy link": the server URL with the route, which opens the same feature for a lab member.
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
      await page.getByTestId('copy-link').click();
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      expect(copied).toBe(`${base}/#/features/1/${b}`);
      const other = await open(copied.slice(base.length + 2));
      await expect.poll(() => title(other.page)).toBe(`Feature ${b}`);
      await other.context.close();

      // Experiments and SAE training runs have URLs too.
      const experiments = await call<Array<{ id: number; name: string }>>('experiments.list', {});
      await page.goto(`${base}/#/experiments/${experiments[0]!.id}`);
      await page.reload();
      await page.getByTestId('experiment-results').waitFor();
      expect(await page.getByLabel('Experiment', { exact: true }).textContent()).toContain(experiments[0]!.name);
      // The demo experiment: every kind of condition, the union-vs-single view, item drill-down, probes per layer.
      for (const kind of ['baseline', 'intervention', 'union', 'random-set', 'random-direction'])
        expect(await page.getByTestId(`condition-${kind}`).count()).toBeGreaterThan(0);
      expect(await page.getByTestId('condition-intervention').first().textContent()).toMatch(/%.*\[.*%.*\]/);
      expect(await page.getByTestId('interference').getByRole('row').count()).toBe(4); // header, all, color, shape
      await page.getByLabel('Condition', { exact: true }).click();
      await page.getByRole('option', { name: 'shape-question features', exact: true }).click();
      await expect.poll(() => page.getByRole('table', { name: 'Items' }).getByRole('row').count()).toBeGreaterThan(10);
      await page.getByTestId('probe-chart').first().locator('canvas').waitFor();
      const runs = (await call<Array<{ id: number; kind: string }>>('jobs.list', {})).filter((j) => j.kind === 'sae-train');
      await page.goto(`${base}/#/saes/${runs[0]!.id}`);
      await page.reload();
      await expect.poll(() => page.getByTestId('training-run').textContent()).toContain(`Run #${runs[0]!.id}`);
      // The analysis in the URL is kept: a missing one is said, not swapped for the newest.
      await page.goto(`${base}/#/features/99`);
      await page.getByText('There is no finished analysis #99').waitFor();
    } finally {
      await context.close();
    }
  }, 120_000);
});

/** A feature mostly on image patches and one mostly on text tokens, both firing often enough to page through. */
async function pickFeatures(): Promise<{ image: number; text: number }> {
  const byShare = (order: 'asc' | 'desc') =>
    call<{ features: Array<{ feature: number; imageShare: number | null; density: number }> }>('features.list', {
      analysisId: 1,
      limit: 512,
      sort: 'imageShare',
      order,
    }).then((r) => r.features);
  const image = (await byShare('desc')).find((f) => (f.imageShare ?? 0) > 0.9 && f.density > 0.02)!;
  const text = (await byShare('asc')).find((f) => f.imageShare !== null && f.imageShare < 0.1 && f.density > 0.002)!;
  return { image: image.feature, text: text.feature };
}

describe('3. feature pages', () => {
  it('shows examples above the fold at both sizes, by modality, with quantile samples, "more", a marked histogram, clean logit effects and neighbours', async () => {
    const { image, text } = await pickFeatures();
    for (const size of SIZES) {
      const { context, page } = await open(`features/1/${image}`, { size });
      try {
        const first = page.getByTestId('feature-example').first();
        await first.waitFor();
        const top = await first.evaluate((el) => el.getBoundingClientRect().top);
        expect(top, `first example at ${top}px in a ${size[1]}px window`).toBeLessThan(size[1] - 120);
        expect(await first.getAttribute('data-modality')).toBe('image');
        expect(await page.getByRole('tab', { name: 'Image', exact: true }).getAttribute('aria-selected')).toBe('true');
      } finally {
        await context.close();
      }
    }
    const { context, page } = await open(`features/1/${image}`);
    try {
      const examples = page.getByTestId('feature-example');
      await examples.first().waitFor();
      // Pixels: the crop and the heatmap are real pictures; the colour scale has a legend; outline mode redraws.
      const colours = () =>
        page
          .getByTestId('patch-heatmap')
          .first()
          .evaluate((c) => {
            const canvas = c as HTMLCanvasElement;
            const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
            const set = new Set<number>();
            for (let i = 0; i < data.length; i += 4) set.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
            return [...set].sort().join(',').length;
          });
      await expect.poll(colours, { timeout: 10_000 }).toBeGreaterThan(20);
      const overlay = await colours();
      await page.getByTestId('heat-legend').waitFor();
      await page.getByRole('button', { name: 'Outline' }).first().click();
      await expect.poll(colours).not.toBe(overlay);
      // A larger crop on hover.
      await page.getByTestId('patch-crop').first().hover();
      const enlarged = page.getByTestId('patch-enlarged').locator('canvas').first();
      await enlarged.waitFor();
      expect(await enlarged.evaluate((c) => (c as HTMLCanvasElement).width)).toBe(256);
      await page.mouse.move(0, 0);

      // More: the next page of top examples.
      const shown = await examples.count();
      await page.getByRole('button', { name: 'More', exact: true }).click();
      await expect.poll(() => examples.count()).toBeGreaterThan(shown);
      // The histogram marks the shown examples' bins.
      await expect.poll(() => page.getByTestId('feature-histogram').getAttribute('data-marked-bins'), { timeout: 15_000 }).not.toBe('0');
      // Quantile samples: each interval's examples lie inside it.
      await page.getByRole('tab', { name: 'Quantiles' }).click();
      const intervals = page.getByTestId('interval');
      await expect.poll(() => intervals.count(), { timeout: 10_000 }).toBe(5);
      await expect
        .poll(() => page.getByTestId('interval-examples').locator('[data-testid="feature-example"]').count(), { timeout: 15_000 })
        .toBeGreaterThan(8);
      const result = await call<{ intervals: Array<{ lo: number; hi: number }>; examples: Array<{ activation: number }> }>(
        'features.examples',
        {
          analysisId: 1,
          feature: image,
          modality: 'image',
          interval: 2,
          limit: 6,
        },
      );
      for (const e of result.examples) {
        expect(e.activation).toBeGreaterThanOrEqual(result.intervals[2]!.lo);
        expect(e.activation).toBeLessThanOrEqual(result.intervals[2]!.hi);
      }
      // Logit effects without special tokens; nearest features by decoder cosine.
      const logits = await page.getByTestId('logit-effects').textContent();
      expect(logits).toMatch(/Promotes/);
      expect(logits).not.toMatch(/<\/s>|<s>|<image>|<pad>|<unk>/);
      await expect.poll(() => page.getByTestId('nearest-features').locator('tbody tr').count()).toBe(8);
      expect(await page.getByTestId('nearest-features').textContent()).toMatch(/0\.\d{3}/);

      // A text feature opens on its text tokens.
      await page.goto(`${base}/#/features/1/${text}`);
      await expect.poll(() => title(page)).toBe(`Feature ${text}`);
      await expect
        .poll(() => page.getByTestId('feature-example').first().getAttribute('data-modality'), { timeout: 10_000 })
        .toMatch(/text|generated/);
      expect(await page.getByTestId('token-strip').count()).toBeGreaterThan(0);
    } finally {
      await context.close();
    }
  }, 180_000);
});

/** A benchmark image of the demo's dataset. */
function demoImage(): string {
  const datasets = path.join(ws, 'datasets');
  const dir = path.join(datasets, fs.readdirSync(datasets)[0]!, 'images');
  return path.join(
    dir,
    fs.readdirSync(dir).find((f) => f.endsWith('.png'))!,
  );
}

describe('4. test your own input, steer from here', () => {
  it('runs the model with the SAE on a dropped image and a prompt, shows a feature on every patch and token and the top features, and steers', async () => {
    const { context, page, errors } = await open('playground/1');
    try {
      await page.getByTestId('image-file').setInputFiles(demoImage());
      await page.getByLabel('Prompt').fill('What color is the circle?');
      await page.getByRole('button', { name: 'Run the model on this input' }).click();
      const top = page.getByTestId('input-top-features');
      await expect.poll(() => top.locator('tbody tr').count(), { timeout: 60_000 }).toBeGreaterThan(3);
      // Pick the strongest feature: it is shown on every patch (a heatmap) and every text token.
      await top.locator('tbody tr').first().getByRole('button').click();
      await page.getByTestId('input-heatmap').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('input-feature').getByTestId('token-strip').locator('span').count()).toBeGreaterThan(5);
      expect(await page.getByTestId('input-feature').textContent()).toMatch(/max \d+\.\d{3}/);

      // Steer: scaling by 1 is the identity, so the answer equals the baseline exactly.
      const steer = page.getByTestId('steer-panel');
      await steer.getByRole('slider').focus();
      await page.keyboard.press('Home');
      for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
      await expect.poll(() => steer.textContent()).toContain('α = 1');
      await steer.getByRole('button', { name: 'Generate' }).click();
      await page.getByTestId('steer-steered').waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('steer-steered').textContent()).toBe(await page.getByTestId('steer-baseline').textContent());
      expect((await page.getByTestId('steer-baseline').textContent())!.length).toBeGreaterThan(0);
      // Saved as an experiment: the designer opens filled in with this feature and edit.
      const feature = (await steer.textContent())!.match(/Feature (\d+)/)![1]!;
      await page.getByTestId('steer-save').click();
      await page.getByTestId('experiment-designer').waitFor();
      expect(page.url()).toContain('#/experiments');
      expect(await page.getByLabel('Features, comma-separated').inputValue()).toBe(feature);
      expect(await page.getByLabel('Name', { exact: true }).inputValue()).toContain(`steer feature ${feature}`);

      // The same on a feature page: its activation on your input.
      await page.goto(`${base}/#/features/1/${feature}`);
      await page.getByRole('tab', { name: 'Your input' }).click();
      await page.getByRole('button', { name: 'Run the model on this input' }).click();
      await page.getByTestId('input-heatmap').waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('input-feature').textContent()).toContain(`Feature ${feature} on your input`);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});

describe('5. search by content', () => {
  it('finds features by a token in their top examples, a ground-truth attribute, and what their logit effects promote', async () => {
    const { context, page } = await open('features/1');
    try {
      const search = page.getByTestId('feature-search');
      const count = page.getByTestId('feature-count');
      await page.getByTestId('feature-title').waitFor();
      for (const [query, words] of [
        ['color:red', 'lie on red objects'],
        ['shape:triangle', 'lie on triangle objects'],
        ['token:?', 'are the token "?"'],
        ['promotes:red', 'promotes "red"'],
      ] as const) {
        await search.fill(query);
        await expect.poll(() => count.textContent(), { timeout: 10_000 }).toMatch(/^[1-9]\d* features match/);
        await expect.poll(() => page.getByTestId('feature-list').locator('[role="option"]').first().textContent()).toContain(words);
      }
      // The strongest colour match really sits on red objects: its examples say so. Its row is clicked
      // once the matches have arrived (until then the list holds placeholder rows that select nothing).
      await page.getByTestId('feature-search').fill('color:red');
      const strongest = page.getByTestId('feature-list').locator('[role="option"]').first();
      await expect.poll(() => strongest.textContent(), { timeout: 10_000 }).toContain('lie on red objects');
      const feature = (await strongest.getAttribute('data-testid'))!.replace('feature-row-', '');
      await strongest.click();
      await expect.poll(() => title(page)).toBe(`Feature ${feature}`);
      await page.getByRole('tab', { name: 'Image', exact: true }).click();
      await expect
        .poll(() => page.getByTestId('ground-truth').allTextContents(), { timeout: 10_000 })
        .toEqual(expect.arrayContaining([expect.stringContaining('red')]));
    } finally {
      await context.close();
    }
  }, 90_000);
});

describe('6. experiments', () => {
  it('picks tasks from the dataset, validates numbers, warns when a task gets no items, shows progress and failure in place, names controls, keeps the form', async () => {
    const { context, page } = await open('experiments');
    try {
      const designer = page.getByTestId('experiment-designer');
      await designer.waitFor();
      await page.getByLabel('Name', { exact: true }).fill('colour check');
      await page.getByLabel('Analysis (SAE)').click();
      await page.getByRole('option', { name: '#1: SAE' }).click();
      // The analysis brings its model and dataset; tasks come from the dataset, with their sizes.
      await expect.poll(() => page.getByLabel('Dataset').textContent()).toMatch(/benchmark/);
      await page.getByLabel('Tasks').click();
      await page.getByRole('option', { name: /^color \(\d+\)$/ }).click();
      await page.getByRole('option', { name: /^shape \(\d+\)$/ }).click();
      await page.keyboard.press('Escape');
      // A limit that is not a number is refused where it is typed.
      await page.getByLabel('Item limit').fill('ten');
      await expect.poll(() => designer.textContent()).toContain('a whole number, not “ten”');
      expect(await page.getByRole('button', { name: 'Run experiment' }).isDisabled()).toBe(true);
      // A limit below the number of tasks starves one: said before anything runs.
      await page.getByLabel('Item limit').fill('1');
      await expect.poll(() => page.getByTestId('experiment-plan-warning').textContent()).toMatch(/shape would get no items/);
      await page.getByLabel('Item limit').fill('8');
      await expect.poll(() => page.getByTestId('experiment-plan').textContent()).toContain('Runs 8 items: color 4, shape 4');

      // The form survives a visit to another page.
      await page.getByRole('link', { name: 'Jobs' }).click();
      await page.getByRole('link', { name: 'Experiments' }).click();
      await expect.poll(() => page.getByLabel('Item limit').inputValue()).toBe('8');
      expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('colour check');

      // One selective set, picked from the dataset's tasks; one random set as the control.
      await page.getByLabel('Task selective for (set 1)').click();
      await page.getByRole('option', { name: /^color \(/ }).click();
      await page.getByLabel('Top N').first().fill('5');
      await page.getByRole('button', { name: 'Remove feature set 2' }).click();
      await page.getByLabel('Random sets').fill('1');
      await page.getByLabel('norm-matched random directions').uncheck();
      const existing = (await call<unknown[]>('experiments.list', {})).length;
      await page.getByRole('button', { name: 'Run experiment' }).click();
      // The page follows the new experiment: its progress, then its results, in place.
      await expect.poll(() => page.url()).toMatch(new RegExp(`#/experiments/${existing + 1}$`));
      await page.getByTestId('experiment-results').waitFor({ timeout: 150_000 });
      expect(await page.getByText(/8 items · 2000 resamples/).count()).toBe(1);
      const intervention = await page.getByTestId('condition-intervention').first().textContent();
      expect(intervention).toMatch(/random set 1: p /);

      // A failing experiment shows why where it was started.
      await page.getByLabel('Name', { exact: true }).fill('doomed');
      await page.getByLabel('Picked by').first().click();
      await page.getByRole('option', { name: 'label / tag search' }).click();
      await page.getByLabel('Label or tag').fill('no-such-label-anywhere');
      await page.getByRole('button', { name: 'Run experiment' }).click();
      await expect
        .poll(() => page.getByTestId('experiment-failed').textContent(), { timeout: 60_000 })
        .toContain("no feature's label or tags match 'no-such-label-anywhere'");
    } finally {
      await context.close();
    }
  }, 240_000);
});

describe('7. read-only and shared serving', () => {
  it('disables every editing control with a reason, says errors in sentences, and closes a workspace for this browser only', async () => {
    const ro = await startServe(['--workspace', ws, '--port', '0', '--read-only']);
    const roBase = ro.url.replace(/\/$/, '');
    const feature = (await listOrder(1))[0]!.feature;
    const { context, page, errors } = await open(`features/1/${feature}`, { at: roBase, annotator: 'ada' });
    try {
      await page.getByTestId('read-only-chip').waitFor();
      const labelField = page.getByLabel('Label', { exact: true });
      await labelField.waitFor();
      expect(await labelField.isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Save label' }).isDisabled()).toBe(true);
      await page.getByTestId('read-only-control').first().hover();
      await expect
        .poll(() => page.getByRole('tooltip').textContent())
        .toContain('Read-only: this server shows the workspace but does not accept changes');
      // Status keys do nothing and raise no refusal.
      await page.getByTestId('feature-list').focus();
      await page.keyboard.press('3');
      await page.waitForTimeout(500);
      expect(await page.getByTestId('error-alert').count()).toBe(0);
      for (const route of ['experiments', 'saes', 'models', 'evaluate', 'activations', 'jobs']) {
        await page.goto(`${roBase}/#/${route}`);
        await page.getByRole('heading', { level: 2 }).waitFor();
        await page.waitForTimeout(300);
        const enabled = await page
          .locator('button:not([disabled])')
          .filter({
            hasText: /^(Run experiment|Train|Harvest|Evaluate|Add model|Download|Generate benchmark|Import|Resume|Cancel|Start .*)$/,
          })
          .count();
        expect(enabled, route).toBe(0);
      }
    } finally {
      await context.close();
      await ro.stop();
    }
    expect(errors).toEqual([]);

    // Errors are sentences; the channel is only under "Details".
    const bad = await open('models');
    try {
      await bad.page.getByLabel('Model folder or .onnx file on this machine').fill('/no/such/model/folder');
      await bad.page.getByRole('button', { name: 'Add model' }).click();
      const alert = bad.page.getByTestId('error-alert');
      await alert.waitFor();
      const text = (await alert.textContent())!;
      const details = (await alert.getByTestId('error-details').textContent())!;
      expect(details).toContain('models.add');
      expect(text.replace(details, '')).not.toContain('models.add');
      expect(text.replace(details, '')).toMatch(/\/no\/such\/model\/folder.*\./);
    } finally {
      await bad.context.close();
    }

    // Closing in one browser leaves everyone else's open.
    const one = await open('workspace');
    const two = await open('workspace');
    try {
      await one.page.getByRole('button', { name: 'Close workspace' }).click();
      await one.page.getByTestId('left-workspace').waitFor();
      expect(await one.page.getByTestId('workspace-path').textContent()).toBe('No workspace open');
      await two.page.reload();
      await expect.poll(() => two.page.getByTestId('workspace-path').textContent()).toBe(ws);
      expect((await call<{ workspace: unknown }>('app.info', {})).workspace).not.toBeNull();
      await one.page.getByRole('button', { name: 'Open it again' }).click();
      await expect.poll(() => one.page.getByTestId('workspace-path').textContent()).toBe(ws);
    } finally {
      await one.context.close();
      await two.context.close();
    }
  }, 180_000);
});

describe('8. layout and accessibility', () => {
  it('has no horizontal overflow, no clipped labels and no serious or critical axe violations on any page at 1440x900 and 1024x700; focus is visible', async () => {
    const feature = (await listOrder(1))[0]!.feature;
    const routes = [
      'workspace',
      'models',
      'evaluate',
      'activations',
      'saes',
      `features/1/${feature}`,
      'playground/1',
      'experiments',
      'jobs',
      'settings',
    ];
    const found: string[] = [];
    for (const size of SIZES) {
      const { context, page } = await open('workspace', { size, annotator: 'ada' });
      try {
        for (const route of routes) {
          await page.goto(`${base}/#/${route}`);
          await page.getByRole('heading', { level: 2 }).first().waitFor();
          await page.waitForLoadState('networkidle');
          await page.waitForTimeout(400);
          for (const p of [...(await layoutProblems(page)), ...(await axeViolations(page))])
            found.push(`${size.join('x')} #/${route}: ${p}`);
        }
        // Focus is visible: tabbing onto a control draws a thick outline.
        await page.goto(`${base}/#/settings`);
        await page.getByRole('heading', { level: 2 }).waitFor();
        await page.keyboard.press('Tab');
        const outline = await page.evaluate(() => {
          const s = getComputedStyle(document.activeElement!);
          return { width: parseFloat(s.outlineWidth), style: s.outlineStyle };
        });
        expect(outline.style).toBe('solid');
        expect(outline.width).toBeGreaterThanOrEqual(3);
      } finally {
        await context.close();
      }
    }
    expect(found).toEqual([]);
  }, 240_000);
});

describe('9. delivery', () => {
  it('serves split, brotli-compressed, long-cached assets, and a feature page paints in under 1.5 s at 5 Mbps', async () => {
    const index = await fetch(`${base}/`, { headers: { 'Accept-Encoding': 'br' } });
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-encoding')).toBe('br');
    const html = await index.text();
    const entry = /src="\.?(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${base}${entry}`, { headers: { 'Accept-Encoding': 'gzip, br' } });
    expect(asset.headers.get('content-encoding')).toBe('br');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('vary')).toBe('Accept-Encoding');
    const gz = await fetch(`${base}${entry}`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    // Split by route: pages are their own chunks.
    const assets = fs.readdirSync(path.join(repoRoot, 'out', 'renderer', 'assets'));
    for (const chunk of ['FeaturesPage', 'ExperimentsPage', 'SaesPage', 'echarts'])
      expect(
        assets.some((f) => f.startsWith(chunk) && f.endsWith('.js')),
        chunk,
      ).toBe(true);

    const feature = (await listOrder(1))[0]!.feature;
    const runs: Array<{ fcp: number; content: number; bytes: number }> = [];
    for (let round = 0; round < 3; round++) {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      // 5 Mbit/s down, 1 Mbit/s up, 40 ms round trip.
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 40,
        downloadThroughput: 625_000,
        uploadThroughput: 125_000,
      });
      // When the feature's own statistics (from features.get) first appear in the page.
      await page.addInitScript(() => {
        new MutationObserver((_, observer) => {
          if (document.querySelector('[data-testid="feature-stats"]')) {
            (window as unknown as { contentAt: number }).contentAt = performance.now();
            observer.disconnect();
          }
        }).observe(document, { subtree: true, childList: true });
      });
      try {
        await page.goto(`${base}/#/features/1/${feature}`, { waitUntil: 'commit' });
        await page.getByTestId('feature-stats').waitFor({ timeout: 30_000 });
        runs.push(
          await page.evaluate(() => {
            const contentAt = (window as unknown as { contentAt: number }).contentAt;
            const bytes = performance
              .getEntriesByType('resource')
              .filter((r) => (r as PerformanceResourceTiming).responseEnd <= contentAt)
              .reduce((n, r) => n + (r as PerformanceResourceTiming).transferSize, 0);
            const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
            return {
              fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Infinity,
              content: contentAt,
              bytes: bytes + navigation.transferSize,
            };
          }),
        );
      } finally {
        await context.close();
      }
    }
    console.log(
      `feature page at 5 Mbit/s: ${runs.map((r) => `first paint ${Math.round(r.fcp)} ms, feature shown ${Math.round(r.content)} ms, ${Math.round(r.bytes / 1024)} KiB`).join('; ')}`,
    );
    // First paint under 1.5 s (best of three: this machine's CPU is shared and slows every run alike).
    expect(Math.min(...runs.map((r) => r.fcp))).toBeLessThan(1500);
    // Everything the feature needs before it shows is small: under 0.5 s of transfer at 5 Mbit/s.
    expect(Math.max(...runs.map((r) => r.bytes))).toBeLessThan(0.5 * 625_000);
  }, 120_000);
});
