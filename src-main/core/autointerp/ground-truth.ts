/**
 * The ground-truth explainer: on the synthetic benchmark every image patch's object (colour, shape,
 * size, or none) and every item's task are known, so a feature can be explained by the description
 * that best separates the tokens it fires on from those it does not, stated as a predicate
 * ("fires on image patches of large red triangles"). Being a predicate, it also scores itself exactly:
 * detection applies it to each held-out example, and the simulation predicts 10 where it holds, 0
 * where it does not (the same scores an LLM scorer would be asked for, with no scorer noise).
 *
 * Choice: among every conjunction of the attributes of the objects under the top examples (and
 * "background" for patches with no object; "text tokens" and "text tokens of <task> items"), the one
 * with the highest F1 separating the explainer's activating examples from its non-activating ones;
 * ties go to fewer attributes (the more general claim), then to the name.
 * Confidence: the share of the explainer's activating examples the description covers, with its
 * Wilson 95% interval (how much of what the feature does it accounts for).
 */
import type { FeatureExample } from '../../contract/contract.js';
import { wilsonInterval } from '../stats/proportion.js';

export type Predicate =
  | { modality: 'image'; background: true }
  | { modality: 'image'; color?: string; shape?: string; size?: string }
  | { modality: 'text'; task?: string };

type Example = Pick<FeatureExample, 'modality' | 'object' | 'task'>;

export function holds(p: Predicate, e: Example): boolean {
  if (p.modality === 'text') return e.modality !== 'image' && (p.task === undefined || e.task === p.task);
  if (e.modality !== 'image') return false;
  if ('background' in p) return e.object === null;
  if (!e.object) return false;
  return (
    (p.color === undefined || e.object.color === p.color) &&
    (p.shape === undefined || e.object.shape === p.shape) &&
    (p.size === undefined || e.object.size === p.size)
  );
}

const plural = (shape: string) => `${shape}s`;

export function describe(p: Predicate): string {
  if (p.modality === 'text') return p.task ? `fires on text tokens of ${p.task} items` : 'fires on text tokens';
  if ('background' in p) return 'fires on background image patches (no object under the patch)';
  const words = [p.size, p.color, p.shape ? plural(p.shape) : 'objects'].filter(Boolean).join(' ');
  return `fires on image patches of ${words}`;
}

const specificity = (p: Predicate) =>
  p.modality === 'text' ? (p.task ? 1 : 0) : 'background' in p ? 1 : [p.color, p.shape, p.size].filter(Boolean).length;

function candidates(activating: readonly Example[]): Predicate[] {
  const out = new Map<string, Predicate>();
  const add = (p: Predicate) => out.set(JSON.stringify(p), p);
  for (const e of activating) {
    if (e.modality !== 'image') {
      add({ modality: 'text' });
      if (e.task) add({ modality: 'text', task: e.task });
    } else if (!e.object) add({ modality: 'image', background: true });
    else {
      const { color, shape, size } = e.object;
      for (let mask = 1; mask < 8; mask++)
        add({
          modality: 'image',
          ...(mask & 1 ? { color } : {}),
          ...(mask & 2 ? { shape } : {}),
          ...(mask & 4 ? { size } : {}),
        });
    }
  }
  return [...out.values()];
}

export interface GroundTruthExplanation {
  predicate: Predicate;
  text: string;
  /** Share of the activating examples covered, with its Wilson 95% interval. */
  confidence: number;
  confidenceCi95: [number, number];
  /** F1 of the predicate on the explainer's own examples (what chose it). */
  trainF1: number;
}

export function explainFromGroundTruth(activating: readonly Example[], nonActivating: readonly Example[]): GroundTruthExplanation | null {
  if (activating.length === 0) return null;
  let best: { p: Predicate; f1: number; covered: number; name: string } | null = null;
  for (const p of candidates(activating)) {
    const covered = activating.filter((e) => holds(p, e)).length;
    const falsePos = nonActivating.filter((e) => holds(p, e)).length;
    const precision = covered / (covered + falsePos);
    const recall = covered / activating.length;
    const f1 = covered === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    const name = describe(p);
    const better =
      !best ||
      f1 > best.f1 + 1e-12 ||
      (Math.abs(f1 - best.f1) <= 1e-12 &&
        (specificity(p) < specificity(best.p) || (specificity(p) === specificity(best.p) && name < best.name)));
    if (better) best = { p, f1, covered, name };
  }
  if (!best || best.covered === 0) return null;
  const ci = wilsonInterval(best.covered, activating.length);
  return { predicate: best.p, text: best.name, confidence: ci.estimate, confidenceCi95: [ci.lower, ci.upper], trainF1: best.f1 };
}
