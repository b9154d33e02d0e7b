/**
 * Graph surgery at taps. Three edits, applied in one pass:
 *   - expose: a tap's tensor becomes an extra graph output named after the tap;
 *   - steer: a new float input `steer.<tap>` (broadcastable to [batch, seq, d_model]) is added at the tap;
 *   - SAE edit: x <- x + decode(f(z)) - decode(z) with z = encode(x), encode and decode as
 *     core/sae/sae-model.ts defines them (normalisation, every activation, skip connection); without
 *     normalisation that is x + (f(z) - z) W_dec. The SAE's reconstruction error stays in x because
 *     the edit is computed from the unedited activation and only the *difference* of decodes is added;
 *     f (per-feature multiply, clamp) comes in as inputs, so an identity f changes nothing, bit for bit.
 * Edited taps feed every downstream consumer; an exposed tap shows the value after any edit there.
 * Consumers include control-flow bodies that read the tap from the outer scope (an If branch holding a
 * linear-attention recurrence, say): their outer reads are renamed too. An edit at the residual sum of
 * a fused Skip*LayerNormalization (output 3) unfuses that node into Add + norm, so the norm's output
 * (the next sublayer's input) is computed from the edited sum, as it is in the unfused model.
 */
import type { Dim } from './graph-index.js';
import { GraphIndex, renameOuterRead, topologicalOrder } from './graph-index.js';
import { externalTensor, floatTensor, int64Tensor, node as mkNode, valueInfo } from './builder.js';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from './model-io.js';
import { DataType } from './schema.js';
import type { Tap, TowerTaps } from './taps.js';
import { SKIP_NORMS, unfuseSkipNorm } from './fused-norm.js';
import { validateModel } from './validate.js';
import { SaeGraph } from '../sae/sae-graph.js';
import { checkSaeWeights, type SaeWeights } from '../sae/sae-model.js';

export type { SaeArchitecture, SaeWeights } from '../sae/sae-model.js';

export interface SaeEditSpec {
  /** Short identifier used in input names: `sae.<id>.scale`, ... */
  id: string;
  tap: string;
  sae: SaeWeights;
}

/**
 * A transcoder replacing the MLP: it reads `inTap` (hook_mlp_in) and its output stands in for
 * `outTap` (hook_mlp_out). Inputs `tc.<id>.keep_error` (1: the MLP's own output, exactly; 0: the
 * transcoder's output alone), `tc.<id>.scale` (per-feature multiply) and `tc.<id>.position_mask`.
 * With `clamp`, also `tc.<id>.clamp_mask` and `tc.<id>.clamp_value` per position and feature
 * ([batch, seq, d_sae]): where the mask is 1 the feature's activation is set to the value (circuit
 * patching: activations from another prompt); mask 0 everywhere changes nothing.
 */
export interface TranscoderEditSpec {
  id: string;
  inTap: string;
  outTap: string;
  sae: SaeWeights;
  clamp?: boolean;
}

export interface SurgerySpec {
  expose?: string[];
  /** Existing intermediate tensors (attention probabilities, queries, keys) to add as graph outputs under their own names. */
  exposeTensors?: string[];
  steer?: string[];
  saeEdits?: SaeEditSpec[];
  transcoderEdits?: TranscoderEditSpec[];
}

export interface SurgeryResult {
  model: ModelProto;
  /** Bytes of the SAE weights' external data file (null when no SAE edit). */
  saeData: Buffer | null;
  addedInputs: string[];
  addedOutputs: string[];
}

export class SurgeryError extends Error {}

/** Inputs an SAE edit adds; feeding these values leaves the model unchanged. Ready to feed a pool session. */
export function saeIdentityInputs(
  id: string,
  dSae: number,
  batch: number,
  seq: number,
): Record<string, { type: 'float32'; dims: number[]; data: Float32Array }> {
  const t = (dims: number[], data: Float32Array) => ({ type: 'float32' as const, dims, data });
  return {
    [`sae.${id}.scale`]: t([dSae], new Float32Array(dSae).fill(1)),
    [`sae.${id}.clamp_mask`]: t([dSae], new Float32Array(dSae)),
    [`sae.${id}.clamp_value`]: t([dSae], new Float32Array(dSae)),
    [`sae.${id}.position_mask`]: t([batch, seq], new Float32Array(batch * seq).fill(1)),
    [`sae.${id}.keep_error`]: t([1], Float32Array.of(1)),
    [`sae.${id}.output_scale`]: t([1], Float32Array.of(1)),
  };
}

