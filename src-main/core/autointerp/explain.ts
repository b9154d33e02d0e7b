/**
 * One feature's explanation and its scores. The explainer is the ground truth (a predicate over the
 * benchmark's scene annotations) or a chat endpoint; the scorer is the predicate itself for a
 * ground-truth explanation with no endpoint, else the endpoint (detection and simulation prompts,
 * examples in batches as Delphi sends them). Scores are defined in scores.ts.
 */
import type { FeatureExample } from '../../contract/contract.js';
import type { ChatClient, ContentPart } from './chat-client.js';
import type { ExampleSets } from './example-sets.js';
import { explainFromGroundTruth, holds, type Predicate } from './ground-truth.js';
import {
  detectionMessages,
  explainerMessages,
  parseDetection,
  parseExplanation,
  parseSimulation,
  simulationMessages,
  PROMPT_VERSION,
} from './prompts.js';
import { detectionScore, pearson, type Correlation, type DetectionScore } from './scores.js';

/** Examples per scorer prompt (Delphi's default batch size is 10 or fewer). */
export const SCORING_BATCH = 10;

export interface ExplanationScores {
  detection: DetectionScore;
  simulation: Correlation;
  /** Who scored: the ground-truth predicate, or the endpoint's model. */
  scorer: string;
}

export interface ExplainOutcome {
  text: string;
  confidence: number | null;
  confidenceCi95: [number, number] | null;
  predicate: Predicate | null;
  /** Null when the held-out set lacks activating or non-activating tokens (then `unscored` says which). */
  scores: ExplanationScores | null;
  unscored: string | null;
  promptVersion: string;
}

export interface ExplainDeps {
  explainer: 'ground-truth' | 'llm';
  client: ChatClient | null;
  /** Image parts for an example (a multimodal endpoint's crops and heatmaps), or none. */
  images: (e: FeatureExample, withHeatmap: boolean) => Promise<ContentPart[]>;
  signal?: AbortSignal;
}

async function imagesOf(examples: FeatureExample[], deps: ExplainDeps, withHeatmap: boolean): Promise<ContentPart[][] | null> {
  if (!deps.client?.endpoint.multimodal) return null;
  return Promise.all(examples.map((e) => deps.images(e, withHeatmap)));
}

async function llmJudgements<T>(
  examples: FeatureExample[],
  deps: ExplainDeps,
  ask: (batch: FeatureExample[], images: ContentPart[][] | null) => Promise<T[]>,
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < examples.length; i += SCORING_BATCH) {
    const batch = examples.slice(i, i + SCORING_BATCH);
    out.push(...(await ask(batch, await imagesOf(batch, deps, false))));
  }
  return out;
}

export async function explainFeature(sets: ExampleSets, deps: ExplainDeps): Promise<ExplainOutcome | null> {
  if (sets.explain.length === 0) return null;
  let text: string;
  let predicate: Predicate | null = null;
  let confidence: number | null = null;
  let confidenceCi95: [number, number] | null = null;
  if (deps.explainer === 'ground-truth') {
    const gt = explainFromGroundTruth(sets.explain, sets.contrast);
    if (!gt) return null;
    ({ text, predicate, confidence, confidenceCi95 } = gt);
  } else {
    if (!deps.client) throw new Error('an LLM explainer needs a chat endpoint');
    const reply = await deps.client.complete(explainerMessages(sets.explain, await imagesOf(sets.explain, deps, true)), {
      signal: deps.signal,
    });
    text = parseExplanation(reply);
  }

  const unscored = !sets.truth.includes(true)
    ? 'too few activating tokens beyond those the explainer saw'
    : !sets.truth.includes(false)
      ? 'no token without activation to contrast with'
      : null;
  if (unscored) return { text, confidence, confidenceCi95, predicate, scores: null, unscored, promptVersion: PROMPT_VERSION };
  const activations = sets.score.map((e, i) => (sets.truth[i] ? e.activation : 0));
  let detected: boolean[];
  let simulated: number[];
  let scorer: string;
  if (deps.client) {
    const client = deps.client;
    detected = await llmJudgements(sets.score, deps, async (batch, images) =>
      parseDetection(await client.complete(detectionMessages(text, batch, images), { signal: deps.signal }), batch.length),
    );
    simulated = await llmJudgements(sets.score, deps, async (batch, images) =>
      parseSimulation(await client.complete(simulationMessages(text, batch, images), { signal: deps.signal }), batch.length),
    );
    scorer = `llm:${client.endpoint.model}`;
  } else {
    detected = sets.score.map((e) => holds(predicate!, e));
    simulated = detected.map((d) => (d ? 10 : 0));
    scorer = 'ground-truth predicate';
  }
  return {
    text,
    confidence,
    confidenceCi95,
    predicate,
    scores: { detection: detectionScore(sets.truth, detected), simulation: pearson(activations, simulated), scorer },
    unscored: null,
    promptVersion: PROMPT_VERSION,
  };
}
