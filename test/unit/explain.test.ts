/**
 * `ocular explain` end to end on the bundled demo model (harvest, TopK SAE, analysis): ground-truth
 * explanations scored by their predicates, and explanations from a chat endpoint, here a loopback
 * HTTP server speaking the chat-completions API with a scripted "model", through the real client.
 * Stored scores are checked against a recomputation from the same seeded draws; suggestions are
 * accepted, edited and rejected into labels with their provenance; bad requests change nothing.
 * The same workspace serves `ocular dataset filter` (SAE-V): scores against a direct computation, and
 * `ocular mask` (patch masking against random patches, evaluated by the model).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Explanation } from '../../src-main/contract/contract';
import { LabelStore } from '../../src-main/core/analysis/label-store';
import { ExplanationStore } from '../../src-main/core/autointerp/explanation-store';
import { holds, type Predicate } from '../../src-main/core/autointerp/ground-truth';
import { detectionScore, pearson } from '../../src-main/core/autointerp/scores';
import { WorkspaceExamples } from '../../src-main/core/autointerp/workspace-examples';
import { HarvestStore } from '../../src-main/core/harvest/harvest-store';
import { itemScore, recordToken, type ItemActivity } from '../../src-main/core/datasets/sae-v-filter';
import { encode } from '../../src-main/core/sae/sae-encode';
import { SaeStore } from '../../src-main/core/sae/sae-store';
import { Workspace } from '../../src-main/core/store/workspace';
import { runCli } from '../helpers/cli';
import { demoSaeWorkspace } from '../helpers/demo-workspace';

const TAP = 'blocks.0.hook_resid_post';
let root: string;
let ws: string;
let server: http.Server;
let base: string;
const requests: string[] = [];

/** A scripted chat model: explains "image patches"; says 1 / 10 for image examples, 0 for text. */
function reply(messages: Array<{ role: string; content: string | Array<{ type: string; text?: string }> }>): string {
  const system = String(messages[0]!.content);
  const user = messages[1]!.content;
  const text = typeof user === 'string' ? user : user.map((p) => p.text ?? '').join('\n');
  const examples = [...text.matchAll(/^Example \d+: (.*)$/gm)].map((m) => m[1]!);
  if (system.includes('[EXPLANATION]')) return 'These are all patches.\n[EXPLANATION]: fires on image patches';
  const isImage = examples.map((e) => e.startsWith('Image patch'));
  if (system.includes('0s and 1s')) return JSON.stringify(isImage.map((b) => (b ? 1 : 0)));
  return `Predictions: ${JSON.stringify(isImage.map((b) => (b ? 10 : 0)))}`;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-explain-'));
  ws = path.join(root, 'ws');
  await demoSaeWorkspace(root, { tap: TAP, seed: 5, perCell: 4, steps: 300, analyze: true, timeoutMs: 240_000 });
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      requests.push(req.url!);
      const body = JSON.parse(raw) as { messages: Parameters<typeof reply>[0] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: reply(body.messages) } }],
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}, 600_000);
afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  fs.rmSync(root, { recursive: true, force: true });
});

function withWorkspace<T>(fn: (w: Workspace) => T): T {
  const w = Workspace.open(ws, {});
  try {
    return fn(w);
  } finally {
    w.close();
  }
}

/** The stored explanations' scoring sets, drawn again with the same seed. */
function redraw(w: Workspace, e: Explanation) {
  return new WorkspaceExamples(w.db, ws).sets(e.analysisId!, e.feature, { explain: 20, score: 10 }, 0).sets;
}

