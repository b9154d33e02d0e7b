/**
 * TopK / BatchTopK training steps on CPU with the sparse kernels (sparse-topk.ts): the same step as
 * the chunk graph of train-graph.ts (same losses, gradients, Adam, unit-norm decoder, bookkeeping),
 * with one dense product per step instead of four.
 *
 *   encoder   pre = xc W_encᵀᵀ + b_enc by onnxruntime (Gemm, transB: W_enc is kept as W_encᵀ [F, D]
 *             here so each feature's encoder row is contiguous), then TopK (and AuxK's TopK over
 *             dead features) in the same small graph — the only dense product.
 *   decoder   ŷ[r] = b_dec + Σ_e z_e W_dec[f_e]                     (decodeRows, k rows per token)
 *   backward  g = 2(ŷ − y)/B; gpre_e = (g[r_e] · W_dec[f_e])·[z_e > 0] (dotRows); AuxK likewise with ga
 *   update    per feature f: dW_dec[f] = Σ z_e g[r_e], dW_encᵀ[f] = Σ gpre_e xc[r_e] over f's entries,
 *             then Adam on both rows and the decoder row to unit norm (adamRows) — gradients are
 *             formed only from active entries and never stored as [F, D] matrices. Adam itself
 *             touches every parameter, as the graph's (and PyTorch's) Adam does.
 *
 * Determinism: the kernels run each sum in a fixed order with one writer per output, and the
 * encoder's Gemm and TopK give the same bits whatever onnxruntime's thread count, so a run is
 * bit-identical across runs and thread counts. The numbers equal the chunk graph's up to float32
 * rounding (its dense products sum in another order); the ONNX chunk graph stays the path for
 * ReLU SAEs and GPU sessions.
 */
import { graph, int64Tensor, model, node, valueInfo } from '../onnx/builder.js';
import type { ModelProto, NodeProto } from '../onnx/model-io.js';
import { DataType } from '../onnx/schema.js';
import type { WireTensor } from '../runtime/pool-protocol.js';
import { adamDense, type SparseTopkKernels } from './sparse-topk.js';
import { ADAM, STEP_OUTPUTS, type AdamParams, stateDims, stateNames, type SaeTrainSpec } from './train-graph.js';

const f = Math.fround;
const FL = DataType.FLOAT;
const BIG = 1e9;

/** Architectures the sparse step covers (ReLU has no fixed sparsity and keeps the chunk graph). */
export const sparseTrainable = (s: SaeTrainSpec) => s.architecture === 'topk' || s.architecture === 'batchtopk';

/**
 * The encoder graph of a sparse step. Inputs xc [B, dIn], W_encT [F, dIn], b_enc [F], dead [F];
 * outputs top_acts / top_idx ([B, k] for TopK; [B·k] over the flattened batch for BatchTopK, with
 * batch_threshold), and aux_acts / aux_idx [B, k_aux] when AuxK is on.
 */
