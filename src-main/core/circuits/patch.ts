/**
 * Circuit patching: the activations of chosen transcoder features (or of a saved graph's feature
 * nodes) taken from prompt A are set in prompt B's forward pass, and B's answer is read.
 *
 * The model is the real one: every MLP of the set keeps its own output, and the transcoder edit adds
 * only the change of the chosen features, y' = y + Σ_f (a^A_{t,f} − a^B'_{t,f}) W_dec[f] at the
 * patched positions, where a^B' is the feature's activation in the patched run itself (the edit
 * clamps it inside the graph, so patches in earlier layers propagate to later ones exactly and a
 * patch of B's own values changes nothing). A's activations are its transcoders' codes on its own
 * clean run (sae-encode.ts, as the graph encodes them).
 *
 * A *group* is one feature of one layer patched at a list of positions: a feature set (`--features`)
 * gives one group per feature at the chosen positions (all, the last, the image's or the text's);
 * a graph gives one group per feature node at its own position (a saved graph, or per pair the
 * graph of A's answer against B's, traced on A: circuit-tracer's "patch the circuit"). Positions are B's, so A and B must
 * have the same token layout (length and modality at each position); other pairs are refused.
 *
 * Random-feature controls (as experiments use them: random features of the same size from the
 * alive ones): for each group, a feature of the same layer drawn from those active anywhere in A or
 * B and not chosen, patched at the same positions. So each control sets as many (layer, position)
 * sites as the chosen features, from A's values of features this pair uses.
 */
import { OcularError } from '../errors.js';
import { writeEditedGraph } from '../onnx/edited-graph.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device, WireTensor } from '../runtime/pool-protocol.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import { encode } from '../sae/sae-encode.js';
import { mulberry32 } from '../util/random.js';
import type { PreparedPrefix, TokenInfo, VlmItem, VlmPipeline } from '../vlm/pipeline.js';
import { replacementEdits, replacementFeeds, type LoadedSet } from './transcoder-set.js';

export interface PatchGroup {
  layer: number;
  feature: number;
  positions: number[];
}

export type PatchPositions = 'all' | 'last' | 'image' | 'text';

export type GraphNodeRef = { layer: number; position: number; feature: number };

/** Features at chosen positions; a saved graph's feature nodes; or per pair the feature nodes of A's own graph (patch-run.ts). */
export type PatchSelection =
  | { kind: 'features'; features: Array<{ layer: number; feature: number }>; positions: PatchPositions }
  | { kind: 'graph'; nodes: GraphNodeRef[] }
  | { kind: 'pair-graph'; maxFeatureNodes: number; nodeThreshold: number };

/** One prompt's clean run: its layout, last-position logits and per set layer its codes [T, d_sae]. */
export interface PromptRun {
  prefix: PreparedPrefix;
  tokens: TokenInfo[];
  logits: Float32Array;
  codes: Float32Array[];
}

export interface PatchOutcome {
  /** The top next token after the prompt. */
  top: number;
  /** logit(A's answer) − logit(B's answer) at the answer position. */
  logitDiff: number;
}

