/**
 * The parts of a decoder an attribution graph needs, read from the model's own graph and
 * initializers: per layer the pre-attention RMSNorm's gain, the value and output projections, where
 * the attention probabilities, queries and keys are computed (and the score scale), the
 * pre-MLP RMSNorm's gain; the final norm's gain and the unembedding.
 *
 * Found by structure from the taps (core/onnx/taps.ts): hook_attn_out is produced by the output
 * projection (MatMul by an initializer); walking back through layout ops (Reshape, Transpose, Cast,
 * a KV-cache Concat, repeat-kv Expand) reaches the probabilities x values MatMul, the Softmax, the
 * scores MatMul (queries x keys^T, times constant scales) and the value projection, whose input is
 * the normalised stream. What is not found this way is refused with a message naming it: fused
 * attention ops (GroupQueryAttention: no probabilities to read), a norm between attention and the
 * residual (Gemma's sandwich norms), logit soft-capping, weights stored in a way weights.ts does not
 * read exactly (it dequantises int8/uint8 DequantizeLinear and widens float16/bfloat16).
 */
import { GraphIndex } from '../onnx/graph-index.js';
import type { ModelProto, NodeProto, TensorProto } from '../onnx/model-io.js';
import { DataType } from '../onnx/schema.js';
import type { TowerTaps } from '../onnx/taps.js';
import { resolveWeight, tensorFloats, WeightError } from './weights.js';

export class AnatomyError extends Error {}

export interface NormSite {
  /** The stream tensor entering the norm and the normalised tensor leaving it (gain applied). */
  input: string;
  output: string;
  gamma: Float32Array;
}

export interface LayerAnatomy {
  layer: number;
  ln1: NormSite;
  /** Attention probabilities [B, H, Tq, Tk] (after Softmax), queries [B, H, Tq, hd] and keys [B, Hkv, Tk, hd] as the scores use them. */
  probs: string;
  query: string;
  key: string;
  /** Constant factor on queries x keys^T before the mask and Softmax. */
  scale: number;
  /** Value projection [d, Hkv * hd] and output projection [H * hd, d], row-major. */
  wV: Float32Array;
  wO: Float32Array;
  ln2: NormSite;
  /** The layer's TransformerLens tap names (blocks.L.hook_...). */
  taps: { residPre: string; residMid: string; mlpIn: string; mlpOut: string; residPost: string };
}

export interface DecoderAnatomy {
  d: number;
  vocab: number;
  layers: LayerAnatomy[];
  finalNorm: NormSite;
  /** Unembedding [d, vocab], row-major. */
  unembed: Float32Array;
  /** Every intermediate tensor a capture run must expose (besides the taps). */
  tensors: string[];
}

const LAYOUT = new Set(['Reshape', 'Transpose', 'Cast', 'Identity', 'Squeeze', 'Unsqueeze', 'Expand']);

export function floatInitializer(model: ModelProto, name: string): { dims: number[]; data: Float32Array } {
  const t = model.graph.initializer.find((i) => i.name === name);
  if (!t) throw new AnatomyError(`Initializer ${name} is missing.`);
  return { dims: t.dims.map(Number), data: floatData(t) };
}

/** A float initializer as float32 (float16 / bfloat16 widened exactly; other types refused by name). */
function floatData(t: TensorProto): Float32Array {
  try {
    return tensorFloats(t);
  } catch (err) {
    if (err instanceof WeightError) throw new AnatomyError(err.message);
    throw err;
  }
}

export function decoderAnatomy(model: ModelProto, tower: TowerTaps, logitsName = 'logits'): DecoderAnatomy {
  try {
    return readAnatomy(model, tower, logitsName);
  } catch (err) {
    if (err instanceof WeightError) throw new AnatomyError(err.message);
    throw err;
  }
}

