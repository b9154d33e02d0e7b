/** Random attribution graphs and the documents trace.ts would save for them (graph-view and channel tests). */
import { influences, prune, type GraphNode } from '../../src-main/core/circuits/attribution';
import type { SavedCircuit } from '../../src-main/core/circuits/graph-view';
import { mulberry32 } from '../../src-main/core/util/random';

/** A random layered graph: T positions, L layers of features and errors, embeddings, one output; rows for every feature. */
export function randomGraph(seed: number, T = 6, L = 3, perCell = 3) {
  const rand = mulberry32(seed);
  const nodes: GraphNode[] = [];
  for (let l = 0; l < L; l++)
    for (let t = 0; t < T; t++) {
      for (let f = 0; f < perCell; f++)
        if (rand() < 0.7) nodes.push({ kind: 'feature', layer: l, position: t, feature: f + 10 * l, activation: rand(), influence: 0 });
      nodes.push({ kind: 'error', layer: l, position: t, activation: rand(), influence: 0 });
    }
  for (let t = 0; t < T; t++) nodes.push({ kind: 'embedding', layer: -1, position: t, activation: rand(), influence: 0 });
  const output = nodes.push({ kind: 'output', layer: L, position: T - 1, activation: 1, influence: 1 }) - 1;
  const rows = new Map<number, Array<[number, number]>>();
  nodes.forEach((n, i) => {
    if (n.kind !== 'feature' && n.kind !== 'output') return;
    const row: Array<[number, number]> = [];
    nodes.forEach((s, j) => {
      const below = n.kind === 'output' ? s.kind !== 'output' : s.layer < n.layer && s.kind !== 'output';
      if (below && s.position <= n.position && rand() < 0.6) row.push([j, (rand() - 0.4) * 2]);
    });
    rows.set(i, row);
  });
  const inf = influences(nodes.length, rows, output, nodes);
  nodes.forEach((n, i) => (n.influence = inf[i]!));
  return { nodes, rows, T, L };
}

/** The document trace.ts saves for a graph pruned at `share`. */
export function savedCircuit(g: ReturnType<typeof randomGraph>, share: number): SavedCircuit {
  const p = prune(g, share, 1);
  const ids = new Map(p.nodes.map((n, i) => [n, i]));
  const imagePositions = [0, 1, 2, 3];
  return {
    version: 1,
    method: 'linearised-backward',
    methodDetail: 'test',
    prompt: 'What colour is the square?',
    setId: 1,
    layers: [...Array(g.L).keys()],
    saeIds: [11, 12, 13],
    target: { token: 5, text: 'red', contrast: null, logitProbability: 0.5 },
    outputValue: 1,
    outputEdgeSum: 1,
    tokens: [...Array(g.T).keys()].map((position) => ({
      position,
      text: position < 4 ? `<patch ${position >> 1},${position & 1}>` : 'tok',
      modality: position < 4 ? ('image' as const) : ('text' as const),
      patchRow: position < 4 ? position >> 1 : null,
      patchCol: position < 4 ? position & 1 : null,
      box:
        position < 4
          ? ([(position & 1) * 8, (position >> 1) * 8, (position & 1) * 8 + 8, (position >> 1) * 8 + 8] as [number, number, number, number])
          : null,
    })),
    nodes: p.nodes.map((n) => ({ ...g.nodes[n]!, id: ids.get(n)! })),
    edges: p.edges.map(([t, s, w]) => [ids.get(t)!, ids.get(s)!, w]),
    pruning: {
      nodeThreshold: share,
      edgeThreshold: 1,
      maxFeatureNodes: 1000,
      featureRowsComputed: 0,
      activeFeatures: g.nodes.filter((n) => n.kind === 'feature').length,
      featureInfluenceTotal: g.nodes.reduce((s, n) => s + (n.kind === 'feature' && n.influence > 0 ? n.influence : 0), 0),
    },
    attention: {
      answerPosition: g.T - 1,
      imagePositions,
      layers: [...Array(g.L).keys()].map((l) => [0, 1].map((h) => imagePositions.map((u) => (l + h + u) / 10))),
      rollout: imagePositions.map((u) => u / 6),
      maxDeviationFromModel: 0,
    },
    seconds: { capture: 0, attribution: 0, attention: 0 },
  };
}
