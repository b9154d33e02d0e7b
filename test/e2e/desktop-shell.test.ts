/**
 * What only the desktop app does, in Chromium on the real preload and the built main process under
 * Node (the desktop-e2e project; skipped over `ocular serve`): calls are structured-cloned (a key
 * set to undefined and NaN reach the backend as such, where JSON would drop or null them; a function
 * cannot be sent at all); workspace images come from the app's own origin, so a canvas can read
 * them; a renderer that crashed is reloaded; a backend that crashed shows in the window while it
 * restarts, and after repeated quick deaths shows as stopped, with the reason, until restarted.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, startApp, type RunningApp } from '../helpers/app';
import { launchBrowser } from '../helpers/browser';
import { tmpDir } from '../helpers/tmp';

let browser: Browser;
beforeAll(async () => {
  if (DESKTOP) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** The desktop app on a fresh workspace (created through the native folder dialog), and a page on it. */
async function withApp(run: (page: Page, app: RunningApp, ws: string) => Promise<void>): Promise<void> {
  const ws = path.join(tmpDir(), 'ws');
  const app = await startApp(['--workspace', ws]);
  const page = await browser.newPage();
  try {
    await page.goto(app.url);
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await page.getByTestId('empty-state').waitFor();
    await run(page, app, ws);
  } finally {
    await page.close();
    await app.stop();
  }
}

const backendStatus = (page: Page) =>
  page.evaluate(() =>
    (window as unknown as { ocular: { backendStatus(): Promise<{ state: string; pid?: number }> } }).ocular.backendStatus(),
  );

describe.skipIf(!DESKTOP)('the desktop shell in Chromium', () => {
  it('structured-clones what it sends: undefined and NaN reach the backend, a function cannot be sent', async () => {
    await withApp(async (page) => {
      const results = await page.evaluate(async () => {
        const ocular = (window as unknown as { ocular: { invoke(c: string, p: unknown): Promise<any> } }).ocular;
        const undefinedKey = await ocular.invoke('app.info', { extra: undefined }); // JSON would have dropped the key
        const nan = await ocular.invoke('jobs.list', { limit: NaN }); // JSON would have sent null
        const fine = await ocular.invoke('jobs.list', { limit: 5 });
        const unclonable = await ocular.invoke('app.info', { callback: () => 1 }).then(
          () => 'sent',
          (err: Error) => `${err.name}: ${err.message}`,
        );
        return { undefinedKey, nan, fine, unclonable };
      });
      expect(results.undefinedKey).toMatchObject({
        ok: false,
        error: { code: 'invalid_request', message: expect.stringMatching(/extra/) },
      });
      expect(results.nan).toMatchObject({ ok: false, error: { code: 'invalid_request', message: expect.stringMatching(/limit/) } });
      expect(results.fine).toEqual({ ok: true, result: [] });
      expect(results.unclonable).toMatch(/^DataCloneError/);
    });
  });

  it('serves workspace images from the app origin: a canvas can read their pixels', async () => {
    await withApp(async (page, _app, ws) => {
      const pixels = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
      await sharp(pixels, { raw: { width: 2, height: 2, channels: 3 } })
        .png()
        .toFile(path.join(ws, 'pic.png'));
      fs.writeFileSync(path.join(ws, 'note.html'), '<script>document.title = "ran"</script>');
      const read = await page.evaluate(async () => {
        const img = new Image();
        img.src = '/files/pic.png';
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = 2;
        canvas.height = 2;
        const ctx = canvas.getContext('2d')!;
        ctx.drawImage(img, 0, 0);
        const data = Array.from(ctx.getImageData(0, 0, 2, 2).data);
        const note = await fetch('/files/note.html');
        const db = await fetch('/files/workspace.sqlite');
        const headers = (name: string) => note.headers.get(name);
        return {
          data,
          note: { type: headers('content-type'), disposition: headers('content-disposition'), sniff: headers('x-content-type-options') },
          db: db.status,
        };
      });
      expect(read.data).toEqual([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255]);
      // Anything but a raster image is an opaque download, never a page on the app's origin.
      expect(read.note).toEqual({ type: 'application/octet-stream', disposition: 'attachment; filename="note.html"', sniff: 'nosniff' });
      expect(read.db).toBe(404);
    });
  });

  it('reloads the window when its renderer process is gone', async () => {
    await withApp(async (page, app) => {
      await page.evaluate(() => ((window as unknown as { beforeCrash: boolean }).beforeCrash = true));
      await app.emitOnWebContents('render-process-gone', {}, { reason: 'crashed', exitCode: 139 });
      await expect.poll(() => page.evaluate(() => (window as unknown as { beforeCrash?: boolean }).beforeCrash ?? false)).toBe(false);
      await page.getByRole('link', { name: 'Workspace', exact: true }).waitFor();
    });
  });

  it('shows a crashed backend restarting, then stopped with the reason after repeated deaths, and restarts it', async () => {
    await withApp(async (page) => {
      const banner = page.getByTestId('backend-status');
      let killed = 0;
      /** Kill the backend once a new one (not the one killed last) is running. */
      const kill = async () => {
        await expect
          .poll(async () => backendStatus(page), { timeout: 15_000 })
          .toMatchObject({ state: 'running', pid: expect.any(Number) });
        const { pid } = await backendStatus(page);
        expect(pid).not.toBe(killed);
        process.kill(pid!, 'SIGKILL');
        killed = pid!;
      };
      await kill();
      await banner.waitFor();
      expect(await banner.getAttribute('data-state')).toBe('restarting');
      expect(await banner.textContent()).toMatch(/stopped and is restarting.*exit code 137/);
      await banner.waitFor({ state: 'detached', timeout: 15_000 });
      // The workspace closed with the backend; the window shows that instead of a stale page.
      await page.getByText('Welcome to Ocular').waitFor();

      // Four more deaths soon after starting: the host stops trying.
      for (let death = 2; death <= 5; death++) {
        await expect.poll(async () => (await backendStatus(page)).pid ?? killed, { timeout: 15_000 }).not.toBe(killed);
        await kill();
      }
      await expect.poll(() => banner.getAttribute('data-state').catch(() => null), { timeout: 15_000 }).toBe('stopped');
      expect(await banner.textContent()).toMatch(/The Ocular backend stopped.*exit code 137.*5 times in a row/s);
      await banner.getByRole('button', { name: 'Restart backend' }).click();
      await banner.waitFor({ state: 'detached', timeout: 15_000 });
      expect((await backendStatus(page)).state).toBe('running');
    });
  });
});
