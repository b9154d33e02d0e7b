/**
 * Circuit patching on the bundled demo model with a transcoder set trained in beforeAll: the
 * per-position clamp is exact (patching B's own activations changes nothing; patching one feature
 * equals adding its decoded change at hook_mlp_out by steering), controls are random alive features
 * of the same layers at the same positions, the summary uses the stats modules' tests, and over
 * pairs (red object, blue object) of colour questions patching A's graph's features into B moves
 * logit(red) − logit(blue) more than random-feature controls (CLI end to end). A saved graph exported
 * as Neuronpedia's graph JSON has exactly the fields circuit-tracer's graph_models.py writes, with
 * its ids, and the saved graph's values.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CircuitPatchResult } from '../../src-main/contract/contract';
import { controlGroups, Patcher, selectionGroups, outcome } from '../../src-main/core/circuits/patch';
import { datasetPairs } from '../../src-main/core/circuits/patch-run';
import { summarizePatch, type PatchPair } from '../../src-main/core/circuits/patch-stats';
import { replacementEdits, replacementFeeds, type LoadedSet } from '../../src-main/core/circuits/transcoder-set';
import type { StoredItem } from '../../src-main/core/datasets/dataset-store';
import { writeEditedGraph } from '../../src-main/core/onnx/edited-graph';
import type { SessionPool } from '../../src-main/core/runtime/session-pool';
import { mcnemarMidP, pairedTable } from '../../src-main/core/stats/paired';
import { wilsonOfOutcomes } from '../../src-main/core/stats/proportion';
import type { TokenInfo, VlmPipeline } from '../../src-main/core/vlm/pipeline';
import { parseFeatures } from '../../src-main/cli/commands/circuit';
import { type NeuronpediaGraph } from '../../src-main/core/circuits/neuronpedia';
import { cumulativeInfluence, type CircuitDocument } from '../../src-main/core/circuits/trace';
import { runCli } from '../helpers/cli';
import { benchItems, demoPipeline, demoTranscoderSet } from '../helpers/demo-workspace';

let root: string;
let ws: string;
let bench: string;
let setId: number;
let set: LoadedSet;
let pool: SessionPool;
let vlm: VlmPipeline;
const cache = () => path.join(root, 'cache');

const items = () => benchItems(bench);

beforeAll(async () => {
  // Seed 7 with 6 items per cell has four red and four blue colour questions.
  ({ root, ws, bench, setId, set } = await demoTranscoderSet('ocular-circuits-patch-', 7, 6));
  ({ pool, vlm } = await demoPipeline());
}, 420_000);

afterAll(async () => {
  await pool?.close();
});

const tok = (modality: TokenInfo['modality']): TokenInfo => ({
  tokenId: 0,
  modality,
  image: null,
  tile: null,
  patchRow: null,
  patchCol: null,
  box: null,
});

describe('selection, controls, pairs and statistics', () => {
  it('expands features to positions, refuses unknown layers and features, and parses --features', () => {
    const tokens = [tok('image'), tok('image'), tok('text'), tok('text')];
    const sel = (positions: 'all' | 'last' | 'image' | 'text') =>
      selectionGroups({ kind: 'features', features: [{ layer: 2, feature: 5 }], positions }, set, tokens)[0]!.positions;
    expect([sel('all'), sel('last'), sel('image'), sel('text')]).toEqual([[0, 1, 2, 3], [3], [0, 1], [2, 3]]);
    expect(() => selectionGroups({ kind: 'features', features: [{ layer: 7, feature: 1 }], positions: 'all' }, set, tokens)).toThrow(
      /no transcoder for layer 7/,
    );
    expect(() => selectionGroups({ kind: 'features', features: [{ layer: 0, feature: 9999 }], positions: 'all' }, set, tokens)).toThrow(
      /has 512 features, not 9999/,
    );
    expect(() => selectionGroups({ kind: 'graph', nodes: [{ layer: 0, position: 9, feature: 1 }] }, set, tokens)).toThrow(
      /position 9; the prompt has 4/,
    );
    expect(parseFeatures('2:17, 0:3')).toEqual([
      { layer: 2, feature: 17 },
      { layer: 0, feature: 3 },
    ]);
    expect(() => parseFeatures('2-17')).toThrow(/layer:feature/);
  });

  it('controls draw alive features of the same layer, never a chosen one, at the chosen positions, reproducibly', () => {
    const dSae = set.layers[0]!.sae.dSae;
    const T = 3;
    const codes = (active: Array<[number, number]>) => {
      const c = new Float32Array(T * dSae);
      for (const [t, f] of active) c[t * dSae + f] = 1;
      return c;
    };
    const a = set.layers.map(() =>
      codes([
        [0, 1],
        [1, 2],
        [2, 3],
      ]),
    );
    const b = set.layers.map(() =>
      codes([
        [0, 4],
        [2, 1],
      ]),
    );
    const groups = [
      { layer: 0, feature: 1, positions: [0, 2] },
      { layer: 0, feature: 2, positions: [1] },
    ];
    const c = controlGroups(groups, set, a, b, 3);
    expect(c.short).toBe(0);
    expect(c.groups.map((g) => g.positions)).toEqual([[0, 2], [1]]);
    for (const g of c.groups) {
      expect(g.layer).toBe(0);
      expect([3, 4]).toContain(g.feature);
    }
    expect(new Set(c.groups.map((g) => g.feature)).size).toBe(2);
    expect(controlGroups(groups, set, a, b, 3)).toEqual(c);
    // A third chosen feature leaves one alive feature (4) for three groups: two go without a control.
    expect(controlGroups([...groups, { layer: 0, feature: 3, positions: [0] }], set, a, b, 3).short).toBe(2);
  });

  it('pairs items whose answers differ, filtered by task and by the answers of A and B', () => {
    const item = (id: number, task: string, value: string): StoredItem => ({
      id,
      key: `k${id}`,
      image: 'x.png',
      question: 'q',
      answer: { type: 'text', value },
      task,
      difficulty: null,
      scene: null,
    });
    const all = [item(1, 'color', 'red'), item(2, 'color', 'blue'), item(3, 'color', 'Red'), item(4, 'shape', 'circle')];
    const keys = (p: Array<[StoredItem, StoredItem]>) => p.map(([a, b]) => `${a.key}>${b.key}`).sort();
    expect(keys(datasetPairs(all, { task: 'color' }, 0))).toEqual(['k1>k2', 'k2>k1', 'k2>k3', 'k3>k2']);
    expect(keys(datasetPairs(all, { aAnswer: 'red', bAnswer: 'blue' }, 0))).toEqual(['k1>k2', 'k3>k2']);
    expect(datasetPairs(all, {}, 1)).toHaveLength(10);
  });

  it('summarises with Wilson intervals, McNemar against clean and controls, permutation p on shifts, Holm and BH', () => {
    const o = (top: number, logitDiff: number) => ({ top, logitDiff });
    const pairs: PatchPair[] = Array.from({ length: 12 }, (_, i) => ({
      a: `a${i}`,
      b: `b${i}`,
      answerA: 1,
      answerB: 2,
      clean: o(2, -5),
      patched: i < 8 ? o(1, 1 + i / 10) : o(2, -2),
      controls: [o(2, -5 + (i % 2 ? 0.1 : -0.1)), i === 0 ? o(1, 0) : o(2, -4.9)],
      sites: 3,
      controlsShort: 0,
    }));
    const s = summarizePatch(pairs, { resamples: 2000, seed: 0 });
    expect(s.conditions.map((c) => c.id)).toEqual(['clean', 'patch', 'random features 1', 'random features 2']);
    const patch = s.conditions[1]!;
    const w = wilsonOfOutcomes(pairs.map((_, i) => i < 8));
    expect(patch.answersA).toEqual({ share: 8 / 12, ci95: [w.lower, w.upper] });
    expect(patch.keepsB.share).toBeCloseTo(4 / 12, 12);
    expect(patch.vsClean!.p).toBe(
      mcnemarMidP(
        pairedTable(
          pairs.map((_, i) => i < 8),
          pairs.map(() => false),
        ),
      ),
    );
    expect(patch.vsClean!.pHolm).toBeGreaterThanOrEqual(patch.vsClean!.p);
    expect(s.patchVsControls).toHaveLength(2);
    const v = s.patchVsControls[0]!;
    expect(v.answersADifference).toBeCloseTo(8 / 12, 12);
    expect(v.pPermutation).toBeLessThan(0.01);
    expect(v.pPermutationHolm).toBeGreaterThanOrEqual(v.pPermutation);
    expect(v.pPermutationBh).toBeLessThanOrEqual(v.pPermutationHolm);
    expect(s.flagged).toBe(false);
    expect(
      summarizePatch(
        pairs.map((p) => ({ ...p, controls: [p.patched] })),
        { resamples: 200, seed: 0 },
      ).flagged,
    ).toBe(true);
  });
});

describe('patching in the real model', () => {
  it("patching B's own activations changes nothing; one feature patched equals steering by its decoded change", async () => {
    const colour = items().filter((i) => i.task === 'color');
    const [ia, ib] = [colour[0]!, colour.find((i) => i.answer.value !== colour[0]!.answer.value)!];
    const patcher = await Patcher.open(vlm, pool, 'cpu', set, cache());
    const a = await patcher.clean({ image: path.join(bench, ia.image), prompt: ia.question });
    const b = await patcher.clean({ image: path.join(bench, ib.image), prompt: ib.question });
    const T = b.prefix.length;
    // Every feature of every layer at every position set to B's own value: B unchanged.
    const every = set.layers.flatMap((l) =>
      Array.from({ length: l.sae.dSae }, (_, f) => ({ layer: l.layer, feature: f, positions: Array.from({ length: T }, (_, t) => t) })),
    );
    const [self] = await patcher.patched(b, b, [every]);
    let worst = 0;
    for (let v = 0; v < b.logits.length; v++) worst = Math.max(worst, Math.abs(self![v]! - b.logits[v]!));
    expect(worst).toBeLessThan(1e-3);

    // The last layer's most different feature at the last position, patched from A.
    const last = set.layers.length - 1;
    const sae = set.layers[last]!.sae;
    const d = sae.dOut!;
    let f = 0;
    const at = (c: Float32Array, g: number) => c[(T - 1) * sae.dSae + g]!;
    for (let g = 1; g < sae.dSae; g++)
      if (Math.abs(at(a.codes[last]!, g) - at(b.codes[last]!, g)) > Math.abs(at(a.codes[last]!, f) - at(b.codes[last]!, f))) f = g;
    const delta = at(a.codes[last]!, f) - at(b.codes[last]!, f);
    expect(Math.abs(delta)).toBeGreaterThan(0);
    const [patched] = await patcher.patched(a, b, [[{ layer: set.layers[last]!.layer, feature: f, positions: [T - 1] }]]);
    const steerTap = `blocks.${set.layers[last]!.layer}.hook_mlp_out`;
    const steered = writeEditedGraph(
      vlm.files.decoder,
      { transcoderEdits: replacementEdits(set), steer: [steerTap] },
      { cacheDir: cache() },
    );
    const session = await pool.load(steered.path, 'cpu');
    const steer = new Float32Array(T * d);
    for (let i = 0; i < d; i++) steer[(T - 1) * d + i] = delta * sae.W_dec[f * d + i]!;
    const out = await pool.run(
      session,
      {
        ...vlm.prefillFeeds(b.prefix),
        ...replacementFeeds(set, 1, T, 1),
        [`steer.${steerTap}`]: { type: 'float32', dims: [1, T, d], data: steer },
      },
      ['logits'],
    );
    const V = out.logits!.dims[2]!;
    const ref = (out.logits!.data as Float32Array).subarray((T - 1) * V, T * V);
    let diff = 0;
    let moved = 0;
    for (let v = 0; v < V; v++) {
      diff = Math.max(diff, Math.abs(patched![v]! - ref[v]!));
      moved = Math.max(moved, Math.abs(patched![v]! - b.logits[v]!));
    }
    expect(moved).toBeGreaterThan(1e-2);
    expect(diff).toBeLessThan(1e-3 * Math.max(1, moved));
    expect(outcome(patched!, 1, 2).logitDiff).toBeCloseTo(patched![1]! - patched![2]!, 6);
  }, 120_000);

  it("red into blue: A's graph features patched into B move logit(red) − logit(blue) more than random-feature controls (CLI)", async () => {
    const r = await runCli(
      ['circuit', 'patch', '--workspace', ws, '--set', String(setId), '--pair-graph', '--max-features', '64', '--dataset', bench].concat([
        '--task',
        'color',
        '--a-answer',
        'red',
        '--b-answer',
        'blue',
        '--controls',
        '3',
        '--device',
        'cpu',
        '--json',
      ]),
      300_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as CircuitPatchResult;
    expect(s.pairs).toBe(16);
    for (const p of s.perPair) expect([p.answerA.trim(), p.answerB.trim()]).toEqual(['red', 'blue']);
    const [clean, patch, ...controls] = s.conditions;
    expect(clean!.meanShift).toBe(0);
    expect(clean!.keepsB.share).toBe(1);
    console.log(
      `red -> blue, ${s.pairs} pairs: shift of logit(red) - logit(blue) patch ${patch!.meanShift.toFixed(2)}, controls ${controls
        .map((c) => c.meanShift.toFixed(2))
        .join(' / ')}; answers red: patch ${(patch!.answersA.share * 100).toFixed(0)}%`,
    );
    expect(patch!.meanShift).toBeGreaterThan(1);
    for (const c of controls) expect(patch!.meanShift).toBeGreaterThan(c.meanShift + 1);
    for (const v of s.patchVsControls) {
      expect(v.shiftDifference).toBeGreaterThan(1);
      expect(v.pPermutationHolm).toBeLessThan(0.05);
    }

    // Bad input: one clear line, no job.
    const bad = await runCli(['circuit', 'patch', '--workspace', ws, '--set', String(setId), '--dataset', bench]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Name one of --features, --graph or --pair-graph/);
  }, 300_000);
});

describe('Neuronpedia graph export', () => {
  it("cumulative influence is circuit-tracer's pruning score (sorted descending, running share; the output left out)", () => {
    const n = (kind: 'feature' | 'output', influence: number) => ({ kind, layer: 0, position: 0, activation: 1, influence });
    expect(cumulativeInfluence([n('feature', 1), n('output', 5), n('feature', 3), n('feature', 0)])).toEqual([1, null, 0.75, 1]);
  });

  it("writes circuit-tracer's fields and ids with the saved graph's values, image patches listed in metadata", async () => {
    const item = items().find((i) => i.task === 'color' && i.answer.value !== 'blue')!;
    const traced = await runCli(
      [
        'circuit',
        'trace',
        '--workspace',
        ws,
        '--set',
        String(setId),
        '--image',
        path.join(bench, item.image),
        '--prompt',
        item.question,
      ].concat(['--target', item.answer.value, '--contrast', 'blue', '--max-features', '64', '--device', 'cpu', '--json']),
      120_000,
    );
    expect(traced.code, traced.stderr).toBe(0);
    const { circuitId, file } = JSON.parse(traced.stdout) as { circuitId: number; file: string };
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as CircuitDocument & { image: string };
    const out = path.join(root, 'np');
    const exported = await runCli([
      'circuit',
      'export',
      '--workspace',
      ws,
      '--circuit',
      String(circuitId),
      '--format',
      'neuronpedia',
      '--out',
      out,
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const g = JSON.parse(fs.readFileSync(path.join(out, `ocular-circuit-${circuitId}.json`), 'utf8')) as NeuronpediaGraph;
    const list = JSON.parse(fs.readFileSync(path.join(out, 'graph-metadata.json'), 'utf8')) as { graphs: Array<{ slug: string }> };
    expect(list.graphs.map((x) => x.slug)).toEqual([`ocular-circuit-${circuitId}`]);

    // Fields as circuit_tracer/frontend/graph_models.py defines them (Metadata, QParams, Node, links as Link).
    expect(Object.keys(g).sort()).toEqual(['links', 'metadata', 'nodes', 'qParams']);
    expect(Object.keys(g.metadata).sort()).toEqual(
      ['node_threshold', 'ocular', 'prompt', 'prompt_tokens', 'scan', 'schema_version', 'slug', 'transcoder_list'].sort(),
    );
    expect(g.qParams).toEqual({ pinnedIds: [], supernodes: [], linkType: 'both', clickedId: '', sg_pos: '' });
    const nodeKeys = ['activation', 'clerp', 'ctx_idx', 'feature', 'feature_type', 'influence', 'is_target_logit', 'jsNodeId']
      .concat(['layer', 'node_id', 'reverse_ctx_idx', 'run_idx', 'token_prob'])
      .sort();
    for (const n of g.nodes) expect(Object.keys(n).sort()).toEqual(nodeKeys);
    for (const l of g.links) expect(Object.keys(l).sort()).toEqual(['source', 'target', 'weight']);

    // Values against the saved graph.
    const T = doc.tokens.length;
    expect(g.metadata.prompt).toBe(item.question);
    expect(g.metadata.prompt_tokens).toHaveLength(T);
    expect(g.metadata.node_threshold).toBe(doc.pruning.nodeThreshold);
    expect(g.metadata.ocular.image_patches).toHaveLength(doc.tokens.filter((t) => t.modality === 'image').length);
    expect(g.metadata.ocular.image_patches.filter((p) => p.row !== null)).toHaveLength(64);
    expect(g.metadata.ocular.image).toBe(doc.image);
    expect(g.metadata.ocular.note).toMatch(/Image-patch inputs are embedding nodes/);
    const ids = new Set(g.nodes.map((n) => n.node_id));
    expect(ids.size).toBe(g.nodes.length);
    expect(g.links).toHaveLength(doc.edges.length);
    const byId = new Map(g.nodes.map((n) => [n.node_id, n]));
    const L = doc.layers.length;
    const idOf = (n: CircuitDocument['nodes'][number]) =>
      n.kind === 'feature'
        ? `${n.layer}_${n.feature}_${n.position}`
        : n.kind === 'error'
          ? `0_${n.layer}_${n.position}`
          : n.kind === 'embedding'
            ? `E_${doc.tokens[n.position]!.tokenId}_${n.position}`
            : `${L + 1}_${doc.target.token}_${n.position}`;
    doc.edges.forEach(([t, s, w], i) => {
      expect(g.links[i]).toEqual({ source: idOf(doc.nodes[s]!), target: idOf(doc.nodes[t]!), weight: w });
      expect(byId.has(g.links[i]!.source) && byId.has(g.links[i]!.target)).toBe(true);
    });
    const embeddings = g.nodes.filter((n) => n.feature_type === 'embedding');
    expect(embeddings).toHaveLength(T);
    const imageToken = doc.tokens.find((t) => t.modality === 'image')!;
    expect(embeddings.find((n) => n.ctx_idx === imageToken.position)!.node_id).toBe(`E_${imageToken.tokenId}_${imageToken.position}`);
    const logits = g.nodes.filter((n) => n.feature_type === 'logit');
    expect(logits).toHaveLength(1);
    expect(logits[0]!).toMatchObject({
      is_target_logit: true,
      feature: doc.target.token,
      layer: String(L + 1),
      ctx_idx: T - 1,
      influence: null,
    });
    expect(logits[0]!.clerp).toMatch(/minus .*blue.*logit difference/);
    for (const n of doc.nodes.filter((x) => x.kind === 'feature' && byId.has(idOf(x)))) {
      const e = byId.get(idOf(n))!;
      expect(e).toMatchObject({ feature: n.feature, layer: String(n.layer), ctx_idx: n.position, activation: n.activation });
      expect(e.influence).toBe(n.cumulativeInfluence);
      expect(e.jsNodeId).toBe(`${n.layer}_${n.feature}-0`);
    }
    // Higher influence, smaller cumulative score.
    const ranked = doc.nodes.filter((n) => n.kind !== 'output').sort((a, b) => b.influence - a.influence);
    for (let i = 1; i < ranked.length; i++)
      expect(ranked[i]!.cumulativeInfluence!).toBeGreaterThanOrEqual(ranked[i - 1]!.cumulativeInfluence!);

    // A second export with another slug adds to graph-metadata.json; a bad slug or format is one line, nothing written.
    expect(
      (
        await runCli([
          'circuit',
          'export',
          '--workspace',
          ws,
          '--circuit',
          String(circuitId),
          '--format',
          'neuronpedia',
          '--out',
          out,
          '--slug',
          'two',
        ])
      ).code,
    ).toBe(0);
    expect((JSON.parse(fs.readFileSync(path.join(out, 'graph-metadata.json'), 'utf8')) as typeof list).graphs).toHaveLength(2);
    const bad = await runCli([
      'circuit',
      'export',
      '--workspace',
      ws,
      '--circuit',
      String(circuitId),
      '--format',
      'neuronpedia',
      '--out',
      out,
      '--slug',
      '../x',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Slug '..\/x' must be/);
    expect(
      (await runCli(['circuit', 'export', '--workspace', ws, '--circuit', String(circuitId), '--format', 'dot', '--out', out])).stderr,
    ).toMatch(/--format must be neuronpedia/);
    expect(fs.readdirSync(out).sort()).toEqual(['graph-metadata.json', `ocular-circuit-${circuitId}.json`, 'two.json']);
  }, 180_000);
});