export function sparseEncodeGraph(s: SaeTrainSpec): ModelProto {
  const n: NodeProto[] = [];
  const add = (op: string, inputs: string[], outputs: string[], attrs: Record<string, never | number | number[]> = {}) =>
    n.push(node(op, inputs, outputs, `enc/${outputs[0]}`, attrs as never));
  add('Gemm', ['xc', 'W_encT', 'b_enc'], ['pre'], { transB: 1 });
  const outputs = [];
  if (s.architecture === 'topk') {
    add('TopK', ['pre', 'c_k'], ['top_vals', 'top_idx'], { axis: -1, largest: 1, sorted: 0 });
    add('Relu', ['top_vals'], ['top_acts']);
    outputs.push(valueInfo('top_acts', FL, ['batch', s.k]), valueInfo('top_idx', DataType.INT64, ['batch', s.k]));
  } else {
    add('Relu', ['pre'], ['pre_relu']);
    add('Reshape', ['pre_relu', 'c_flat'], ['pre_flat']);
    add('Shape', ['xc'], ['xc_shape']);
    add('Gather', ['xc_shape', 'c_zero_i'], ['batch_i'], { axis: 0 });
    add('Mul', ['c_k', 'batch_i'], ['k_batch']);
    add('TopK', ['pre_flat', 'k_batch'], ['top_acts', 'top_idx'], { axis: -1, largest: 1, sorted: 0 });
    add('ReduceMin', ['top_acts'], ['batch_threshold'], { keepdims: 0 });
    outputs.push(
      valueInfo('top_acts', FL, ['entries']),
      valueInfo('top_idx', DataType.INT64, ['entries']),
      valueInfo('batch_threshold', FL, []),
    );
  }
  const aux = s.auxK > 0;
  if (aux) {
    // As the chunk graph: alive features pushed down by 1e9 so TopK picks dead ones first.
    add('Mul', ['pre', 'dead'], ['pre_dead']);
    add('Sub', ['dead', 'c_one'], ['alive_neg']);
    add('Mul', ['alive_neg', 'c_big'], ['alive_penalty']);
    add('Add', ['pre_dead', 'alive_penalty'], ['aux_pre']);
    add('TopK', ['aux_pre', 'c_k_aux'], ['aux_vals', 'aux_idx'], { axis: -1, largest: 1, sorted: 0 });
    add('Relu', ['aux_vals'], ['aux_acts']);
    outputs.push(valueInfo('aux_acts', FL, ['batch', s.auxK]), valueInfo('aux_idx', DataType.INT64, ['batch', s.auxK]));
  }
  const read = new Set(n.flatMap((x) => x.input));
  const inits = [
    int64Tensor('c_k', [1], [s.k]),
    int64Tensor('c_k_aux', [1], [Math.max(1, s.auxK)]),
    int64Tensor('c_flat', [1], [-1]),
    int64Tensor('c_zero_i', [], [0]),
    { name: 'c_one', dims: [], data_type: FL, raw_data: new Uint8Array(Float32Array.of(1).buffer), external_data: [] },
    { name: 'c_big', dims: [], data_type: FL, raw_data: new Uint8Array(Float32Array.of(BIG).buffer), external_data: [] },
  ].filter((t) => read.has(t.name));
  const inputs = [
    valueInfo('xc', FL, ['batch', s.dIn]),
    valueInfo('W_encT', FL, [s.dSae, s.dIn]),
    valueInfo('b_enc', FL, [s.dSae]),
    ...(aux ? [valueInfo('dead', FL, [s.dSae])] : []),
  ];
  return model(graph('sae_sparse_encode', n, inputs, outputs, inits), 18);
}

/**
 * Runs the encoder graph. `outputs` are preallocated output tensors onnxruntime writes into (its
 * `fetches`), so a step allocates no output buffers; the weights are fed as views of the state.
 */
export type EncodeRun = (
  feeds: Record<string, WireTensor>,
  outputs: Record<string, WireTensor>,
) => Promise<Record<string, { data: unknown }>>;

/** TopK's int64 indices (all < 2^31) as int32: the low words of the little-endian pairs, into `out` when given. */
function toInt32(d: unknown, out?: Int32Array): Int32Array {
  const big = d as BigInt64Array;
  const words = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
  const res = out ?? new Int32Array(big.length);
  for (let e = 0; e < res.length; e++) res[e] = words[2 * e]!;
  return res;
}

/** Row of each entry when every row has `per` entries in order: [0 ×per, 1 ×per, …]. */
function rowsOf(n: number, per: number): Int32Array {
  const out = new Int32Array(n);
  for (let e = 0; e < n; e++) out[e] = (e / per) | 0;
  return out;
}

/** Transpose of a row-major [rows, cols] matrix. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/**
 * A step's working arrays for batches of B rows, allocated once per batch size and overwritten (or
 * zeroed) each step: allocating them per step left ~6 MB of garbage a step for the collector, and
 * the pool process's memory grew by ~100 MB before it ran (bench:memory).
 */
interface StepScratch {
  xc: Float32Array;
  dead: Float32Array;
  idx: Int32Array;
  rows: Int32Array;
  yHat: Float32Array;
  err: Float32Array;
  g: Float32Array;
  gbDec: Float32Array;
  fireSum: Float32Array;
  gpre: Float32Array;
  auxIdx: Int32Array;
  auxRows: Int32Array;
  eHat: Float32Array;
  ga: Float32Array;
  auxGpre: Float32Array;
  gbEnc: Float32Array;
  gbDecIn: Float32Array;
}

/** W_enc and its moments are held transposed; everything else as the chunk graph names it. */
const TRANSPOSED = new Set(['W_enc', 'm_W_enc', 'v_W_enc']);

/**
 * The training state of one run in the process that holds the encoder session, stepped in chunks
 * with the chunk graph's feeds (xs, ys, lrs, t0, dead_after, in_<state>) and outputs.
 */
