/**
 * Auto-interpretation's parts on hand-made inputs: detection and simulation scores against direct
 * computations, strict parsing of explainer and scorer replies, the ground-truth explainer's choice
 * and confidence, the example draws (held out, quantile-spread, seeded), and the real chat client
 * against a loopback HTTP server that speaks the chat-completions API (text and image parts, every
 * failure one line); SAE-V item scores and the kept share.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureExample } from '../../src-main/contract/contract';
import { ChatClient, checkEndpointUrl, type ChatMessage } from '../../src-main/core/autointerp/chat-client';
import { pickRows, shuffleScoring } from '../../src-main/core/autointerp/example-sets';
import { describe as describePredicate, explainFromGroundTruth, holds } from '../../src-main/core/autointerp/ground-truth';
import { exampleImageParts } from '../../src-main/core/autointerp/image-parts';
import { describeExample, parseDetection, parseExplanation, parseSimulation } from '../../src-main/core/autointerp/prompts';
import { detectionScore, pearson } from '../../src-main/core/autointerp/scores';
import { itemScore, recordToken, selectItems, type ItemActivity } from '../../src-main/core/datasets/sae-v-filter';
import { tmpDir } from '../helpers/tmp';

type Obj = FeatureExample['object'];
const img = (object: Obj, task = 'count'): Pick<FeatureExample, 'modality' | 'object' | 'task'> => ({ modality: 'image', object, task });
const red = (shape: string, size = 'large'): Obj => ({ color: 'red', shape, size });

describe('scores', () => {
  it('detection: confusion counts, accuracy with a Wilson interval, balanced accuracy, precision, recall, F1', () => {
    const truth = [true, true, true, true, false, false, false, false, false, false];
    const pred = [true, true, true, false, true, false, false, false, false, false];
    const s = detectionScore(truth, pred);
    expect([s.tp, s.fn, s.fp, s.tn]).toEqual([3, 1, 1, 5]);
    expect(s.accuracy).toBeCloseTo(0.8, 12);
    expect(s.balancedAccuracy).toBeCloseTo((3 / 4 + 5 / 6) / 2, 12);
    expect(s.precision).toBeCloseTo(0.75, 12);
    expect(s.recall).toBeCloseTo(0.75, 12);
    expect(s.f1).toBeCloseTo(0.75, 12);
    // Wilson 95% for 8/10, from its formula.
    const z = 1.959963984540054;
    const centre = (0.8 + (z * z) / 20) / (1 + (z * z) / 10);
    const half = (z / (1 + (z * z) / 10)) * Math.sqrt(0.016 + (z * z) / 400);
    expect(s.accuracyCi95[0]).toBeCloseTo(centre - half, 10);
    expect(s.accuracyCi95[1]).toBeCloseTo(centre + half, 10);
    // A perfect scorer's interval still has width: it does not collapse at 100%.
    const perfect = detectionScore(truth, truth);
    expect(perfect.accuracy).toBe(1);
    expect(perfect.accuracyCi95[1]).toBe(1);
    expect(perfect.accuracyCi95[0]).toBeLessThan(0.75);
    // Nothing predicted positive: precision and F1 are undefined, not 0.
    const none = detectionScore(
      truth,
      truth.map(() => false),
    );
    expect(none.precision).toBeNull();
    expect(none.f1).toBeNull();
    expect(none.balancedAccuracy).toBe(0.5);
    expect(() => detectionScore([true, true], [true, false])).toThrow(/both activating and non-activating/);
  });

  it("simulation: Pearson's r as the textbook formula gives it, undefined (with why) when a side is constant", () => {
    const x = [0, 0, 1.5, 3, 0.2, 4];
    const y = [0, 1, 5, 7, 0, 10];
    const mx = x.reduce((a, b) => a + b) / x.length;
    const my = y.reduce((a, b) => a + b) / y.length;
    const cov = x.reduce((s, v, i) => s + (v - mx) * (y[i]! - my), 0);
    const r = cov / Math.sqrt(x.reduce((s, v) => s + (v - mx) ** 2, 0) * y.reduce((s, v) => s + (v - my) ** 2, 0));
    const got = pearson(x, y);
    expect(got.r).toBeCloseTo(r, 12);
    expect(
      pearson(
        x,
        x.map((v) => 3 * v + 1),
      ).r,
    ).toBeCloseTo(1, 12);
    expect(pearson(x, [5, 5, 5, 5, 5, 5])).toEqual({ r: null, n: 6, reason: 'the simulator predicted the same value for every unit' });
    expect(pearson([1, 1], [0, 1]).r).toBeNull();
  });
});

describe('prompts and replies', () => {
  it('marks the token in question and scales activations 0-10 for the explainer only', () => {
    const e = {
      modality: 'text' as const,
      context: [
        { token: 'How', activation: 0, at: false },
        { token: ' many', activation: 2, at: false },
        { token: ' circles', activation: 4, at: true },
      ],
      question: 'How many circles?',
      patchRow: null,
      patchCol: null,
      heatmap: null,
    };
    expect(describeExample(e, true)).toBe('Text: How<< many>> (5)<< circles>> (10)');
    expect(describeExample(e, false)).toBe('Text: How many<< circles>>');
    expect(describeExample({ ...e, modality: 'image', patchRow: 2, patchCol: 3, heatmap: { rows: 4, cols: 4, values: [] } }, false)).toBe(
      'Image patch at row 2, column 3 of a 4x4 grid, in an image the model was asked: "How many circles?"',
    );
  });

  it('reads the last [EXPLANATION] line and refuses replies that do not parse', () => {
    expect(parseExplanation('Thinking...\n[EXPLANATION]: draft\nBetter:\n[EXPLANATION]: "red triangles"')).toBe('red triangles');
    expect(() => parseExplanation('It is about red things.')).toThrow(/EXPLANATION/);
    expect(parseDetection('Here: [1, 0, 1]', 3)).toEqual([true, false, true]);
    expect(parseSimulation('<think>[9]</think> [0, 10, 3]', 3)).toEqual([0, 10, 3]);
    expect(() => parseDetection('[1, 0]', 3)).toThrow(/not a list of 3/);
    expect(() => parseDetection('[1, 2, 0]', 3)).toThrow(/not a list of 3/);
    expect(() => parseSimulation('[0, 11, 3]', 3)).toThrow(/not a list of 3/);
    expect(() => parseSimulation('no list here', 3)).toThrow(/no JSON list/);
  });
});

describe('the ground-truth explainer', () => {
  it('chooses the conjunction with the best F1, preferring the more general claim on ties, with a Wilson confidence', () => {
    // The feature fires on red triangles, large or small; red squares and blue triangles are contrasts.
    const active = [img(red('triangle')), img(red('triangle', 'small')), img(red('triangle')), img(red('triangle', 'small'))];
    const inactive = [
      img(red('square')),
      img({ color: 'blue', shape: 'triangle', size: 'large' }),
      img(null),
      { modality: 'text' as const, object: null, task: 'count' },
    ];
    const gt = explainFromGroundTruth(active, inactive)!;
    expect(gt.predicate).toEqual({ modality: 'image', color: 'red', shape: 'triangle' });
    expect(gt.text).toBe('fires on image patches of red triangles');
    expect(gt.confidence).toBe(1);
    expect(gt.confidenceCi95[1]).toBe(1);
    expect(gt.confidenceCi95[0]).toBeLessThan(0.6); // 4 of 4 is not certainty
    expect(gt.trainF1).toBe(1);
    // Background and text predicates.
    expect(explainFromGroundTruth([img(null), img(null)], [img(red('square'))])!.text).toMatch(/background/);
    const text = { modality: 'text' as const, object: null, task: 'compare' };
    expect(explainFromGroundTruth([text, text], [{ ...text, task: 'count' }])!.text).toBe('fires on text tokens of compare items');
    expect(holds({ modality: 'image', size: 'small' }, img(red('circle', 'small')))).toBe(true);
    expect(describePredicate({ modality: 'image', size: 'large', color: 'red', shape: 'triangle' })).toBe(
      'fires on image patches of large red triangles',
    );
    expect(explainFromGroundTruth([], [])).toBeNull();
  });
});

describe('example draws', () => {
  const n = 200;
  const rows = Int32Array.from({ length: 60 }, (_, i) => i * 3);
  const acts = Float32Array.from({ length: 60 }, (_, i) => 60 - i);

  it('holds out the explainer’s top examples, spreads the scored ones over quantiles, and draws non-activating rows the feature does not fire on', () => {
    const p = pickRows({ rows, acts }, null, n, { explain: 10, score: 10 }, 5);
    expect(p.explain.map((e) => e.row)).toEqual([...rows.slice(0, 10)]);
    const shown = new Set(p.explain.map((e) => e.row));
    expect(p.scoreActive).toHaveLength(10);
    expect(p.scoreActive.every((e) => !shown.has(e.row) && rows.includes(e.row))).toBe(true);
    expect(new Set(p.scoreActive.map((e) => e.row)).size).toBe(10);
    // Spread: from the strongest interval (top 1% of the rest) down to below the median.
    expect(Math.max(...p.scoreActive.map((e) => e.activation))).toBe(50);
    expect(Math.min(...p.scoreActive.map((e) => e.activation))).toBeLessThan(26);
    const firing = new Set(rows);
    expect(p.scoreInactive).toHaveLength(10);
    expect([...p.scoreInactive, ...p.contrast].every((r) => !firing.has(r) && r < n)).toBe(true);
    expect(new Set([...p.scoreInactive, ...p.contrast]).size).toBe(p.scoreInactive.length + p.contrast.length);
    expect(pickRows({ rows, acts }, null, n, { explain: 10, score: 10 }, 5)).toEqual(p);
    // On a sampled scan, non-activating rows come only from the scanned rows.
    const scanned = Array.from({ length: 100 }, (_, i) => 2 * i);
    const s = pickRows({ rows, acts }, scanned, n, { explain: 10, score: 10 }, 5);
    expect([...s.scoreInactive, ...s.contrast].every((r) => r % 2 === 0)).toBe(true);
    const mixed = shuffleScoring(['a1', 'a2', 'a3'], ['n1', 'n2', 'n3'], 1);
    mixed.examples.forEach((e, i) => expect(e.startsWith('a')).toBe(mixed.truth[i]));
  });
});

describe('the chat client against a loopback chat-completions server', () => {
  let server: http.Server;
  let base: string;
  const seen: Array<{ path: string; body: { model: string; messages: ChatMessage[]; temperature: number } }> = [];
  let mode: 'ok' | 'error' | 'html' | 'slow' | 'empty' = 'ok';

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        seen.push({ path: req.url!, body: JSON.parse(raw) });
        if (mode === 'slow') return void setTimeout(() => res.end(), 2000);
        if (mode === 'error')
          return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"model not loaded"}}');
        if (mode === 'html') return void res.writeHead(200).end('<html>hi</html>');
        const content = mode === 'empty' ? '' : `[EXPLANATION]: echo ${JSON.parse(raw).messages.length}`;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: 'x',
            object: 'chat.completion',
            model: 'm',
            choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('posts model, messages and temperature 0 to /v1/chat/completions and returns the message', async () => {
    mode = 'ok';
    const client = new ChatClient({ url: `${base}/`, model: 'qwen3-vl', multimodal: true });
    const reply = await client.complete([
      { role: 'system', content: 's' },
      { role: 'user', content: [{ type: 'text', text: 'u' }] },
    ]);
    expect(reply).toBe('[EXPLANATION]: echo 2');
    const last = seen.at(-1)!;
    expect(last.path).toBe('/v1/chat/completions');
    expect(last.body.model).toBe('qwen3-vl');
    expect(last.body.temperature).toBe(0);
    expect(last.body.messages[1]!.content).toEqual([{ type: 'text', text: 'u' }]);
  });

  it('sends a multimodal explainer the patch crop and heatmap as PNG data URIs it can decode', async () => {
    const dir = tmpDir('autointerp-img-');
    const file = `${dir}/scene.png`;
    // 64x64: left half red, right half blue; the example is the patch at row 1, col 0 of a 4x4 grid.
    const raw = Buffer.alloc(64 * 64 * 3);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) raw.set(x < 32 ? [255, 0, 0] : [0, 0, 255], (y * 64 + x) * 3);
    await sharp(raw, { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toFile(file);
    const values = Array.from({ length: 16 }, (_, i) => (i === 4 ? 5 : 0));
    const cells = values.map((value, i) => ({
      image: 0,
      tile: 0,
      box: [(i % 4) * 16, Math.floor(i / 4) * 16, (i % 4) * 16 + 16, Math.floor(i / 4) * 16 + 16],
      value,
    }));
    const example = {
      modality: 'image',
      patchRow: 1,
      patchCol: 0,
      heatmap: { rows: 4, cols: 4, values, cells },
    } as unknown as FeatureExample;
    const parts = await exampleImageParts(example, file, true);
    expect(parts.map((p) => p.type)).toEqual(['image_url', 'image_url']);
    mode = 'ok';
    await new ChatClient({ url: base, model: 'm', multimodal: true }).complete([{ role: 'user', content: parts }]);
    const sent = seen.at(-1)!.body.messages[0]!.content as Array<{ type: string; image_url: { url: string } }>;
    const [crop, heat] = await Promise.all(
      sent.map(async (p) => {
        expect(p.image_url.url).toMatch(/^data:image\/png;base64,/);
        const png = Buffer.from(p.image_url.url.split(',')[1]!, 'base64');
        return sharp(png).raw().toBuffer({ resolveWithObject: true });
      }),
    );
    // The crop is 3 patches wide around the patch (x 0..32 of the image: red, then blue at the edge), 112 px.
    expect(crop!.info.width).toBe(112);
    expect([...crop!.data.subarray(0, 3)]).toEqual([255, 0, 0]);
    // The heatmap paints the example's cell red and leaves a blue cell blue.
    const at = (x: number, y: number) => [
      ...heat!.data.subarray((y * heat!.info.width + x) * heat!.info.channels, (y * heat!.info.width + x) * heat!.info.channels + 3),
    ];
    const scale = heat!.info.width / 64;
    expect(at(Math.floor(56 * scale), Math.floor(8 * scale))).toEqual([0, 0, 255]);
    expect(at(Math.floor(8 * scale), Math.floor(24 * scale))[0]).toBe(255);
  });

  it('turns every failure into one line naming the endpoint', async () => {
    const client = new ChatClient({ url: base, model: 'm', multimodal: false });
    mode = 'error';
    await expect(client.complete([{ role: 'user', content: 'x' }])).rejects.toThrow(/answered HTTP 500: .*model not loaded/);
    mode = 'html';
    await expect(client.complete([{ role: 'user', content: 'x' }])).rejects.toThrow(/not JSON/);
    mode = 'empty';
    await expect(client.complete([{ role: 'user', content: 'x' }])).rejects.toThrow(/empty message/);
    mode = 'slow';
    await expect(client.complete([{ role: 'user', content: 'x' }], { timeoutMs: 300 })).rejects.toThrow(/did not answer in time/);
    const closed = new ChatClient({ url: 'http://127.0.0.1:9/v1', model: 'm', multimodal: false });
    await expect(closed.complete([{ role: 'user', content: 'x' }])).rejects.toThrow(
      /Cannot reach the chat endpoint http:\/\/127\.0\.0\.1:9\/v1/,
    );
    expect(() => checkEndpointUrl('file:///etc/passwd')).toThrow(/http or https/);
    expect(() => checkEndpointUrl('http://user:pw@host/v1')).toThrow(/credentials/);
    expect(() => checkEndpointUrl('not a url')).toThrow(/not a URL/);
  });
});

describe('SAE-V item scores', () => {
  it('sums cross-modal weights of the features active on an item, counts co-occurring and active features, each once', () => {
    const activity = new Map<number, ItemActivity>();
    // Item 7: image tokens fire features 0 and 1 (1 only above the bound), text tokens fire 1 and 2.
    recordToken(activity, 7, true, [0.5, 0.05, 0, 0], 0.1);
    recordToken(activity, 7, true, [0, 0.9, 0, 0], 0.1);
    recordToken(activity, 7, false, [0, 0.2, 0.3, 0], 0.1);
    recordToken(activity, 7, false, [0, 0, 0.4, 0], 0.1);
    const a = activity.get(7)!;
    expect([...a.image].sort()).toEqual([0, 1]);
    expect([...a.text].sort()).toEqual([1, 2]);
    const w = [0.5, 0.25, null, 0.125];
    expect(itemScore(a, 'cross-modal', w)).toBeCloseTo(0.75, 12); // 0.5 + 0.25 + (no weight) 0
    expect(itemScore(a, 'cooccurrence', w)).toBe(1); // feature 1 only
    expect(itemScore(a, 'l0', w)).toBe(3);
  });

  it('keeps ceil(keep x n) items, best first with ties by id, or a seeded random share of the same size', () => {
    const scores = new Map([
      [1, 0.2],
      [2, 0.9],
      [3, 0.2],
      [4, 0.5],
      [5, 0.1],
    ]);
    expect(selectItems(scores, 0.5, 'cross-modal')).toEqual([2, 4, 1]);
    expect(selectItems(scores, 1, 'l0')).toEqual([2, 4, 1, 3, 5]);
    const r = selectItems(scores, 0.4, 'random', 3);
    expect(r).toHaveLength(2);
    expect(selectItems(scores, 0.4, 'random', 3)).toEqual(r);
    expect(() => selectItems(scores, 0, 'l0')).toThrow(/keep must be/);
  });
});
