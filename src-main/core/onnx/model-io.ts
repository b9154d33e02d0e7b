/**
 * Reading and writing ONNX models with protobufjs. Models over 2 GB keep their weights in external
 * data files; those are never opened here — only the graph file is decoded, and a rewritten graph
 * keeps pointing at the same external files.
 */
import fs from 'node:fs';
import path from 'node:path';
import type Long from 'long';
import { OcularError, errorMessage } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { DATA_TYPE_BITS, ModelProtoType } from './schema.js';

export type Int64 = number | Long;

export interface StringEntry {
  key: string;
  value: string;
}
export interface Dimension {
  dim_value?: Int64 | null;
  dim_param?: string | null;
}
export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim: Dimension[] } | null } | null;
}
export interface ValueInfoProto {
  name: string;
  type?: TypeProto | null;
  doc_string?: string;
}
export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto | null;
  g?: GraphProto | null;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  graphs?: GraphProto[];
}
export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  domain: string;
  attribute: AttributeProto[];
}
export interface TensorProto {
  name: string;
  dims: Int64[];
  data_type: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int64_data?: Int64[];
  int32_data?: number[];
  external_data: StringEntry[];
  data_location?: number;
}
export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info: ValueInfoProto[];
}
export interface OperatorSetId {
  domain: string;
  version: Int64;
}
export interface ModelProto {
  ir_version: Int64;
  opset_import: OperatorSetId[];
  producer_name: string;
  producer_version: string;
  graph: GraphProto;
  metadata_props: StringEntry[];
}

export function toNumber(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export function decodeModel(bytes: Uint8Array, source = 'model'): ModelProto {
  let model: ModelProto;
  try {
    model = ModelProtoType.decode(bytes) as unknown as ModelProto;
  } catch (err) {
    throw new OcularError('invalid_request', `${source} is not a valid ONNX model: ${errorMessage(err)}`);
  }
  if (!model.graph || model.graph.node.length === 0)
    throw new OcularError('invalid_request', `${source} is not an ONNX model: it has no graph.`);
  return model;
}

export function encodeModel(model: ModelProto): Uint8Array {
  const err = ModelProtoType.verify(model);
  if (err) throw new Error(`internal: produced an invalid ONNX model: ${err}`);
  return ModelProtoType.encode(model as never).finish();
}

/** Reads a graph file. Its external data (weights) stays on disk. */
export function readModel(file: string): ModelProto {
  if (!fs.existsSync(file)) throw new OcularError('not_found', `Model file not found: ${file}`);
  const bytes = fs.readFileSync(file);
  return decodeModel(bytes, file);
}

export function writeModel(model: ModelProto, file: string): void {
  writeFileAtomic(file, encodeModel(model));
}

/** Bytes a tensor's values take: the length its external-data record gives, else elements × dtype size. */
export function tensorBytes(t: TensorProto): number {
  const length = t.external_data?.find((e) => e.key === 'length')?.value;
  if (length !== undefined) return Number(length);
  const elements = t.dims.reduce((a: number, d) => a * toNumber(d), 1);
  const bits = DATA_TYPE_BITS[t.data_type];
  if (bits !== undefined) return Math.ceil((elements * bits) / 8);
  return t.raw_data?.length ?? 0;
}

/** The external data files a graph refers to, relative to the graph file's folder. */
export function externalDataLocations(model: ModelProto): string[] {
  const locations = new Set<string>();
  const visit = (graph: GraphProto) => {
    for (const t of graph.initializer) {
      const loc = t.external_data?.find((e) => e.key === 'location')?.value;
      if (loc) locations.add(loc);
    }
    for (const n of graph.node)
      for (const a of n.attribute) {
        if (a.g) visit(a.g);
        for (const g of a.graphs ?? []) visit(g);
      }
  };
  visit(model.graph);
  return [...locations];
}

/** Lists external data files a graph needs that are missing beside it. */
export function missingExternalData(model: ModelProto, graphFile: string): string[] {
  const dir = path.dirname(graphFile);
  return externalDataLocations(model).filter((loc) => !fs.existsSync(path.join(dir, loc)));
}