export class SparseTrainer {
  private readonly state: Record<string, Float32Array> = {};
  private readonly names: string[];
  /** The encoder's preallocated outputs, per batch size. */
  private readonly outputs = new Map<number, Record<string, WireTensor>>();
  private readonly scratch = new Map<number, StepScratch>();

  constructor(
    private readonly spec: SaeTrainSpec,
    private readonly encode: EncodeRun,
    private readonly kernels: SparseTopkKernels,
    private readonly adam: AdamParams = ADAM,
  ) {
    this.names = stateNames(spec);
    const dims = stateDims(spec);
    for (const nm of this.names) this.state[nm] = new Float32Array(dims[nm]!.reduce((a, b) => a * b, 1));
  }

  /** Sets a state tensor given in the chunk graph's layout. */
  set(name: string, data: Float32Array): void {
    if (!this.names.includes(name)) throw new Error(`sparse training: unknown state ${name}`);
    const { dIn, dSae } = this.spec;
    this.state[name] = TRANSPOSED.has(name) ? transpose(data, dIn, dSae) : Float32Array.from(data);
  }

  /** A state tensor in the chunk graph's layout (a copy). */
  get(name: string): Float32Array {
    const { dIn, dSae } = this.spec;
    return TRANSPOSED.has(name) ? transpose(this.state[name]!, dSae, dIn) : Float32Array.from(this.state[name]!);
  }

  /** Runs the chunk graph's contract: feeds as saeTrainChunkGraph's, outputs out_<keep> and the per-step values. */
  async run(feeds: Record<string, WireTensor>, keep: readonly string[]): Promise<Record<string, WireTensor>> {
    for (const [name, t] of Object.entries(feeds)) if (name.startsWith('in_')) this.set(name.slice(3), t.data as Float32Array);
    const { dIn, dOut } = this.spec;
    const xs = feeds.xs!;
    const [K, B] = xs.dims as [number, number, number];
    const t0 = (feeds.t0!.data as Float32Array)[0]!;
    const deadAfter = (feeds.dead_after!.data as Float32Array)[0]!;
    const lrs = feeds.lrs!.data as Float32Array;
    const perStep: Record<string, Float32Array> = Object.fromEntries(STEP_OUTPUTS.map((o) => [o, new Float32Array(K)]));
    const rowSse = new Float32Array(K * B);
    for (let i = 0; i < K; i++) {
      const x = (xs.data as Float32Array).subarray(i * B * dIn, (i + 1) * B * dIn);
      const y = this.spec.transcoder ? (feeds.ys!.data as Float32Array).subarray(i * B * dOut, (i + 1) * B * dOut) : x;
      const m = await this.step(x, y, B, f(f(t0 + i) + 1), deadAfter, lrs[i]!, rowSse.subarray(i * B, (i + 1) * B));
      for (const o of STEP_OUTPUTS) perStep[o]![i] = m[o];
    }
    const out: Record<string, WireTensor> = {};
    for (const o of STEP_OUTPUTS) out[o] = { type: 'float32', dims: [K], data: perStep[o]! };
    out.row_sse = { type: 'float32', dims: [K, B], data: rowSse };
    const dims = stateDims(this.spec);
    for (const o of keep) out[o] = { type: 'float32', dims: dims[o.slice(4)]!, data: this.get(o.slice(4)) };
    return out;
  }

  /** Preallocated encoder outputs for batches of B rows (fixed shapes: TopK, AuxK's TopK). */
  private encodeOutputs(B: number): Record<string, WireTensor> {
    let out = this.outputs.get(B);
    if (!out) {
      const { k, auxK } = this.spec;
      const shape = this.spec.architecture === 'topk' ? [B, k] : [B * k];
      out = {
        top_acts: { type: 'float32', dims: shape, data: new Float32Array(B * k) },
        top_idx: { type: 'int64', dims: shape, data: new BigInt64Array(B * k) },
        ...(this.spec.architecture === 'batchtopk' ? { batch_threshold: { type: 'float32', dims: [], data: new Float32Array(1) } } : {}),
        ...(auxK > 0
          ? {
              aux_acts: { type: 'float32', dims: [B, auxK], data: new Float32Array(B * auxK) },
              aux_idx: { type: 'int64', dims: [B, auxK], data: new BigInt64Array(B * auxK) },
            }
          : {}),
      };
      this.outputs.set(B, out);
    }
    return out;
  }

