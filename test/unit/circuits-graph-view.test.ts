/**
 * The Circuits page's server-side pruning (core/circuits/graph-view.ts) on random graphs: a saved graph
 * re-pruned to a smaller influence share keeps exactly the features prune() keeps on the full graph at
 * that share, only saved edges between kept nodes, and only the inputs / errors an edge reaches; a
 * larger share than saved, and an image that is not PNG or JPEG, are refused or reported, not guessed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prune, type GraphNode } from '../../src-main/core/circuits/attribution';
import { attentionOf, graphView, imageDataUrl, keptAtShare, readCircuit } from '../../src-main/core/circuits/graph-view';
import { randomGraph, savedCircuit as saved } from '../helpers/circuit-docs';

const featureKey = (n: GraphNode) => `${n.layer}:${n.position}:${n.feature}`;

describe('re-pruning a saved attribution graph', () => {
  it("keeps exactly prune()'s features at a smaller share, the saved edges among them, and inputs / errors an edge reaches", () => {
    for (const seed of [1, 2, 3, 4]) {
      const g = randomGraph(seed);
      const doc = saved(g, 0.95);
      let previous = Infinity;
      for (const share of [0.95, 0.8, 0.6, 0.4, 0.2, 0.05]) {
        const want = new Set(
          prune(g, share, 1)
            .nodes.map((i) => g.nodes[i]!)
            .filter((n) => n.kind === 'feature')
            .map(featureKey),
        );
        const kept = keptAtShare(doc, share);
        const got = new Set(doc.nodes.filter((n) => n.kind === 'feature' && kept.has(n.id)).map(featureKey));
        expect(got, `seed ${seed}, share ${share}`).toEqual(want);

        const view = graphView(doc, 7, share, (sae) => sae * 100, { url: null, note: 'none' });
        const shown = new Set(view.nodes.map((n) => n.id));
        expect(view.nodes.filter((n) => n.kind === 'feature').length).toBe(want.size);
        for (const [t, s] of view.edges) expect(shown.has(t) && shown.has(s)).toBe(true);
        const onEdge = new Set(view.edges.flat().slice());
        for (const n of view.nodes) if (n.kind === 'embedding' || n.kind === 'error') expect(onEdge.has(n.id)).toBe(true);
        expect(view.edges).toEqual(doc.edges.filter(([t, s]) => kept.has(t) && kept.has(s)));
        for (const n of view.nodes.filter((x) => x.kind === 'feature')) expect(n.analysisId).toBe(doc.saeIds[n.layer]! * 100);
        expect(view.nodes.filter((n) => n.kind === 'output')).toHaveLength(1);
        expect(view.nodes.length).toBeLessThanOrEqual(previous);
        previous = view.nodes.length;
        // Every image patch's input influence, whether or not its node is shown.
        expect(view.patchInfluence).toEqual(
          doc.attention.imagePositions.map((p) => doc.nodes.find((n) => n.kind === 'embedding' && n.position === p)!.influence),
        );
      }
    }
  });

  it('refuses a share above the saved one, and old graphs without their total influence below it', () => {
    const doc = saved(randomGraph(5), 0.8);
    expect(() => keptAtShare(doc, 0.9)).toThrow(
      /saved with the features carrying 80% of the influence; a larger share \(90%\) needs a new trace/,
    );
    const old = { ...doc, pruning: { ...doc.pruning, featureInfluenceTotal: undefined as unknown as number } };
    expect(keptAtShare(old, 0.8).size).toBe(doc.nodes.length);
    expect(() => keptAtShare(old, 0.5)).toThrow(/trace it again/);
  });

  it('serves attention by layer or the rollout, and images only as PNG or JPEG', () => {
    const doc = saved(randomGraph(6), 0.9);
    expect(attentionOf(doc, 1)).toEqual(doc.attention.layers[1]);
    expect(attentionOf(doc, null)).toEqual([doc.attention.rollout]);
    expect(() => attentionOf(doc, 3)).toThrow(/no layer 3/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-graph-view-'));
    try {
      const png = path.join(dir, 'a.png');
      fs.writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
      expect(imageDataUrl(png).url).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
      const svg = path.join(dir, 'a.svg');
      fs.writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
      expect(imageDataUrl(svg)).toEqual({ url: null, note: `The image at ${svg} is not PNG or JPEG.` });
      expect(imageDataUrl(path.join(dir, 'gone.png')).note).toMatch(/no longer at/);
      fs.writeFileSync(path.join(dir, '7.json'), '{"version": 2}');
      expect(() => readCircuit(path.join(dir, '7.json'), 7)).toThrow(/not an attribution graph this version reads/);
      expect(() => readCircuit(path.join(dir, '8.json'), 8)).toThrow(/No saved circuit 8/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