function readAnatomy(model: ModelProto, tower: TowerTaps, logitsName: string): DecoderAnatomy {
  const index = new GraphIndex(model.graph);
  /** A weight from the initializers (dequantised or widened where stored so), or undefined. */
  const weightOf = (tensor: string) => resolveWeight(model, index, tensor) ?? undefined;
  const tap = (layer: number, hook: string): string => {
    const t = tower.taps.find((x) => x.layer === layer && x.hook === hook);
    if (!t?.ref.tensor) throw new AnatomyError(`Layer ${layer} has no named ${hook}; attribution needs it.`);
    return t.ref.tensor;
  };
  const producer = (tensor: string): NodeProto => {
    const p = index.producer.get(tensor);
    if (!p) throw new AnatomyError(`Nothing computes ${tensor}.`);
    return p.node;
  };
  const initOf = (node: NodeProto) => node.input.map(weightOf).find((t) => t !== undefined);
  /** A constant scalar's value (initializer or Constant node), or null. */
  const scalar = (tensor: string): number | null => {
    const init = model.graph.initializer.find((t) => t.name === tensor);
    const p = index.producer.get(tensor)?.node;
    const t = init ?? (p?.op_type === 'Constant' ? p.attribute.find((a) => a.name === 'value')?.t : undefined);
    if (!t) return null;
    const values =
      t.data_type === DataType.FLOAT || t.data_type === DataType.FLOAT16 || t.data_type === DataType.BFLOAT16 ? floatData(t) : null;
    return values && values.length === 1 ? values[0]! : null;
  };
  /** Back through layout ops (and a cache Concat's new half) to the first other producer. */
  const through = (tensor: string): string => {
    let x = tensor;
    for (;;) {
      const n = index.producer.get(x)?.node;
      if (!n) return x;
      if (LAYOUT.has(n.op_type)) x = n.input[0]!;
      else if (n.op_type === 'Concat' && index.graphInputs.has(n.input[0]!)) x = n.input[n.input.length - 1]!;
      else return x;
    }
  };
  const projection = (tensor: string, what: string): { input: string; weight: Float32Array; dims: number[] } => {
    const n = producer(through(tensor));
    const w = n.op_type === 'MatMul' ? weightOf(n.input[1]!) : undefined;
    if (!w)
      throw new AnatomyError(`The ${what} is not a MatMul by a weight (found ${n.op_type}); this export is not supported by attribution.`);
    return { input: n.input[0]!, weight: w.data, dims: w.dims };
  };
  const norm = (output: string, input: string, what: string): NormSite => {
    const n = producer(output);
    const g = n.op_type === 'Mul' ? initOf(n) : undefined;
    if (!g || g.dims.length !== 1)
      throw new AnatomyError(`The ${what} is not an RMSNorm ending in a gain (found ${n.op_type}); only RMSNorm decoders are linearised.`);
    return { input, output, gamma: g.data };
  };

  const layers: LayerAnatomy[] = [];
  const tensors: string[] = [];
  for (let layer = 0; layer < tower.layers; layer++) {
    const taps = {
      residPre: tap(layer, 'hook_resid_pre'),
      residMid: tap(layer, 'hook_resid_mid'),
      mlpIn: tap(layer, 'hook_mlp_in'),
      mlpOut: tap(layer, 'hook_mlp_out'),
      residPost: tap(layer, 'hook_resid_post'),
    };
    const attnOut = tap(layer, 'hook_attn_out');
    const fused = index.producer.get(attnOut)?.node;
    if (fused && ['GroupQueryAttention', 'MultiHeadAttention', 'Attention'].includes(fused.op_type))
      throw new AnatomyError(
        `Layer ${layer} computes attention in one ${fused.op_type} op; its probabilities cannot be frozen from the graph.`,
      );
    const o = projection(attnOut, `layer ${layer} attention output`);
    if (producer(attnOut).op_type !== 'MatMul')
      throw new AnatomyError(
        `Layer ${layer} transforms the attention output after its projection (a post-attention norm); not linearised yet.`,
      );
    const pv = producer(through(o.input));
    if (pv.op_type !== 'MatMul') throw new AnatomyError(`Layer ${layer}: expected probabilities x values, found ${pv.op_type}.`);
    const softmax = producer(through(pv.input[0]!));
    if (softmax.op_type !== 'Softmax') throw new AnatomyError(`Layer ${layer}: the attention weights do not come from a Softmax.`);
    const v = projection(pv.input[1]!, `layer ${layer} value projection`);
    // Scores: walk back from the Softmax through the mask and constant scales to queries x keys^T.
    let scale = 1;
    let s = softmax.input[0]!;
    let qk: NodeProto | null = null;
    for (let guard = 0; guard < 16 && !qk; guard++) {
      const n = producer(s);
      if (n.op_type === 'MatMul') qk = n;
      else if (n.op_type === 'Add' || n.op_type === 'Where') {
        // The mask: follow the operand computed from the scores.
        s = n.op_type === 'Where' ? n.input[2]! : index.orderOf(n.input[0]!) > index.orderOf(n.input[1]!) ? n.input[0]! : n.input[1]!;
      } else if (n.op_type === 'Mul' || n.op_type === 'Div') {
        const c = scalar(n.input[1]!) ?? (n.op_type === 'Mul' ? scalar(n.input[0]!) : null);
        if (c === null) throw new AnatomyError(`Layer ${layer}: the attention scores are scaled by a non-constant.`);
        scale *= n.op_type === 'Mul' ? c : 1 / c;
        s = scalar(n.input[1]!) !== null ? n.input[0]! : n.input[1]!;
      } else if (LAYOUT.has(n.op_type) || n.op_type === 'Slice') s = n.input[0]!;
      else
        throw new AnatomyError(
          `Layer ${layer}: ${n.op_type} between the attention scores and the Softmax (soft-capping?) is not linearised.`,
        );
    }
    if (!qk) throw new AnatomyError(`Layer ${layer}: no queries x keys MatMul before the Softmax.`);
    // Scaled queries or keys (Mul by a constant before the MatMul) fold into the scale.
    const unscaled = (x: string): string => {
      const n = index.producer.get(x)?.node;
      if (n && (n.op_type === 'Mul' || n.op_type === 'Div') && scalar(n.input[1]!) !== null) {
        const c = scalar(n.input[1]!)!;
        scale *= n.op_type === 'Mul' ? c : 1 / c;
        return n.input[0]!;
      }
      return x;
    };
    const query = unscaled(qk.input[0]!);
    let key = qk.input[1]!;
    for (
      let n = index.producer.get(key)?.node;
      n && (LAYOUT.has(n.op_type) || n.op_type === 'Mul' || n.op_type === 'Div');
      n = index.producer.get(key)?.node
    ) {
      if (n.op_type === 'Mul' || n.op_type === 'Div') key = unscaled(key);
      else if (n.op_type === 'Transpose') {
        key = n.input[0]!;
        break;
      } else key = n.input[0]!;
    }
    // Tap-valued ends are named as TransformerLens names them (the capture exposes the taps so).
    const tl = (hook: string) => `${tower.taps[0]!.name.split('blocks.')[0]}blocks.${layer}.${hook}`;
    const ln1 = { ...norm(v.input, tl('hook_resid_pre'), `layer ${layer} pre-attention norm`) };
    const ln2 = { ...norm(taps.mlpIn, tl('hook_resid_mid'), `layer ${layer} pre-MLP norm`), output: tl('hook_mlp_in') };
    const tapNames = {
      residPre: tl('hook_resid_pre'),
      residMid: tl('hook_resid_mid'),
      mlpIn: tl('hook_mlp_in'),
      mlpOut: tl('hook_mlp_out'),
      residPost: tl('hook_resid_post'),
    };
    layers.push({ layer, ln1, probs: softmax.output[0]!, query, key, scale, wV: v.weight, wO: o.weight, ln2, taps: tapNames });
    tensors.push(ln1.output, softmax.output[0]!, query, key);
  }
  // Logits = finalNorm(last residual) x W_U (plain MatMul: soft-capped logits are refused).
  const head = projection(logitsName, 'unembedding');
  const last = layers[layers.length - 1]!.taps.residPost;
  const finalNorm = norm(head.input, last, 'final norm');
  tensors.push(head.input);
  const [d, vocab] = head.dims as [number, number];
  return { d, vocab, layers, finalNorm, unembed: head.weight, tensors: [...new Set(tensors)] };
}
