/**
 * The maths of sae-model.ts as ONNX nodes, shared by the SAE edit (graph surgery) and the analysis
 * encoder so that both compute exactly one definition. Works on any leading shape ([rows, d] or
 * [batch, seq, d]) and uses only ops that mean the same in every opset Ocular meets (row sums are
 * MatMuls with a ones vector rather than Reduce*, whose axes moved from attribute to input).
 *
 * Float weights are returned for the caller to store (inline initialisers for the analysis graph,
 * the external data file for the edited model); int64 constants are small and returned as values.
 */
import { node as mkNode } from '../onnx/builder.js';
import type { NodeProto } from '../onnx/model-io.js';
import { DataType } from '../onnx/schema.js';
import { LAYER_NORM_EPS, outWidth, type SaeWeights } from './sae-model.js';

export interface GraphWeight {
  name: string;
  dims: number[];
  data: Float32Array;
}

export class SaeGraph {
  readonly nodes: NodeProto[] = [];
  readonly weights: GraphWeight[] = [];
  readonly ints: Array<{ name: string; values: number[] }> = [];
  private readonly have = new Set<string>();
  /** The per-row statistics of the input normalisation, once encode() has run. */
  private stats: { std?: string; mean?: string; coeff?: string } = {};

  /** `prefix` namespaces every tensor: weights `${prefix}.W_enc`, intermediates `${prefix}/pre`. */
  constructor(
    readonly sae: SaeWeights,
    private readonly prefix: string,
  ) {}

  private t(local: string): string {
    return `${this.prefix}/${local}`;
  }

  private op(type: string, inputs: string[], local: string, attrs: Record<string, number | number[]> = {}): string {
    const out = this.t(local);
    this.nodes.push(mkNode(type, inputs, [out], out, attrs));
    return out;
  }

  /** A float weight (added once), by its local name. */
  w(local: string, dims: number[], data: () => Float32Array): string {
    const name = `${this.prefix}.${local}`;
    if (!this.have.has(name)) {
      this.have.add(name);
      this.weights.push({ name, dims, data: data() });
    }
    return name;
  }

  private int(local: string, values: number[]): string {
    const name = `${this.prefix}.${local}`;
    if (!this.have.has(name)) {
      this.have.add(name);
      this.ints.push({ name, values });
    }
    return name;
  }

  private scalar(local: string, value: number): string {
    return this.w(local, [1], () => Float32Array.of(value));
  }

  /** Sum over the last axis, kept as a trailing axis of 1. */
  private rowSum(x: string, local: string): string {
    return this.op('MatMul', [x, this.w('ones_in', [this.sae.dIn, 1], () => new Float32Array(this.sae.dIn).fill(1))], local);
  }

  /** x' = norm(x), keeping what the decoder needs to undo it. */
  private normalize(x: string): string {
    const norm = this.sae.normalizeActivations ?? 'none';
    const d = this.sae.dIn;
    if (norm === 'constant_norm_rescale') {
      const length = this.op('Sqrt', [this.rowSum(this.op('Mul', [x, x], 'norm_sq'), 'norm_ss')], 'norm_len');
      this.stats.coeff = this.op('Div', [this.scalar('sqrt_d_in', Math.sqrt(d)), length], 'norm_coeff');
      return this.op('Mul', [x, this.stats.coeff], 'normed');
    }
    if (norm === 'layer_norm') {
      this.stats.mean = this.op('Mul', [this.rowSum(x, 'norm_sum'), this.scalar('inv_d_in', 1 / d)], 'norm_mean');
      const centred = this.op('Sub', [x, this.stats.mean], 'norm_centred');
      const ss = this.rowSum(this.op('Mul', [centred, centred], 'norm_sq'), 'norm_ss');
      // torch's unbiased std, as SAELens's x.std(dim=-1)
      this.stats.std = this.op('Sqrt', [this.op('Mul', [ss, this.scalar('inv_d_in_1', 1 / (d - 1))], 'norm_var')], 'norm_std');
      return this.op('Div', [centred, this.op('Add', [this.stats.std, this.scalar('ln_eps', LAYER_NORM_EPS)], 'norm_den')], 'normed');
    }
    return x;
  }

