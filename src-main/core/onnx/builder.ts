/**
 * Small helpers for building ONNX graphs in TypeScript: used by graph surgery (inserted nodes),
 * by SAE training graphs, and by tests that need a real, runnable model.
 */
import type { AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './model-io.js';
import { DataType } from './schema.js';

export const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

export type AttrValue = number | string | number[] | { tensor: TensorProto } | { graph: GraphProto } | { float: number };

export function attr(name: string, value: AttrValue): AttributeProto {
  if (typeof value === 'string') return { name, type: ATTR.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return Number.isInteger(value) ? { name, type: ATTR.INT, i: value } : { name, type: ATTR.FLOAT, f: value };
  if (Array.isArray(value))
    return value.every(Number.isInteger) ? { name, type: ATTR.INTS, ints: value } : { name, type: ATTR.FLOATS, floats: value };
  if ('float' in value) return { name, type: ATTR.FLOAT, f: value.float };
  if ('tensor' in value) return { name, type: ATTR.TENSOR, t: value.tensor };
  return { name, type: ATTR.GRAPH, g: value.graph };
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attrs: Record<string, AttrValue> = {},
  domain = '',
): NodeProto {
  return { op_type: opType, input: inputs, output: outputs, name, domain, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) };
}

export function valueInfo(name: string, elemType: number, shape: Array<number | string> | null): ValueInfoProto {
  const dims: Dimension[] | null = shape ? shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) : null;
  return { name, type: { tensor_type: { elem_type: elemType, ...(dims ? { shape: { dim: dims } } : {}) } } };
}

export function floatTensor(name: string, dims: number[], values: Float32Array | number[]): TensorProto {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`tensor ${name}: ${data.length} values for shape [${dims}] (${expected})`);
  return {
    name,
    dims,
    data_type: DataType.FLOAT,
    raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    external_data: [],
  };
}

export function int64Tensor(name: string, dims: number[], values: number[]): TensorProto {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims, data_type: DataType.INT64, raw_data: new Uint8Array(data.buffer), external_data: [] };
}

/** A tensor whose bytes live in an external data file (written separately). */
export function externalTensor(
  name: string,
  dims: number[],
  dataType: number,
  location: string,
  offset: number,
  length: number,
): TensorProto {
  return {
    name,
    dims,
    data_type: dataType,
    external_data: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ],
    data_location: 1,
  };
}

export function model(graph: GraphProto, opset = 21, extraOpsets: Array<{ domain: string; version: number }> = []): ModelProto {
  return {
    ir_version: 10,
    opset_import: [{ domain: '', version: opset }, ...extraOpsets],
    producer_name: 'ocular',
    producer_version: '0.1.0',
    graph,
    metadata_props: [],
  };
}

export function graph(
  name: string,
  nodes: NodeProto[],
  inputs: ValueInfoProto[],
  outputs: ValueInfoProto[],
  initializers: TensorProto[] = [],
  valueInfos: ValueInfoProto[] = [],
): GraphProto {
  return { name, node: nodes, input: inputs, output: outputs, initializer: initializers, value_info: valueInfos };
}
