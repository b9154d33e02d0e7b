/**
 * A circuit patch over pairs of prompts (patch.ts for one pair's runs): pairs from a dataset's items
 * (ordered pairs whose reference answers differ, optionally one task and given answers of A and B,
 * in a seeded order) or one pair given by hand; each prompt's clean run once; per pair B patched with
 * the chosen features and with each random-feature control in one batch.
 */
import type { StoredItem } from '../datasets/dataset-store.js';
import { OcularError } from '../errors.js';
import { throwIfCancelled } from '../jobs/job-kind.js';
import { mulberry32 } from '../util/random.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device } from '../runtime/pool-protocol.js';
import type { VlmPipeline } from '../vlm/pipeline.js';
import { traceCircuit } from './trace.js';
import type { LoadedSet } from './transcoder-set.js';
import {
  controlGroups,
  outcome,
  sameLayout,
  selectionGroups,
  type GraphNodeRef,
  type Patcher,
  type PatchSelection,
  type PromptRun,
} from './patch.js';
import type { PatchPair } from './patch-stats.js';

export interface PatchPrompt {
  key: string;
  image: string;
  prompt: string;
  /** The reference answer; null: the clean model's top token. */
  answer: string | null;
}

export interface PairFilter {
  task?: string;
  aAnswer?: string;
  bAnswer?: string;
}

/** Ordered pairs (A, B) of items whose answers differ, filtered, in a seeded order. */
export function datasetPairs(items: StoredItem[], f: PairFilter, seed: number): Array<[StoredItem, StoredItem]> {
  const norm = (v: unknown) => String(v).trim().toLowerCase();
  const pool = items.filter((it) => f.task === undefined || it.task === f.task);
  const pairs: Array<[StoredItem, StoredItem]> = [];
  for (const a of pool)
    for (const b of pool)
      if (
        a !== b &&
        norm(a.answer.value) !== norm(b.answer.value) &&
        (f.aAnswer === undefined || norm(a.answer.value) === norm(f.aAnswer)) &&
        (f.bAnswer === undefined || norm(b.answer.value) === norm(f.bAnswer))
      )
        pairs.push([a, b]);
  const rand = mulberry32(seed * 31 + 7);
  for (let i = pairs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pairs[i], pairs[j]] = [pairs[j]!, pairs[i]!];
  }
  return pairs;
}

export interface PatchRunOptions {
  selection: PatchSelection;
  /** For a pair-graph selection: the feature nodes of A's graph for A's answer against B's (trace.ts). */
  traceNodes?: (a: PatchPrompt, answerA: number, answerB: number) => Promise<GraphNodeRef[]>;
  controls: number;
  seed: number;
  /** Pairs to use at most (those with different layouts or the same first answer token are skipped). */
  limit: number;
  signal: AbortSignal;
  progress: (fraction: number, message: string) => void;
}

export interface PatchRunResult {
  pairs: PatchPair[];
  skipped: { layout: number; sameAnswerToken: number };
}

export async function runPatch(
  patcher: Patcher,
  vlm: VlmPipeline,
  candidates: Array<[PatchPrompt, PatchPrompt]>,
  o: PatchRunOptions,
): Promise<PatchRunResult> {
  const runs = new Map<string, PromptRun>();
  const clean = async (p: PatchPrompt) => {
    const hit = runs.get(p.key);
    if (hit) return hit;
    const r = await patcher.clean({ image: p.image, prompt: p.prompt });
    runs.set(p.key, r);
    return r;
  };
  const answerToken = (p: PatchPrompt, r: PromptRun): number => {
    if (p.answer === null) return outcome(r.logits, 0, 0).top;
    const ids = vlm.tokenize(p.answer);
    if (ids.length === 0) throw new OcularError('invalid_request', `The answer of ${p.key} is empty.`);
    return ids[0]!;
  };
  const pairs: PatchPair[] = [];
  const skipped = { layout: 0, sameAnswerToken: 0 };
  for (const [i, [pa, pb]] of candidates.entries()) {
    if (pairs.length >= o.limit) break;
    throwIfCancelled(o.signal);
    const [a, b] = [await clean(pa), await clean(pb)];
    if (!sameLayout(a.tokens, b.tokens)) {
      skipped.layout++;
      continue;
    }
    const [ta, tb] = [answerToken(pa, a), answerToken(pb, b)];
    if (ta === tb) {
      skipped.sameAnswerToken++;
      continue;
    }
    let selection = o.selection;
    if (selection.kind === 'pair-graph') {
      if (!o.traceNodes) throw new Error('a pair-graph selection needs traceNodes');
      selection = { kind: 'graph', nodes: await o.traceNodes(pa, ta, tb) };
    }
    const groups = selectionGroups(selection, patcher.set, b.tokens);
    const controls = Array.from({ length: o.controls }, (_, c) =>
      controlGroups(groups, patcher.set, a.codes, b.codes, o.seed * 1009 + i * 31 + c),
    );
    const logits = await patcher.patched(a, b, [groups, ...controls.map((c) => c.groups)]);
    pairs.push({
      a: pa.key,
      b: pb.key,
      answerA: ta,
      answerB: tb,
      clean: outcome(b.logits, ta, tb),
      patched: outcome(logits[0]!, ta, tb),
      controls: logits.slice(1).map((l) => outcome(l, ta, tb)),
      sites: groups.reduce((s, g) => s + g.positions.length, 0),
      controlsShort: controls.reduce((s, c) => s + c.short, 0),
    });
    o.progress(Math.min(1, pairs.length / Math.min(o.limit, candidates.length)), `patched ${pairs.length} pairs`);
  }
  if (pairs.length === 0)
    throw new OcularError(
      'invalid_request',
      `No pair to patch: ${candidates.length} candidate pairs, ${skipped.layout} with different token layouts, ${skipped.sameAnswerToken} whose answers share their first token.`,
    );
  return { pairs, skipped };
}

/** Per pair, the feature nodes of A's pruned graph for A's answer against B's (trace.ts), for a pair-graph selection. */
export function pairGraphTracer(
  vlm: VlmPipeline,
  pool: PoolClient,
  device: Device,
  modelDir: string,
  set: LoadedSet,
  cacheDir: string,
  sel: { maxFeatureNodes: number; nodeThreshold: number },
): (a: PatchPrompt, answerA: number, answerB: number) => Promise<GraphNodeRef[]> {
  return async (a, answerA, answerB) => {
    const doc = await traceCircuit(
      vlm,
      pool,
      device,
      modelDir,
      set,
      {
        image: a.image,
        prompt: a.prompt,
        targetId: answerA,
        contrastId: answerB,
        maxFeatureNodes: sel.maxFeatureNodes,
        nodeThreshold: sel.nodeThreshold,
        edgeThreshold: 1,
        batchSize: 16,
      },
      cacheDir,
    );
    return doc.nodes.flatMap((n) => (n.kind === 'feature' ? [{ layer: n.layer, position: n.position, feature: n.feature! }] : []));
  };
}
