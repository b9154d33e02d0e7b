import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DESKTOP } from './app';
import { repoRoot } from './tmp';

export const CHROMIUM_PATH = process.env.OCULAR_CHROMIUM ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, with the flags this network-less machine needs. */
export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set OCULAR_CHROMIUM.`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  return DESKTOP ? withDesktopBridge(browser) : browser;
}

/**
 * What a desktop window's page gets before its scripts run: the IPC stand-in, then the real preload
 * bundle (out/preload/index.cjs) evaluated with it as its `require`.
 */
export function desktopBridgeScript(): string {
  const bridge = fs.readFileSync(path.join(repoRoot, 'out', 'test-electron', 'renderer-bridge.js'), 'utf8');
  const preload = fs.readFileSync(path.join(repoRoot, 'out', 'preload', 'index.cjs'), 'utf8');
  return `${bridge}\n(function (require, module, exports) {\n${preload}\n})(window.__ocularPreloadRequire, { exports: {} }, {});`;
}

/** Every new page gets the desktop bridge; its context goes when the page does. */
function withDesktopBridge(browser: Browser): Browser {
  const script = desktopBridgeScript();
  const newPage = async (): Promise<Page> => {
    const context = await browser.newContext();
    await context.addInitScript({ content: script });
    const page = await context.newPage();
    page.once('close', () => void context.close());
    return page;
  };
  return new Proxy(browser, {
    get(target, prop) {
      if (prop === 'newPage') return newPage;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
