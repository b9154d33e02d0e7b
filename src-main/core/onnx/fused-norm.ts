/**
 * Fused residual norms (onnxruntime's SkipLayerNormalization / SkipSimplifiedLayerNormalization): one
 * node computes the residual sum (output 3) and the norm of that sum (output 0). Editing the sum, or
 * starting a graph from it, needs the two apart: the same Add and the plain norm with the node's own
 * gamma, beta and epsilon.
 */
import { node } from './builder.js';
import type { NodeProto } from './model-io.js';

/** Fused norms whose output 3 is the residual sum: inputs (input, skip, gamma, [beta,] [bias]). */
const SKIP_NORM_DEFAULT_EPSILON = 1e-12;
export const SKIP_NORMS: Record<string, { norm: string; hasBeta: boolean }> = {
  SkipSimplifiedLayerNormalization: { norm: 'SimplifiedLayerNormalization', hasBeta: false },
  SkipLayerNormalization: { norm: 'LayerNormalization', hasBeta: true },
};

/**
 * Splits a fused Skip*LayerNormalization into the Add(s) that make its residual sum (output 3) and the
 * plain norm of that sum (output 0), with the node's own gamma, beta and epsilon. Outputs 1 and 2 (mean,
 * inverse std) are training-time extras no export reads; a graph that does is refused.
 */
export function unfuseSkipNorm(
  n: NodeProto,
  tapName: string,
  fail: (message: string) => Error,
): { sum: NodeProto[]; norm: NodeProto | null } {
  const spec = SKIP_NORMS[n.op_type]!;
  if (n.output[1] || n.output[2])
    throw fail(`${n.name} (${n.op_type}) exposes its mean or inverse std; Ocular cannot split ${tapName} out of it.`);
  const [input, skip, gamma, beta, bias] = [
    n.input[0]!,
    n.input[1]!,
    n.input[2]!,
    spec.hasBeta ? n.input[3] : '',
    n.input[spec.hasBeta ? 4 : 3],
  ];
  const sumName = n.output[3]!;
  const p = `ocular/unfused/${n.name || tapName}`;
  // The fused ops' epsilon defaults to 1e-12, the plain norms' to 1e-5: always write it out.
  const epsilon = n.attribute.find((a) => a.name === 'epsilon')?.f ?? SKIP_NORM_DEFAULT_EPSILON;
  const sum = bias
    ? [node('Add', [input, skip], [`${p}/input_skip`], `${p}/AddSkip`), node('Add', [`${p}/input_skip`, bias], [sumName], `${p}/AddBias`)]
    : [node('Add', [input, skip], [sumName], `${p}/AddSkip`)];
  const normInputs = spec.hasBeta && beta ? [sumName, gamma, beta] : [sumName, gamma];
  const norm = n.output[0] ? node(spec.norm, normInputs, [n.output[0]], `${p}/Norm`, { axis: -1, epsilon: { float: epsilon } }) : null;
  return { sum, norm };
}