export function applySurgery(original: ModelProto, tower: TowerTaps, spec: SurgerySpec, saeDataLocation = 'sae.onnx_data'): SurgeryResult {
  // Work on a structural copy of the graph lists; node objects that change are replaced, not mutated.
  const g = original.graph;
  const model: ModelProto = {
    ...original,
    graph: {
      ...g,
      node: g.node.map((n) => ({ ...n, input: [...n.input], output: [...n.output] })),
      input: [...g.input],
      output: [...g.output],
      initializer: [...g.initializer],
      value_info: [...g.value_info],
    },
  };
  const graph = model.graph;
  const index = new GraphIndex(original.graph);
  const byName = new Map(tower.taps.map((t) => [t.name, t]));
  const need = (name: string): Tap => {
    const tap = byName.get(name);
    if (!tap)
      throw new SurgeryError(
        `Unknown tap '${name}'. Known taps look like ${tower.taps
          .slice(0, 3)
          .map((t) => t.name)
          .join(', ')}.`,
      );
    return tap;
  };

  const after = new Map<number, NodeProto[]>(); // nodes to insert after graph node i (-1: first)
  const insert = (pos: number, ...nodes: NodeProto[]) => after.set(pos, [...(after.get(pos) ?? []), ...nodes]);
  const addedInputs: string[] = [];
  const addedOutputs: string[] = [];
  const newInits: TensorProto[] = [];
  const saeChunks: Buffer[] = [];
  let saeOffset = 0;
  const current = new Map<string, string>(); // original tensor -> tensor now carrying the tap's value
  const positions = new Map<string, number>(); // tensor -> node index after which its edits go

  /** The tensor holding a tap's value, naming an unnamed fused output if needed. */
  const tensorOf = (tap: Tap): string => {
    if (tap.ref.tensor) return tap.ref.tensor;
    const name = `ocular/${tap.name}`;
    if (positions.has(name)) return name; // named already (and perhaps unfused since)
    const n = graph.node[tap.ref.nodeIndex];
    if (!n) throw new SurgeryError(`Tap ${tap.name} points at a node that does not exist.`);
    while (n.output.length <= tap.ref.output) n.output.push('');
    n.output[tap.ref.output] = name;
    positions.set(name, tap.ref.nodeIndex);
    // A fused norm's residual-sum output has the type of the stream entering it.
    const streamType = n.input
      .slice(0, 2)
      .map((i) => index.types.get(i))
      .find((t) => t !== undefined);
    if (streamType) index.types.set(name, streamType);
    return name;
  };
  /** The tensor an edit at `tap` replaces: a fused norm's residual sum becomes a plain Add first. */
  const editedTensorOf = (tap: Tap): string => {
    const x0 = tensorOf(tap);
    const i = tap.ref.nodeIndex;
    const n = graph.node[i];
    if (n && tap.ref.output === 3 && SKIP_NORMS[n.op_type] && !unfused.has(i)) {
      unfused.add(i);
      const { sum, norm } = unfuseSkipNorm(n, tap.name, (m) => new SurgeryError(m));
      graph.node[i] = sum[0]!;
      insert(i, ...sum.slice(1), ...(norm ? [norm] : []));
      if (norm) unfusedNorms.push(norm);
    }
    return x0;
  };
  const unfused = new Set<number>();
  const unfusedNorms: NodeProto[] = [];
  const positionOf = (tensor: string): number => positions.get(tensor) ?? index.orderOf(tensor);
  const typeOf = (tensor: string) => index.types.get(tensor);

  /** Replace every original consumer of `from` with `to` (outer-scope reads in bodies too), and note where `to` becomes available. */
  const rewire = (from: string, to: string, pos: number) => {
    for (const n of [...graph.node, ...unfusedNorms]) {
      for (let i = 0; i < n.input.length; i++) if (n.input[i] === from) n.input[i] = to;
      if (n.attribute.some((a) => a.g || a.graphs?.length)) n.attribute = n.attribute.map((a) => renameOuterRead(a, from, to));
    }
    positions.set(to, pos);
  };

  const castIn = (x: string, elem: number, prefix: string, pos: number): string => {
    if (elem === DataType.FLOAT) return x;
    insert(pos, mkNode('Cast', [x], [`${prefix}/x_f32`], `${prefix}/CastIn`, { to: DataType.FLOAT }));
    return `${prefix}/x_f32`;
  };
  const castOut = (y: string, elem: number, prefix: string, pos: number): string => {
    if (elem === DataType.FLOAT) return y;
    insert(pos, mkNode('Cast', [y], [`${prefix}/out`], `${prefix}/CastOut`, { to: elem }));
    return `${prefix}/out`;
  };
  /**
   * The dims of a tap's positions (all but the width): [batch, seq] for a decoder or a tiled vision
   * tower, [patches] for Qwen's packed vision tokens; null (any rank) where the graph does not say.
   */
  const positionDims = (tap: Tap): Dim[] | null => (tap.shape && tap.shape.length >= 2 ? tap.shape.slice(0, -1) : null);

  const external = (name: string, dims: number[], data: Float32Array) => {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    newInits.push(externalTensor(name, dims, DataType.FLOAT, saeDataLocation, saeOffset, bytes.length));
    saeChunks.push(bytes);
    saeOffset += bytes.length;
    const pad = (64 - (saeOffset % 64)) % 64; // keep tensors aligned for mmap
    if (pad) {
      saeChunks.push(Buffer.alloc(pad));
      saeOffset += pad;
    }
  };

  for (const edit of spec.saeEdits ?? []) {
    const tap = need(edit.tap);
    const sae = edit.sae;
    if (!/^[A-Za-z0-9_-]+$/.test(edit.id)) throw new SurgeryError(`SAE edit id '${edit.id}' must be letters, digits, '-' or '_'.`);
    if (tap.width !== null && tap.width !== sae.dIn)
      throw new SurgeryError(`SAE d_in ${sae.dIn} does not match ${tap.name} width ${tap.width}.`);
    checkSae(sae);
    const x0 = editedTensorOf(tap);
    const x = current.get(x0) ?? x0;
    const pos = positionOf(x);
    const elem = typeOf(x0)?.elemType ?? DataType.FLOAT;
    const p = `ocular/sae.${edit.id}`;

    const inputs = {
      scale: `sae.${edit.id}.scale`,
      clampMask: `sae.${edit.id}.clamp_mask`,
      clampValue: `sae.${edit.id}.clamp_value`,
      positionMask: `sae.${edit.id}.position_mask`,
      keepError: `sae.${edit.id}.keep_error`,
      outputScale: `sae.${edit.id}.output_scale`,
    };
    graph.input.push(
      valueInfo(inputs.scale, DataType.FLOAT, [sae.dSae]),
      valueInfo(inputs.clampMask, DataType.FLOAT, [sae.dSae]),
      valueInfo(inputs.clampValue, DataType.FLOAT, [sae.dSae]),
      valueInfo(inputs.positionMask, DataType.FLOAT, positionDims(tap)),
      valueInfo(inputs.keepError, DataType.FLOAT, [1]),
      valueInfo(inputs.outputScale, DataType.FLOAT, [1]),
    );
    addedInputs.push(...Object.values(inputs));

    const xf = castIn(x, elem, p, pos);
    // z = encode(x) and decode(.) as sae-model.ts defines them (normalisation, activation, skip).
    const sg = new SaeGraph(sae, p);
    const { pre, gate } = sg.encodePre(xf);
    const code = sg.activate(pre, gate);
    const recon = sg.reconstruct(code, xf);
    newInits.push(int64Tensor(`${p}.last_axis`, [1], [-1]), floatTensor(`${p}.one`, [1], [1]));
    const nodes: NodeProto[] = [...sg.nodes];
    nodes.push(
      // f(z): multiply, then clamp where the mask is 1: a1 + mask * (value - a1).
      mkNode('Mul', [code, inputs.scale], [`${p}/scaled`], `${p}/Scale`),
      mkNode('Sub', [inputs.clampValue, `${p}/scaled`], [`${p}/to_clamp`], `${p}/ClampGap`),
      mkNode('Mul', [inputs.clampMask, `${p}/to_clamp`], [`${p}/clamp_step`], `${p}/ClampStep`),
      mkNode('Add', [`${p}/scaled`, `${p}/clamp_step`], [`${p}/edited`], `${p}/Clamp`),
      mkNode('Sub', [`${p}/edited`, code], [`${p}/code_delta`], `${p}/CodeDelta`),
    );
    // decode(f(z)) - decode(z): the biases cancel and the error term stays in x.
    const encoded = sg.nodes.length;
    const delta = sg.decodeDifference(`${p}/code_delta`);
    nodes.push(...sg.nodes.slice(encoded));
    nodes.push(
      mkNode('Unsqueeze', [inputs.positionMask, `${p}.last_axis`], [`${p}/pos_mask`], `${p}/PositionMask`),
      mkNode('Mul', [delta, `${p}/pos_mask`], [`${p}/delta_masked`], `${p}/ApplyMask`),
      mkNode('Add', [xf, `${p}/delta_masked`], [`${p}/x_kept`], `${p}/Apply`),
      // Splicing (keep_error 0) drops the error term x - decode(z) where the mask is 1, so the tap
      // becomes decode(f(z)); output_scale 0 zero-ablates the tap there (the CE-recovered baseline).
      mkNode('Sub', [xf, recon], [`${p}/error`], `${p}/Error`),
      mkNode('Sub', [`${p}.one`, inputs.keepError], [`${p}/drop_error`], `${p}/DropError`),
      mkNode('Mul', [`${p}/error`, `${p}/drop_error`], [`${p}/error_dropped`], `${p}/ErrorDropped`),
      mkNode('Mul', [`${p}/error_dropped`, `${p}/pos_mask`], [`${p}/error_dropped_masked`], `${p}/ErrorMask`),
      mkNode('Sub', [`${p}/x_kept`, `${p}/error_dropped_masked`], [`${p}/x_spliced`], `${p}/Splice`),
      mkNode('Sub', [`${p}.one`, inputs.outputScale], [`${p}/zeroing`], `${p}/Zeroing`),
      mkNode('Mul', [`${p}/pos_mask`, `${p}/zeroing`], [`${p}/zeroing_masked`], `${p}/ZeroingMask`),
      mkNode('Sub', [`${p}.one`, `${p}/zeroing_masked`], [`${p}/out_scale`], `${p}/OutScale`),
      mkNode('Mul', [`${p}/x_spliced`, `${p}/out_scale`], [`${p}/x_edited`], `${p}/ScaleOut`),
    );
    for (const wt of sg.weights) external(wt.name, wt.dims, wt.data);
    for (const c of sg.ints) newInits.push(int64Tensor(c.name, [c.values.length], c.values));
    insert(pos, ...nodes);
    const out = castOut(`${p}/x_edited`, elem, p, pos);
    rewire(x, out, pos);
    current.set(x0, out);
  }

  for (const edit of spec.transcoderEdits ?? []) {
    const inTap = need(edit.inTap);
    const outTap = need(edit.outTap);
    const sae = edit.sae;
    if (!/^[A-Za-z0-9_-]+$/.test(edit.id)) throw new SurgeryError(`Transcoder edit id '${edit.id}' must be letters, digits, '-' or '_'.`);
    if (sae.dOut === undefined)
      throw new SurgeryError(`Transcoder edit ${edit.id} needs a transcoder (d_out); this SAE reconstructs its own tap.`);
    if (inTap.width !== null && inTap.width !== sae.dIn)
      throw new SurgeryError(`Transcoder d_in ${sae.dIn} does not match ${inTap.name} width ${inTap.width}.`);
    if (outTap.width !== null && outTap.width !== sae.dOut)
      throw new SurgeryError(`Transcoder d_out ${sae.dOut} does not match ${outTap.name} width ${outTap.width}.`);
    try {
      checkSaeWeights(sae);
    } catch (err) {
      throw new SurgeryError((err as Error).message);
    }
    const xIn0 = tensorOf(inTap);
    const xIn = current.get(xIn0) ?? xIn0;
    const y0 = editedTensorOf(outTap);
    const y = current.get(y0) ?? y0;
    const pos = positionOf(y);
    if (positionOf(xIn) > pos)
      throw new SurgeryError(`${inTap.name} is computed after ${outTap.name}; a transcoder reads before it writes.`);
    const elemIn = typeOf(xIn0)?.elemType ?? DataType.FLOAT;
    const elem = typeOf(y0)?.elemType ?? DataType.FLOAT;
    const p = `ocular/tc.${edit.id}`;
    const inputs = { keepError: `tc.${edit.id}.keep_error`, scale: `tc.${edit.id}.scale`, positionMask: `tc.${edit.id}.position_mask` };
    const clamp = edit.clamp ? { mask: `tc.${edit.id}.clamp_mask`, value: `tc.${edit.id}.clamp_value` } : null;
    const perPosition = positionDims(outTap);
    graph.input.push(
      valueInfo(inputs.keepError, DataType.FLOAT, [1]),
      valueInfo(inputs.scale, DataType.FLOAT, [sae.dSae]),
      valueInfo(inputs.positionMask, DataType.FLOAT, perPosition),
    );
    addedInputs.push(...Object.values(inputs));
    if (clamp) {
      const dims = perPosition ? [...perPosition, sae.dSae] : null;
      graph.input.push(valueInfo(clamp.mask, DataType.FLOAT, dims), valueInfo(clamp.value, DataType.FLOAT, dims));
      addedInputs.push(clamp.mask, clamp.value);
    }
    const xf = castIn(xIn, elemIn, `${p}/in`, pos);
    const yf = castIn(y, elem, p, pos);
    const sg = new SaeGraph(sae, p);
    const { pre, gate } = sg.encodePre(xf);
    const code = sg.activate(pre, gate);
    const recon = sg.reconstruct(code, xf);
    newInits.push(int64Tensor(`${p}.last_axis`, [1], [-1]), floatTensor(`${p}.one`, [1], [1]));
    const nodes: NodeProto[] = [...sg.nodes];
    nodes.push(mkNode('Mul', [code, inputs.scale], [`${p}/scaled`], `${p}/Scale`));
    let edited = `${p}/scaled`;
    if (clamp) {
      // Clamp per position and feature: a1 + mask * (value - a1).
      nodes.push(
        mkNode('Sub', [clamp.value, edited], [`${p}/to_clamp`], `${p}/ClampGap`),
        mkNode('Mul', [clamp.mask, `${p}/to_clamp`], [`${p}/clamp_step`], `${p}/ClampStep`),
        mkNode('Add', [edited, `${p}/clamp_step`], [`${p}/clamped`], `${p}/Clamp`),
      );
      edited = `${p}/clamped`;
    }
    nodes.push(mkNode('Sub', [edited, code], [`${p}/code_delta`], `${p}/CodeDelta`));
    const encoded = sg.nodes.length;
    const delta = sg.decodeDifference(`${p}/code_delta`);
    nodes.push(...sg.nodes.slice(encoded));
    // y' = y + mask * (decode(f(z)) - decode(z) + (1 - keep) * (decode(z) - y)): keep 1 and f = identity add exactly 0.
    nodes.push(
      mkNode('Sub', [recon, yf], [`${p}/neg_error`], `${p}/NegError`),
      mkNode('Sub', [`${p}.one`, inputs.keepError], [`${p}/drop_error`], `${p}/DropError`),
      mkNode('Mul', [`${p}/neg_error`, `${p}/drop_error`], [`${p}/error_dropped`], `${p}/ErrorDropped`),
      mkNode('Add', [delta, `${p}/error_dropped`], [`${p}/change`], `${p}/Change`),
      mkNode('Unsqueeze', [inputs.positionMask, `${p}.last_axis`], [`${p}/pos_mask`], `${p}/PositionMask`),
      mkNode('Mul', [`${p}/change`, `${p}/pos_mask`], [`${p}/change_masked`], `${p}/ApplyMask`),
      mkNode('Add', [yf, `${p}/change_masked`], [`${p}/y_edited`], `${p}/Apply`),
    );
    for (const wt of sg.weights) external(`${wt.name}`, wt.dims, wt.data);
    for (const c of sg.ints) newInits.push(int64Tensor(c.name, [c.values.length], c.values));
    insert(pos, ...nodes);
    const out = castOut(`${p}/y_edited`, elem, p, pos);
    rewire(y, out, pos);
    current.set(y0, out);
  }

  for (const name of spec.steer ?? []) {
    const tap = need(name);
    const x0 = editedTensorOf(tap);
    const x = current.get(x0) ?? x0;
    const pos = positionOf(x);
    const elem = typeOf(x0)?.elemType ?? DataType.FLOAT;
    const p = `ocular/steer.${name}`;
    const input = `steer.${name}`;
    // Broadcast to the tap: [batch, seq, d] for a decoder, [patches, d] for packed vision tokens
    // (any rank where the graph does not give the tap's shape).
    const d = tap.width ?? 'd_model';
    const rank = tap.shape?.length;
    const steerDims = rank === 2 ? ['steer_seq', d] : rank === 3 ? ['steer_batch', 'steer_seq', d] : null;
    graph.input.push(valueInfo(input, DataType.FLOAT, steerDims));
    addedInputs.push(input);
    const xf = castIn(x, elem, p, pos);
    insert(pos, mkNode('Add', [xf, input], [`${p}/x_steered`], `${p}/Add`));
    const out = castOut(`${p}/x_steered`, elem, p, pos);
    rewire(x, out, pos);
    current.set(x0, out);
  }

  for (const name of spec.expose ?? []) {
    const tap = need(name);
    const x0 = tensorOf(tap);
    const x = current.get(x0) ?? x0;
    if (graph.output.some((o) => o.name === tap.name)) continue;
    insert(positionOf(x), mkNode('Identity', [x], [tap.name], `ocular/expose/${tap.name}`));
    const t = typeOf(x0);
    graph.output.push(valueInfo(tap.name, t?.elemType ?? DataType.FLOAT, tap.shape ?? null) as ValueInfoProto);
    addedOutputs.push(tap.name);
  }

  const outputs = new Set(graph.output.map((o) => o.name));
  for (const name of spec.exposeTensors ?? []) {
    if (outputs.has(name)) continue;
    const t = index.types.get(name);
    if (!graph.node.some((n) => n.output.includes(name)))
      throw new SurgeryError(`No node computes a tensor named '${name}'; it cannot be exposed.`);
    graph.output.push(valueInfo(name, t?.elemType ?? DataType.FLOAT, null) as ValueInfoProto);
    addedOutputs.push(name);
    outputs.add(name);
  }

  const placed: NodeProto[] = [...(after.get(-1) ?? [])];
  graph.node.forEach((n, i) => placed.push(n, ...(after.get(i) ?? [])));
  // An unfused norm reads the edited sum, which its edits define after it: restore graph order.
  const ordered = unfusedNorms.length > 0 ? topologicalOrder(graph, placed) : placed;
  graph.node = ordered;
  graph.initializer.push(...newInits);
  const ops = new Set(ordered.map((n) => `${n.domain}:${n.op_type}`));
  if (ops.has(':ScatterElements') || ops.has(':TopK')) ensureOpset(model, 13);

  validateModel(model, 'the edited graph');
  return { model, saeData: saeChunks.length > 0 ? Buffer.concat(saeChunks) : null, addedInputs, addedOutputs };
}

function ensureOpset(model: ModelProto, min: number): void {
  const onnx = model.opset_import.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!onnx) model.opset_import = [...model.opset_import, { domain: '', version: min }];
}

function checkSae(sae: SaeWeights): void {
  if (sae.dOut !== undefined)
    throw new SurgeryError(
      `A transcoder (d_in ${sae.dIn}, d_out ${sae.dOut}) cannot replace a single tap; splice SAEs, which reconstruct the tap they read.`,
    );
  try {
    checkSaeWeights(sae);
  } catch (err) {
    throw new SurgeryError((err as Error).message);
  }
}