describe('ocular explain', () => {
  it('explains from the ground truth, with confidence and detection / simulation scores equal to a recomputation', async () => {
    const r = await runCli(['explain', '--workspace', ws, '--analysis', '1', '--top', '16', '--json'], 240_000);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as Explanation[];
    expect(list.length).toBeGreaterThan(0);
    withWorkspace((w) => {
      for (const e of list) {
        expect(e.explainer).toBe('ground-truth');
        expect(e.status).toBe('suggested');
        expect(e.explanation).toMatch(/^fires on /);
        expect(e.confidence).toBeGreaterThan(0);
        const sets = redraw(w, e);
        expect(e.provenance.explainRows).toEqual(sets.explain.map((x) => x.row));
        if (!e.scores) continue;
        const predicted = sets.score.map((x) => holds(e.provenance.predicate as Predicate, x));
        expect(e.scores.detection).toEqual(detectionScore(sets.truth, predicted));
        const acts = sets.score.map((x, i) => (sets.truth[i] ? x.activation : 0));
        expect(e.scores.simulation).toEqual(
          pearson(
            acts,
            predicted.map((p) => (p ? 10 : 0)),
          ),
        );
        expect(e.scores.detection.positives).toBe(sets.truth.filter(Boolean).length);
      }
      // Real structure: some feature's ground-truth explanation separates held-out tokens well.
      const best = Math.max(...list.map((e) => e.scores?.detection.balancedAccuracy ?? 0));
      expect(best).toBeGreaterThan(0.7);
    });
  }, 300_000);

  it('explains and scores with a chat endpoint (a loopback chat-completions server) through the real client', async () => {
    const before = requests.length;
    const r = await runCli(
      [
        'explain',
        '--workspace',
        ws,
        '--analysis',
        '1',
        '--features',
        '0,1,2',
        '--explainer',
        'llm',
        '--url',
        base,
        '--model',
        'scripted',
        '--json',
      ],
      240_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as Explanation[];
    expect(list.map((e) => e.explanation)).toEqual(list.map(() => 'fires on image patches'));
    expect(requests.slice(before).every((u) => u === '/v1/chat/completions')).toBe(true);
    withWorkspace((w) => {
      for (const e of list) {
        expect(e.provenance.endpoint).toEqual({ url: base, model: 'scripted', multimodal: false });
        expect(e.provenance.promptVersion).toBe('ocular-autointerp-1');
        if (!e.scores) continue;
        expect(e.scores.scorer).toBe('llm:scripted');
        const sets = redraw(w, e);
        const predicted = sets.score.map((x) => x.modality === 'image');
        expect(e.scores.detection).toEqual(detectionScore(sets.truth, predicted));
      }
    });
    // One explainer call and two batches each of detection and simulation per scored feature (20 examples, 10 a batch).
    const scored = list.filter((e) => e.scores).length;
    expect(requests.length - before).toBe(list.length + scored * 4);
  }, 300_000);

  it('accepts, edits and rejects suggestions into labels with provenance; each is decided once', () => {
    withWorkspace((w) => {
      const store = new ExplanationStore(w.db);
      const labels = new LabelStore(w.db);
      const [a, b, c] = store.list(1, { status: 'suggested' });
      const accepted = store.decide(a!.id, 'accept', 'ana');
      expect(accepted.explanation.status).toBe('accepted');
      expect(accepted.label!.label).toBe(a!.explanation);
      expect(labels.history(1, a!.feature)[0]!.source).toBe(`explanation:${a!.id}`);
      expect(() => store.decide(a!.id, 'reject', 'bo')).toThrow(/already accepted by ana/);
      const edited = store.decide(b!.id, 'edit', 'bo', 'red things, mostly triangles');
      expect(edited.label!.label).toBe('red things, mostly triangles');
      expect(edited.explanation.explanation).toBe(b!.explanation);
      const labelBefore = labels.get(1, c!.feature);
      expect(store.decide(c!.id, 'reject', 'bo').label).toBeNull();
      expect(labels.get(1, c!.feature)).toEqual(labelBefore);
    });
  });

  it('refuses an LLM explainer without an endpoint, and unknown features, changing nothing', async () => {
    const fresh = path.join(root, 'copy');
    fs.cpSync(ws, fresh, { recursive: true });
    withWorkspace(() => undefined);
    const count = () => {
      const w = Workspace.open(fresh, {});
      try {
        return new ExplanationStore(w.db).list(1).length;
      } finally {
        w.close();
      }
    };
    const n = count();
    const w = Workspace.open(fresh, {});
    w.db.prepare("DELETE FROM settings WHERE key = 'autointerp.endpoint'").run();
    w.close();
    const noEndpoint = await runCli(['explain', '--workspace', fresh, '--analysis', '1', '--explainer', 'llm']);
    expect(noEndpoint.code).not.toBe(0);
    expect(noEndpoint.stderr).toMatch(/No chat endpoint is set/);
    const outside = await runCli(['explain', '--workspace', fresh, '--analysis', '1', '--features', '99999']);
    expect(outside.stderr).toMatch(/there is no feature 99999/);
    expect(count()).toBe(n);
  }, 120_000);
});

describe('ocular dataset filter (SAE-V)', () => {
  it('keeps the best-scoring half by cross-modal score, with every score equal to a direct computation, and a random share of the same size', async () => {
    const out = path.join(root, 'filtered-cm');
    const r = await runCli(
      ['dataset', 'filter', '--workspace', ws, '--analysis', '1', '--by', 'cross-modal', '--keep', '0.5', '--out', out, '--json'],
      240_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { kept: number; candidates: number; datasetId: number };
    expect(summary.kept).toBe(Math.ceil(summary.candidates / 2));
    const meta = JSON.parse(fs.readFileSync(path.join(out, 'dataset.json'), 'utf8')) as { scores: Record<string, number> };
    const keys = fs
      .readFileSync(path.join(out, 'items.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(keys).toHaveLength(summary.kept);
    withWorkspace((w) => {
      // Direct: every row encoded, features active (> 0) per item and modality, weights from the analysis.
      const sae = new SaeStore(w.db, ws).load(1);
      const { data } = new HarvestStore(w.db, ws).readTap(1, TAP);
      const z = encode(sae, data);
      const rows = w.db
        .prepare(
          "SELECT r.item_id, r.modality, i.item_key FROM harvest_rows r JOIN dataset_items i ON i.id = r.item_id WHERE r.harvest_id = 1 AND r.stream = 'decoder' ORDER BY r.row",
        )
        .all() as Array<{ item_id: number; modality: string; item_key: string }>;
      const activity = new Map<number, ItemActivity>();
      rows.forEach((m, i) => recordToken(activity, m.item_id, m.modality === 'image', z.subarray(i * sae.dSae, (i + 1) * sae.dSae), 0));
      const weights = new Array<number | null>(sae.dSae).fill(null);
      for (const f of w.db.prepare('SELECT feature, cross_modal FROM features WHERE analysis_id = 1').all() as Array<{
        feature: number;
        cross_modal: number | null;
      }>)
        weights[f.feature] = f.cross_modal;
      const keyOf = new Map(rows.map((m) => [m.item_id, m.item_key]));
      const direct = new Map([...activity].map(([id, a]) => [keyOf.get(id)!, itemScore(a, 'cross-modal', weights)]));
      expect(Object.keys(meta.scores).sort()).toEqual([...direct.keys()].sort());
      for (const [k, v] of direct) expect(meta.scores[k]).toBeCloseTo(v, 9);
      // The kept items are the top half.
      const cutoff = Math.min(...keys.map((k) => direct.get(k)!));
      expect([...direct.values()].filter((v) => v > cutoff).length).toBeLessThan(summary.kept);
      expect(keys.every((k) => direct.get(k)! >= cutoff)).toBe(true);
      expect(new Set(direct.values()).size).toBeGreaterThan(1);
    });
    const random = await runCli(
      ['dataset', 'filter', '--workspace', ws, '--analysis', '1', '--by', 'random', '--keep', '0.5', '--seed', '1', '--json'],
      240_000,
    );
    expect(random.code, random.stderr).toBe(0);
    expect((JSON.parse(random.stdout) as { kept: number }).kept).toBe(summary.kept);
    // Running the same filter again, or a bad share, is refused and adds nothing.
    const again = await runCli(['dataset', 'filter', '--workspace', ws, '--analysis', '1', '--by', 'cross-modal', '--keep', '0.5']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/run already/);
    const bad = await runCli(['dataset', 'filter', '--workspace', ws, '--analysis', '1', '--by', 'l0', '--keep', '0']);
    expect(bad.stderr).toMatch(/--keep must be a share/);
    withWorkspace((w) => expect((w.db.prepare('SELECT count(*) AS n FROM datasets').get() as { n: number }).n).toBe(3));
  }, 300_000);
});

describe('ocular mask (SAE-V patch masking)', () => {
  it('masks by score and at random, evaluates each with the model, and compares them paired with adjusted p-values', async () => {
    const r = await runCli(
      ['mask', '--workspace', ws, '--analysis', '1', '--by', 'cross-modal,l0', '--keep', '0.5,0.25', '--device', 'cpu', '--json'],
      600_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      masked: Array<{ method: string; keep: number; datasetId: number }>;
      rows: Array<{
        method: string;
        keep: number;
        n: number;
        accuracy: number;
        ci95: [number, number];
        vsRandom: { p: number; pHolm: number } | null;
      }>;
    };
    expect(out.masked.map((m) => `${m.method}@${m.keep}`).sort()).toEqual([
      'cross-modal@0.25',
      'cross-modal@0.5',
      'l0@0.25',
      'l0@0.5',
      'random@0.25',
      'random@0.5',
    ]);
    expect(out.rows[0]!.method).toBe('full');
    for (const row of out.rows) {
      expect(row.n).toBe(out.rows[0]!.n);
      expect(row.ci95[1]).toBeGreaterThan(row.ci95[0]);
      expect(row.vsRandom === null).toBe(row.method === 'full' || row.method === 'random');
      if (row.vsRandom) expect(row.vsRandom.pHolm).toBeGreaterThanOrEqual(row.vsRandom.p);
    }
    withWorkspace((w) => {
      // Each masked dataset records its kept patches: ceil(share x patches) per item, painted where not kept.
      const ds = w.db.prepare('SELECT path FROM datasets WHERE id = ?').get(out.masked[0]!.datasetId) as { path: string };
      const meta = JSON.parse(fs.readFileSync(path.join(ds.path, 'dataset.json'), 'utf8')) as {
        masking: { keep: number };
        kept: Record<string, number[]>;
      };
      const patches = (
        w.db
          .prepare(
            "SELECT count(*) AS n FROM harvest_rows WHERE harvest_id = 1 AND stream = 'decoder' AND modality = 'image' AND item_id = (SELECT min(item_id) FROM harvest_rows WHERE harvest_id = 1)",
          )
          .get() as { n: number }
      ).n;
      for (const kept of Object.values(meta.kept)) expect(kept).toHaveLength(Math.ceil(meta.masking.keep * patches));
    });
  }, 900_000);
});
