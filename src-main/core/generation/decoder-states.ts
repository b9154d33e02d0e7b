/**
 * The recurrent state a decoder carries between steps, read from its graph: KV caches
 * (past_key_values.N.key/value -> present.N.key/value) and, for hybrid models, conv/recurrent states
 * (past_conv.N -> present_conv.N, past_ssm.N -> present_ssm.N, ...). Each state starts empty along
 * its growing (past) axis, or as zeros of its declared size when it has none.
 */
import { OcularError } from '../errors.js';
import { valueInfoType } from '../onnx/graph-index.js';
import type { GraphProto } from '../onnx/model-io.js';
import { DataType } from '../onnx/schema.js';

export interface StateSpec {
  input: string;
  output: string;
  type: 'float32' | 'float16';
  /** 'batch' takes the batch size, 'past' starts at 0 and grows; numbers are fixed sizes. */
  dims: Array<number | 'batch' | 'past'>;
}

export interface DecoderSignature {
  states: StateSpec[];
  positionIds: boolean;
}

export function presentName(pastName: string): string {
  return pastName.startsWith('past_key_values.')
    ? `present.${pastName.slice('past_key_values.'.length)}`
    : pastName.replace(/^past_/, 'present_');
}

export function decoderSignature(graph: GraphProto, label = 'decoder'): DecoderSignature {
  const outputs = new Set(graph.output.map((o) => o.name));
  const states: StateSpec[] = [];
  for (const input of graph.input) {
    if (!input.name.startsWith('past_')) continue;
    const t = valueInfoType(input);
    if (!t?.shape) throw new OcularError('invalid_request', `${label}: state input ${input.name} declares no shape.`);
    const output = presentName(input.name);
    if (!outputs.has(output))
      throw new OcularError('invalid_request', `${label}: state input ${input.name} has no matching output ${output}.`);
    if (t.elemType !== DataType.FLOAT && t.elemType !== DataType.FLOAT16)
      throw new OcularError(
        'invalid_request',
        `${label}: state ${input.name} has element type ${t.elemType}; only float32/float16 states are supported.`,
      );
    const dims = t.shape.map((d, i): StateSpec['dims'][number] => {
      if (typeof d === 'number') return d;
      if (i === 0) return 'batch';
      if (/past|seq|total/i.test(d)) return 'past';
      throw new OcularError('invalid_request', `${label}: cannot tell how to start dimension '${d}' of ${input.name}.`);
    });
    states.push({ input: input.name, output, type: t.elemType === DataType.FLOAT ? 'float32' : 'float16', dims });
  }
  return { states, positionIds: graph.input.some((i) => i.name === 'position_ids') };
}

/** Each state at its start: empty along its past axis, zeros of its fixed size otherwise. */
export function emptyStates(
  states: StateSpec[],
  batch: number,
): Record<string, { type: 'float32' | 'float16'; dims: number[]; data: Float32Array | Uint16Array }> {
  const out: Record<string, { type: 'float32' | 'float16'; dims: number[]; data: Float32Array | Uint16Array }> = {};
  for (const state of states) {
    const dims = state.dims.map((d) => (d === 'batch' ? batch : d === 'past' ? 0 : d));
    const size = dims.reduce((a, b) => a * b, 1);
    out[state.input] = { type: state.type, dims, data: state.type === 'float32' ? new Float32Array(size) : new Uint16Array(size) };
  }
  return out;
}