  private stepScratch(B: number): StepScratch {
    let sc = this.scratch.get(B);
    if (!sc) {
      const { dIn: Di, dOut: Do, dSae: F, k, auxK } = this.spec;
      const topk = this.spec.architecture === 'topk';
      const aux = auxK > 0;
      sc = {
        xc: new Float32Array(this.spec.transcoder ? 0 : B * Di),
        dead: new Float32Array(F),
        idx: new Int32Array(topk ? B * k : 0),
        rows: topk ? rowsOf(B * k, k) : new Int32Array(0),
        yHat: new Float32Array(B * Do),
        err: new Float32Array(B * Do),
        g: new Float32Array(B * Do),
        gbDec: new Float32Array(Do),
        fireSum: new Float32Array(F),
        gpre: new Float32Array(B * k),
        auxIdx: new Int32Array(aux ? B * auxK : 0),
        auxRows: aux ? rowsOf(B * auxK, auxK) : new Int32Array(0),
        eHat: new Float32Array(aux ? B * Do : 0),
        ga: new Float32Array(aux ? B * Do : 0),
        auxGpre: new Float32Array(aux ? B * auxK : 0),
        gbEnc: new Float32Array(F),
        gbDecIn: new Float32Array(Di),
      };
      this.scratch.set(B, sc);
    }
    return sc;
  }