/** Groups of a selection over a prompt's layout (positions as `tokens` lays them out). */
export function selectionGroups(sel: Exclude<PatchSelection, { kind: 'pair-graph' }>, set: LoadedSet, tokens: TokenInfo[]): PatchGroup[] {
  const T = tokens.length;
  const layerOf = (layer: number, what: string) => {
    const l = set.layers.find((x) => x.layer === layer);
    if (!l) throw new OcularError('invalid_request', `${what}: set ${set.setId} has no transcoder for layer ${layer}.`);
    return l;
  };
  const checkFeature = (layer: number, feature: number, what: string) => {
    const l = layerOf(layer, what);
    if (!Number.isInteger(feature) || feature < 0 || feature >= l.sae.dSae)
      throw new OcularError('invalid_request', `${what}: layer ${layer}'s transcoder has ${l.sae.dSae} features, not ${feature}.`);
  };
  if (sel.kind === 'graph') {
    if (sel.nodes.length === 0) throw new OcularError('invalid_request', 'The graph has no feature nodes to patch.');
    return sel.nodes.map((n) => {
      checkFeature(n.layer, n.feature, `Graph node L${n.layer}/${n.feature}`);
      if (n.position >= T)
        throw new OcularError(
          'invalid_request',
          `Graph node L${n.layer}/${n.feature} sits at position ${n.position}; the prompt has ${T}.`,
        );
      return { layer: n.layer, feature: n.feature, positions: [n.position] };
    });
  }
  if (sel.features.length === 0) throw new OcularError('invalid_request', 'Name at least one feature to patch.');
  const positions = tokens.flatMap((t, i) =>
    sel.positions === 'all' ||
    (sel.positions === 'last' && i === T - 1) ||
    (sel.positions === 'image' && t.modality === 'image') ||
    (sel.positions === 'text' && t.modality === 'text')
      ? [i]
      : [],
  );
  if (positions.length === 0) throw new OcularError('invalid_request', `The prompt has no ${sel.positions} positions to patch.`);
  const seen = new Set<string>();
  return sel.features.flatMap((f) => {
    checkFeature(f.layer, f.feature, `Feature L${f.layer}/${f.feature}`);
    const key = `${f.layer}/${f.feature}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ layer: f.layer, feature: f.feature, positions }];
  });
}

/** Same length and the same modality at every position: positions of A stand for positions of B. */
export function sameLayout(a: TokenInfo[], b: TokenInfo[]): boolean {
  return a.length === b.length && a.every((t, i) => t.modality === b[i]!.modality);
}

/**
 * Random-feature control groups for `groups` on one pair (see the header): per group a feature of
 * the same layer drawn uniformly from those active anywhere in A or B (the pair's alive features),
 * not chosen and not drawn before, patched at the group's positions. `short` counts groups left
 * without a control because the layer had no such feature left.
 */
export function controlGroups(
  groups: PatchGroup[],
  set: LoadedSet,
  a: Float32Array[],
  b: Float32Array[],
  seed: number,
): { groups: PatchGroup[]; short: number } {
  const rand = mulberry32(seed);
  const index = new Map(set.layers.map((l, i) => [l.layer, i]));
  const chosen = new Map<number, Set<number>>();
  for (const g of groups) chosen.set(g.layer, (chosen.get(g.layer) ?? new Set()).add(g.feature));
  const pools = new Map<number, number[]>();
  const poolOf = (layer: number): number[] => {
    const hit = pools.get(layer);
    if (hit) return hit;
    const li = index.get(layer)!;
    const dSae = set.layers[li]!.sae.dSae;
    const alive = new Set<number>();
    for (const codes of [a[li]!, b[li]!]) for (let k = 0; k < codes.length; k++) if (codes[k] !== 0) alive.add(k % dSae);
    const pool = [...alive].filter((h) => !chosen.get(layer)!.has(h)).sort((x, y) => x - y);
    pools.set(layer, pool);
    return pool;
  };
  let short = 0;
  const out: PatchGroup[] = [];
  for (const g of groups) {
    const pool = poolOf(g.layer);
    if (pool.length === 0) {
      short++;
      continue;
    }
    const [h] = pool.splice(Math.floor(rand() * pool.length), 1);
    out.push({ layer: g.layer, feature: h!, positions: g.positions });
  }
  return { groups: out, short };
}

/** The replacement edits of a set with per-position clamps, run with every MLP's own output kept. */
export class Patcher {
  private constructor(
    private readonly vlm: VlmPipeline,
    private readonly pool: PoolClient,
    private readonly session: SessionHandle,
    readonly set: LoadedSet,
    private readonly mlpIn: string[],
  ) {}

  static async open(vlm: VlmPipeline, pool: PoolClient, device: Device, set: LoadedSet, cacheDir: string): Promise<Patcher> {
    const mlpIn = set.layers.map((l) => l.inTap);
    const edits = replacementEdits(set).map((e) => ({ ...e, clamp: true }));
    const edited = writeEditedGraph(vlm.files.decoder, { transcoderEdits: edits, expose: mlpIn }, { cacheDir });
    return new Patcher(vlm, pool, await pool.load(edited.path, device), set, mlpIn);
  }

  /** Clean run of one prompt (the clamp inputs all zero: bit-identical to the model). */
  async clean(item: VlmItem): Promise<PromptRun> {
    const prefix = await this.vlm.prepare([item]);
    const T = prefix.length;
    const out = await this.pool.run(this.session, { ...this.vlm.prefillFeeds(prefix), ...this.feeds(1, T, []) }, ['logits', ...this.mlpIn]);
    const logits = out.logits!.data as Float32Array;
    const V = out.logits!.dims[2]!;
    const codes = this.set.layers.map((l) => encode(l.sae, out[l.inTap]!.data as Float32Array));
    return { prefix, tokens: prefix.tokens[0]!, logits: logits.slice((T - 1) * V, T * V), codes };
  }

  /**
   * B run once per condition (one batch): condition c sets each of its groups' features to A's
   * activations at the group's positions. Returns the last-position logits per condition.
   */
  async patched(a: PromptRun, b: PromptRun, conditions: PatchGroup[][]): Promise<Float32Array[]> {
    const n = conditions.length;
    const T = b.prefix.length;
    const prefix = repeatPrefix(b.prefix, n);
    const out = await this.pool.run(
      this.session,
      {
        ...this.vlm.prefillFeeds(prefix),
        ...this.feeds(
          n,
          T,
          conditions.map((groups) => ({ groups, from: a })),
        ),
      },
      ['logits'],
    );
    const logits = out.logits!.data as Float32Array;
    const V = out.logits!.dims[2]!;
    return conditions.map((_, c) => logits.slice((c * T + T - 1) * V, (c * T + T) * V));
  }

  private feeds(batch: number, T: number, conditions: Array<{ groups: PatchGroup[]; from: PromptRun }>): Record<string, WireTensor> {
    const feeds = replacementFeeds(this.set, batch, T, 1);
    this.set.layers.forEach((l, li) => {
      const dSae = l.sae.dSae;
      const mask = new Float32Array(batch * T * dSae);
      const value = new Float32Array(batch * T * dSae);
      conditions.forEach(({ groups, from }, c) => {
        for (const g of groups) {
          if (g.layer !== l.layer) continue;
          for (const t of g.positions) {
            const at = (c * T + t) * dSae + g.feature;
            mask[at] = 1;
            value[at] = from.codes[li]![t * dSae + g.feature]!;
          }
        }
      });
      feeds[`tc.L${l.layer}.clamp_mask`] = { type: 'float32', dims: [batch, T, dSae], data: mask };
      feeds[`tc.L${l.layer}.clamp_value`] = { type: 'float32', dims: [batch, T, dSae], data: value };
    });
    return feeds;
  }
}

/** A batch-of-one prefix repeated `n` times (the same prompt under n conditions). */
export function repeatPrefix(p: PreparedPrefix, n: number): PreparedPrefix {
  if (p.batch !== 1) throw new Error('repeatPrefix takes a prefix of one prompt');
  const tile = <A extends Float32Array | Uint8Array | BigInt64Array>(x: A, make: (len: number) => A): A => {
    const out = make(x.length * n);
    for (let i = 0; i < n; i++) out.set(x as never, i * x.length);
    return out;
  };
  const mrope = p.mrope
    ? {
        next: Array.from({ length: n }, () => p.mrope!.next[0]!),
        // [3, batch, length]: each axis's row repeated per batch item.
        ids: (() => {
          const T = p.length;
          const ids = new BigInt64Array(3 * n * T);
          for (let axis = 0; axis < 3; axis++)
            for (let i = 0; i < n; i++) ids.set(p.mrope!.ids.subarray(axis * T, (axis + 1) * T), (axis * n + i) * T);
          return ids;
        })(),
      }
    : undefined;
  return {
    ...p,
    batch: n,
    embeds: tile(p.embeds, (len) => new Float32Array(len)),
    attentionMask: tile(p.attentionMask, (len) => new Uint8Array(len)),
    inputIds: Array.from({ length: n }, () => p.inputIds[0]!),
    tokens: Array.from({ length: n }, () => p.tokens[0]!),
    texts: Array.from({ length: n }, () => p.texts[0]!),
    ...(mrope ? { mrope } : {}),
  };
}

/** The outcome of one run: its top token and logit(answer A) − logit(answer B). */
export function outcome(logits: Float32Array, answerA: number, answerB: number): PatchOutcome {
  let top = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v]! > logits[top]!) top = v;
  return { top, logitDiff: logits[answerA]! - logits[answerB]! };
}
