/**
 * The boundary the browser sees: what /files/ serves and how, which hosts count as loopback, and
 * CSV exports a spreadsheet opens as text. Each case here was a hole (issue 14): an SVG with a
 * script served as a page on the app's origin relabelled features; '127.attacker.example' counted
 * as loopback; a label '=HYPERLINK(…)' went into the CSV as a formula.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { LabelStore } from '../../src-main/core/analysis/label-store';
import { readDatasetFolder } from '../../src-main/core/datasets/dataset-folder';
import { Workspace } from '../../src-main/core/store/workspace';
import { csvCell, csvText } from '../../src-main/core/util/csv';
import { workspaceFileHeaders } from '../../src-main/core/util/safe-path';
import { isLoopbackHost } from '../../src-main/transport/http-server';
import { post, startTestServer } from '../helpers/server';
import { tmpDir } from '../helpers/tmp';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

const SVG_XSS = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><script>fetch("/api/invoke/labels.set")</script></svg>';

describe('/files/ serves only raster images inline', () => {
  it('sends images inline with nosniff and a sandboxing CSP, everything else as an attachment', async () => {
    const dir = path.join(tmpDir(), 'ws');
    const s = await startTestServer({ pinnedWorkspace: dir });
    closers.push(s.close);
    await post(s.base, 'workspace.create', {});
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#f00' } })
      .png()
      .toBuffer();
    const files: Record<string, string | Buffer> = {
      'img.png': png,
      'x.svg': SVG_XSS,
      'x.html': '<script>alert(1)</script>',
      'x.xhtml': '<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
      'x.js': 'alert(1)',
      'x.json': '{}',
      'x.xml': '<a/>',
      'x.pdf': '%PDF-1.4',
      noext: '<script>alert(1)</script>',
    };
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'blobs', name), data);
    for (const name of Object.keys(files)) {
      const res = await fetch(`${s.base}/files/blobs/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(res.headers.get('content-security-policy'), name).toMatch(/default-src 'none'.*sandbox/);
      if (name === 'img.png') {
        expect(res.headers.get('content-type')).toBe('image/png');
        expect(res.headers.get('content-disposition')).toBeNull();
        expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
      } else {
        expect(res.headers.get('content-type'), name).toBe('application/octet-stream');
        expect(res.headers.get('content-disposition'), name).toMatch(/^attachment; filename="/);
      }
    }
  });

  it('names only safe characters in the attachment filename', () => {
    expect(workspaceFileHeaders('/w/a"b\r\n.svg')['Content-Disposition']).toBe('attachment; filename="a_b__.svg"');
    expect(workspaceFileHeaders('/w/A.JPG')['Content-Type']).toBe('image/jpeg');
  });
});

describe('SVG and other non-raster dataset images', () => {
  it('are refused at import, so no SVG ever reaches the workspace', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'evil.svg'), SVG_XSS);
    fs.writeFileSync(path.join(dir, 'svg-as.png'), SVG_XSS);
    await sharp({ create: { width: 4, height: 4, channels: 3, background: '#0f0' } })
      .tiff()
      .toFile(path.join(dir, 'a.tiff'));
    fs.writeFileSync(
      path.join(dir, 'items.jsonl'),
      ['evil.svg', 'svg-as.png', 'a.tiff'].map((image) => JSON.stringify({ image, question: 'q?', answer: 1 })).join('\n'),
    );
    const err = await readDatasetFolder(dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain("line 1: image 'evil.svg' is an SVG");
    expect(msg).toContain("line 2: image 'svg-as.png' is svg");
    expect(msg).toContain("line 3: image 'a.tiff' is tiff");
  });
});

describe('isLoopbackHost', () => {
  it('is 127.0.0.0/8, ::1 or the literal localhost, nothing else', () => {
    for (const h of ['127.0.0.1', '127.255.1.2', '::1', '[::1]', '0:0:0:0:0:0:0:1', 'localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['127.attacker.example', '127.0.0.1.nip.io', 'localhost.evil', '0.0.0.0', '::', '::ffff:127.0.0.1', '128.0.0.1', ''])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('CSV exports', () => {
  it('neutralise formula prefixes = + - @ tab and CR, and the escape reverses exactly', () => {
    for (const s of ['=1+1', '+cmd', '-2+3', '@SUM(A1)', '\tx', '\rx', "'=already", "''@x"]) {
      const parsed = (parse(csvCell(s)) as string[][])[0]![0]!;
      expect(parsed.startsWith("'"), s).toBe(true);
      expect(csvText(parsed), s).toBe(s);
    }
    for (const s of ['plain', '-3', '+1.5e3', "'quoted", 'a=b']) {
      const parsed = (parse(csvCell(s)) as string[][])[0]![0]!;
      expect(parsed, s).toBe(s);
      expect(csvText(parsed)).toBe(s);
    }
    expect(csvCell(-3)).toBe('-3');
  });

  it('a labels export opens as text in a spreadsheet and imports back to the same labels', () => {
    const w = Workspace.create(path.join(tmpDir(), 'ws'));
    try {
      w.db
        .prepare(
          "INSERT INTO saes (id, name, folder, architecture, d_in, d_sae, k, hook_name, model_name, source, created_at) VALUES (1, 's', 'x', 'topk', 4, 8, 2, 'blocks.0.hook_resid_post', null, 'trained', 'now')",
        )
        .run();
      const labels = new LabelStore(w.db);
      labels.set(1, {
        feature: 0,
        label: '=HYPERLINK("http://evil.example","x")',
        tags: ['@a'],
        confidence: null,
        status: 'labelled',
        annotator: '+ada',
      });
      labels.set(1, { feature: 1, label: '-1', tags: [], confidence: 0.5, status: 'labelled', annotator: 'bob' });
      const { content } = labels.export(1, 'csv');
      const rows = parse(content, { columns: true }) as Array<Record<string, string>>;
      expect(rows[0]).toMatchObject({ label: '\'=HYPERLINK("http://evil.example","x")', tags: "'@a", annotator: "'+ada" });
      expect(rows[1]!.label).toBe('-1');
      const back = LabelStore.parse('csv', content);
      expect(back.map((l) => [l.label, l.tags, l.annotator])).toEqual([
        ['=HYPERLINK("http://evil.example","x")', ['@a'], '+ada'],
        ['-1', [], 'bob'],
      ]);
    } finally {
      w.close();
    }
  });
});