  /** Pre-activations of x (float32): `pre` is what TopK ranks and JumpReLU thresholds; `gate` for gated SAEs. */
  encodePre(x: string): { pre: string; gate?: string } {
    const s = this.sae;
    let input = this.normalize(x);
    if (s.applyBDecToInput) input = this.op('Sub', [input, this.w('b_dec', [outWidth(s)], () => s.b_dec)], 'centred');
    const u = this.op('MatMul', [input, this.w('W_enc', [s.dIn, s.dSae], () => s.W_enc)], 'proj');
    const bEnc = this.w('b_enc', [s.dSae], () => s.b_enc);
    if (s.architecture !== 'gated') return { pre: this.op('Add', [u, bEnc], 'pre') };
    const open = this.op(
      'Greater',
      [this.op('Add', [u, this.w('b_gate', [s.dSae], () => s.b_gate!)], 'gate_pre'), this.scalar('zero', 0)],
      'gate_open',
    );
    const gate = this.op('Cast', [open], 'gate', { to: DataType.FLOAT });
    const scale = this.w('exp_r_mag', [s.dSae], () => Float32Array.from(s.r_mag!, Math.exp));
    return { pre: this.op('Add', [this.op('Mul', [u, scale], 'mag_proj'), bEnc], 'pre'), gate };
  }

  /** Dense feature activations from encodePre's outputs. */
  activate(pre: string, gate?: string): string {
    const s = this.sae;
    const relu = this.op('Relu', [pre], 'pre_relu');
    switch (s.architecture) {
      case 'relu':
        return relu;
      case 'gated':
        return this.op('Mul', [relu, gate!], 'code');
      case 'jumprelu': {
        const fires = this.op('Greater', [pre, this.w('threshold', [s.dSae], () => s.threshold!)], 'fires');
        return this.op('Mul', [relu, this.op('Cast', [fires], 'fires_f', { to: DataType.FLOAT })], 'code');
      }
      case 'topk': {
        const vals = this.t('top_vals');
        const idx = this.t('top_idx');
        this.nodes.push(mkNode('TopK', [pre, this.int('k', [s.k!])], [vals, idx], this.t('TopK'), { axis: -1, largest: 1, sorted: 0 }));
        const zeros = this.op('Sub', [pre, pre], 'zeros');
        return this.op('ScatterElements', [zeros, idx, this.op('Relu', [vals], 'top_acts')], 'code', { axis: -1 });
      }
      case 'groupmax': {
        // sparsify: the largest of each of k contiguous groups; torch.max keeps the first of ties, as ArgMax does.
        const size = s.dSae / s.k!;
        const grouped = this.op('Reshape', [pre, this.int('group_shape', [-1, s.k!, size])], 'grouped');
        const best = this.op('ArgMax', [grouped], 'group_best', { axis: -1, keepdims: 1 });
        const iota = this.int(
          'group_iota',
          Array.from({ length: size }, (_, i) => i),
        );
        const mask = this.op('Cast', [this.op('Equal', [iota, best], 'group_is_best')], 'group_mask', { to: DataType.FLOAT });
        const kept = this.op('Mul', [this.op('Relu', [grouped], 'grouped_relu'), mask], 'grouped_code');
        return this.op('Reshape', [kept, this.op('Shape', [pre], 'pre_shape')], 'code');
      }
    }
  }

  /** Undoes the input normalisation on a decoder output (an SAE only; SAELens never does it for transcoders). */
  private unnormalize(y: string, local: string, withShift: boolean): string {
    if (this.sae.dOut !== undefined) return y;
    if (this.stats.coeff) return this.op('Div', [y, this.stats.coeff], local);
    if (this.stats.std) {
      const scaled = this.op('Mul', [y, this.stats.std], `${local}_scaled`);
      return withShift ? this.op('Add', [scaled, this.stats.mean!], local) : scaled;
    }
    return y;
  }

  private wDec(): string {
    const s = this.sae;
    return this.w('W_dec', [s.dSae, outWidth(s)], () => s.W_dec);
  }

  /** decode(code) = denorm(code W_dec + b_dec) + x W_skip^T, with x the raw input. */
  reconstruct(code: string, x: string): string {
    const s = this.sae;
    const dOut = outWidth(s);
    const y = this.op(
      'Add',
      [this.op('MatMul', [code, this.wDec()], 'recon_nobias'), this.w('b_dec', [dOut], () => s.b_dec)],
      'recon_normed',
    );
    const out = this.unnormalize(y, 'recon_denormed', true);
    if (!s.W_skip) return out;
    const skipT = this.w('W_skip_T', [s.dIn, dOut], () => {
      const t = new Float32Array(s.dIn * dOut);
      for (let j = 0; j < dOut; j++) for (let i = 0; i < s.dIn; i++) t[i * dOut + j] = s.W_skip![j * s.dIn + i]!;
      return t;
    });
    return this.op('Add', [out, this.op('MatMul', [x, skipT], 'skip')], 'recon');
  }

  /** decode(a) - decode(b) given a - b: the biases, the mean and the skip term cancel. */
  decodeDifference(codeDelta: string): string {
    return this.unnormalize(this.op('MatMul', [codeDelta, this.wDec()], 'delta_normed'), 'delta', false);
  }
}
