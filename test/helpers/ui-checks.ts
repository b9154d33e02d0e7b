import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { repoRoot } from './tmp';

const axeSource = fs.readFileSync(path.join(repoRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical violations on the page as it stands, one line each. The script is
 * evaluated through the debugger protocol, so the page keeps its strict CSP (no inline scripts).
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: any[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.id} (${v.impact}, ${v.nodes.length}): ${v.nodes
            .slice(0, 3)
            .map((n: any) => `${n.target.join(' ')} — ${n.failureSummary}`)
            .join(' | ')}`,
      );
  });
}

/**
 * Layout defects a user would see: the page wider than the window, labels, headers, buttons, tabs and
 * headings cut short (their text wider than their box), or anything reaching past the window's right edge.
 * Ellipsised data cells of the feature list carry their full text in a title and are not labels.
 */
export async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) problems.push(`the page is ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
    const selector = 'label, legend, th, button, [role="tab"], .MuiChip-label, .MuiInputLabel-root, h1, h2, h3, h4, .MuiStepLabel-label';
    for (const el of document.querySelectorAll<HTMLElement>(selector)) {
      if (el.getClientRects().length === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      if (el.closest('[role="option"]')) continue;
      const text = (el.textContent ?? '').trim().slice(0, 40);
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
        problems.push(`clipped ${el.tagName.toLowerCase()} “${text}”`);
      const right = el.getBoundingClientRect().right;
      if (right > root.clientWidth + 1)
        problems.push(`${el.tagName.toLowerCase()} “${text}” ends at ${Math.round(right)}px, past the window`);
    }
    return problems;
  });
}