  /** One step at step number t (1-based, as Adam's bias correction counts). */
  private async step(
    x: Float32Array,
    y: Float32Array,
    B: number,
    t: number,
    deadAfter: number,
    lr: number,
    rowSse: Float32Array,
  ): Promise<Record<(typeof STEP_OUTPUTS)[number], number>> {
    const s = this.spec;
    const st = this.state;
    const { dIn: Di, dOut: Do, dSae: F } = s;
    const kern = this.kernels;
    const sc = this.stepScratch(B);
    const xc = s.transcoder ? x : sc.xc;
    if (!s.transcoder) for (let r = 0; r < B; r++) for (let d = 0; d < Di; d++) xc[r * Di + d] = f(x[r * Di + d]! - st.b_dec![d]!);
    const dead = sc.dead;
    for (let q = 0; q < F; q++) dead[q] = f(t - st.last_fired![q]!) > deadAfter ? 1 : 0;
    const enc = await this.encode(
      {
        xc: { type: 'float32', dims: [B, Di], data: xc },
        W_encT: { type: 'float32', dims: [F, Di], data: st.W_enc! },
        b_enc: { type: 'float32', dims: [F], data: st.b_enc! },
        ...(s.auxK > 0 ? { dead: { type: 'float32', dims: [F], data: dead } } : {}),
      },
      this.encodeOutputs(B),
    );
    // Active entries in a fixed order: (row, slot) for TopK; by row then feature for BatchTopK.
    let vals = enc.top_acts!.data as Float32Array;
    let idx: Int32Array;
    let rows: Int32Array;
    if (s.architecture === 'topk') {
      idx = toInt32(enc.top_idx!.data, sc.idx);
      rows = sc.rows;
    } else {
      idx = toInt32(enc.top_idx!.data);
      const order = Array.from(idx.keys()).sort((a, b) => idx[a]! - idx[b]!);
      vals = Float32Array.from(order, (e) => vals[e]!);
      const flat = Int32Array.from(order, (e) => idx[e]!);
      rows = flat.map((v) => Math.floor(v / F));
      idx = flat.map((v) => v % F);
    }
    const yHat = sc.yHat;
    for (let r = 0; r < B; r++) yHat.set(st.b_dec!, r * Do);
    kern.decodeRows(rows, idx, vals, st.W_dec!, yHat, Do);
    // Reconstruction loss, its gradient g = 2(ŷ − y)/B, and the metrics, in the graph's float32 steps.
    const bf = f(B);
    const { err, g, gbDec } = sc;
    gbDec.fill(0);
    const stats = new Float32Array(2);
    kern.residual(yHat, y, B, err, g, rowSse, gbDec, stats);
    const [sse, sst] = stats as unknown as [number, number];
    const mse = f(sse / bf);
    const fireSum = sc.fireSum.fill(0);
    let fires = 0;
    for (let e = 0; e < idx.length; e++)
      if (vals[e]! > 0) {
        fireSum[idx[e]!]!++;
        fires++;
      }
    const gpre = idx.length === sc.gpre.length ? sc.gpre : new Float32Array(idx.length);
    kern.dotRows(rows, idx, g, st.W_dec!, gpre, Do);
    for (let e = 0; e < idx.length; e++) gpre[e] = f(gpre[e]! * (vals[e]! > 0 ? 1 : 0));
    // AuxK: dead features reconstruct the residual e = y − ŷ (held constant), scaled by min(dead / k_aux, 1).
    let aux = 0;
    let auxRows: Int32Array = new Int32Array(0);
    let auxIdx: Int32Array = new Int32Array(0);
    let auxVals: Float32Array = new Float32Array(0);
    let auxGpre: Float32Array = new Float32Array(0);
    let ga: Float32Array = new Float32Array(0);
    if (s.auxK > 0) {
      auxVals = enc.aux_acts!.data as Float32Array;
      auxIdx = toInt32(enc.aux_idx!.data, sc.auxIdx);
      auxRows = sc.auxRows;
      const eHat = sc.eHat.fill(0);
      kern.decodeRows(auxRows, auxIdx, auxVals, st.W_dec!, eHat, Do);
      let deadCount = 0;
      for (let q = 0; q < F; q++) deadCount = f(deadCount + dead[q]!);
      const coef = f(f(s.auxCoefficient) * Math.min(f(deadCount / f(Math.max(1, s.auxK))), 1));
      const coef2 = f(coef * 2);
      ga = sc.ga;
      let auxSse = 0;
      for (let i = 0; i < B * Do; i++) {
        const a = f(eHat[i]! + err[i]!); // ê − e with e = −err
        auxSse = f(auxSse + f(a * a));
        ga[i] = f(f(a * coef2) / bf);
      }
      aux = f(f(auxSse * coef) / bf);
      auxGpre = sc.auxGpre;
      kern.dotRows(auxRows, auxIdx, ga, st.W_dec!, auxGpre, Do);
      for (let e = 0; e < auxIdx.length; e++) auxGpre[e] = f(auxGpre[e]! * (auxVals[e]! > 0 ? 1 : 0));
    }
    // Adam, as the graph: bias corrections 1 − β^t, then every parameter.
    const a = this.adam;
    const bc1 = f(1 - f(Math.pow(f(a.beta1), t)));
    const bc2 = f(1 - f(Math.pow(f(a.beta2), t)));
    const hyper = Float32Array.of(lr, a.beta1, a.beta2, 1 - a.beta1, 1 - a.beta2, bc1, bc2, a.eps, s.normalizeDecoder ? 1 : 0);
    const gbEnc = sc.gbEnc.fill(0);
    const gbDecIn = sc.gbDecIn.fill(0);
    kern.adamRows(
      B,
      rows,
      idx,
      vals,
      gpre,
      auxRows,
      auxIdx,
      auxVals,
      auxGpre,
      g,
      ga,
      xc,
      st.W_dec!,
      st.m_W_dec!,
      st.v_W_dec!,
      st.W_enc!,
      st.m_W_enc!,
      st.v_W_enc!,
      hyper,
      gbEnc,
      gbDecIn,
    );
    // b_dec also centres the input: minus W_enc · grad_b_enc (adamRows summed it from the old rows).
    if (!s.transcoder) for (let d = 0; d < Do; d++) gbDec[d] = f(gbDec[d]! - gbDecIn[d]!);
    adamDense(st.b_enc!, st.m_b_enc!, st.v_b_enc!, gbEnc, hyper);
    adamDense(st.b_dec!, st.m_b_dec!, st.v_b_dec!, gbDec, hyper);
    // Firing bookkeeping (dead features for AuxK, dense / dead shares at log steps) and BatchTopK's threshold.
    for (let q = 0; q < F; q++) {
      if (fireSum[q]! > 0) st.last_fired![q] = t;
      st.fire_counts![q] = f(st.fire_counts![q]! + fireSum[q]!);
    }
    if (s.architecture === 'batchtopk') {
      const thr = (enc.batch_threshold!.data as Float32Array)[0]!;
      st.threshold![0] = f(f(st.threshold![0]! * f(0.99)) + f(thr * f(0.01)));
    }
    return { loss: f(mse + aux), mse, l1: f(mse * 0), aux, fvu: f(sse / sst), l0: f(fires / bf) };
  }
}
