/**
 * The ONNX protobuf schema (onnx.proto, proto2, IR version 10+) as a protobufjs JSON descriptor,
 * so it bundles with the code instead of being read from a .proto file at run time. Field numbers
 * follow the ONNX specification; every message Ocular may meet in a model is declared so that a
 * decode → encode round trip keeps every field.
 */
import protobuf from 'protobufjs';

const repeated = (type: string, id: number, packed?: boolean) => ({
  rule: 'repeated',
  type,
  id,
  ...(packed === undefined ? {} : { options: { packed } }),
});
const optional = (type: string, id: number) => ({ type, id });
const entries = (id: number) => repeated('StringStringEntryProto', id);

const descriptor = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: optional('string', 1),
            ref_attr_name: optional('string', 21),
            doc_string: optional('string', 13),
            type: optional('int32', 20),
            f: optional('float', 2),
            i: optional('int64', 3),
            s: optional('bytes', 4),
            t: optional('TensorProto', 5),
            g: optional('GraphProto', 6),
            sparse_tensor: optional('SparseTensorProto', 22),
            tp: optional('TypeProto', 14),
            floats: repeated('float', 7, false),
            ints: repeated('int64', 8, false),
            strings: repeated('bytes', 9),
            tensors: repeated('TensorProto', 10),
            graphs: repeated('GraphProto', 11),
            sparse_tensors: repeated('SparseTensorProto', 23),
            type_protos: repeated('TypeProto', 15),
          },
        },
        ValueInfoProto: {
          fields: {
            name: optional('string', 1),
            type: optional('TypeProto', 2),
            doc_string: optional('string', 3),
            metadata_props: entries(4),
          },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: optional('string', 3),
            op_type: optional('string', 4),
            domain: optional('string', 7),
            overload: optional('string', 8),
            attribute: repeated('AttributeProto', 5),
            doc_string: optional('string', 6),
            metadata_props: entries(9),
            device_configurations: repeated('NodeDeviceConfigurationProto', 10),
          },
        },
        IntIntListEntryProto: { fields: { key: optional('int64', 1), value: repeated('int64', 2, false) } },
        NodeDeviceConfigurationProto: {
          fields: {
            configuration_id: optional('string', 1),
            sharding_spec: repeated('ShardingSpecProto', 2),
            pipeline_stage: optional('int32', 3),
          },
        },
        ShardingSpecProto: {
          fields: {
            tensor_name: optional('string', 1),
            device: repeated('int64', 2, false),
            index_to_device_group_map: repeated('IntIntListEntryProto', 3),
            sharded_dim: repeated('ShardedDimProto', 4),
          },
        },
        ShardedDimProto: { fields: { axis: optional('int64', 1), simple_sharding: repeated('SimpleShardedDimProto', 2) } },
        SimpleShardedDimProto: {
          oneofs: { dim: { oneof: ['dim_value', 'dim_param'] } },
          fields: { dim_value: optional('int64', 1), dim_param: optional('string', 2), num_shards: optional('int64', 3) },
        },
        TrainingInfoProto: {
          fields: {
            initialization: optional('GraphProto', 1),
            algorithm: optional('GraphProto', 2),
            initialization_binding: entries(3),
            update_binding: entries(4),
          },
        },
        ModelProto: {
          fields: {
            ir_version: optional('int64', 1),
            opset_import: repeated('OperatorSetIdProto', 8),
            producer_name: optional('string', 2),
            producer_version: optional('string', 3),
            domain: optional('string', 4),
            model_version: optional('int64', 5),
            doc_string: optional('string', 6),
            graph: optional('GraphProto', 7),
            metadata_props: entries(14),
            training_info: repeated('TrainingInfoProto', 20),
            functions: repeated('FunctionProto', 25),
            configuration: repeated('DeviceConfigurationProto', 26),
          },
        },
        DeviceConfigurationProto: {
          fields: { name: optional('string', 1), num_devices: optional('int32', 2), device: repeated('string', 3) },
        },
        StringStringEntryProto: { fields: { key: optional('string', 1), value: optional('string', 2) } },
        TensorAnnotation: { fields: { tensor_name: optional('string', 1), quant_parameter_tensor_names: entries(2) } },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: optional('string', 2),
            initializer: repeated('TensorProto', 5),
            sparse_initializer: repeated('SparseTensorProto', 15),
            doc_string: optional('string', 10),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            value_info: repeated('ValueInfoProto', 13),
            quantization_annotation: repeated('TensorAnnotation', 14),
            metadata_props: entries(16),
          },
        },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1, false),
            data_type: optional('int32', 2),
            segment: optional('Segment', 3),
            float_data: repeated('float', 4, true),
            int32_data: repeated('int32', 5, true),
            string_data: repeated('bytes', 6),
            int64_data: repeated('int64', 7, true),
            name: optional('string', 8),
            doc_string: optional('string', 12),
            raw_data: optional('bytes', 9),
            external_data: entries(13),
            data_location: optional('int32', 14),
            double_data: repeated('double', 10, true),
            uint64_data: repeated('uint64', 11, true),
            metadata_props: entries(16),
          },
          nested: { Segment: { fields: { begin: optional('int64', 1), end: optional('int64', 2) } } },
        },
        SparseTensorProto: {
          fields: { values: optional('TensorProto', 1), indices: optional('TensorProto', 2), dims: repeated('int64', 3, false) },
        },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
              fields: { dim_value: optional('int64', 1), dim_param: optional('string', 2), denotation: optional('string', 3) },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensor_type', 'sequence_type', 'map_type', 'optional_type', 'sparse_tensor_type', 'opaque_type'] } },
          fields: {
            tensor_type: optional('Tensor', 1),
            sequence_type: optional('Sequence', 4),
            map_type: optional('Map', 5),
            optional_type: optional('Optional', 9),
            sparse_tensor_type: optional('SparseTensor', 8),
            opaque_type: optional('Opaque', 7),
            denotation: optional('string', 6),
          },
          nested: {
            Tensor: { fields: { elem_type: optional('int32', 1), shape: optional('TensorShapeProto', 2) } },
            Sequence: { fields: { elem_type: optional('TypeProto', 1) } },
            Map: { fields: { key_type: optional('int32', 1), value_type: optional('TypeProto', 2) } },
            Optional: { fields: { elem_type: optional('TypeProto', 1) } },
            SparseTensor: { fields: { elem_type: optional('int32', 1), shape: optional('TensorShapeProto', 2) } },
            Opaque: { fields: { domain: optional('string', 1), name: optional('string', 2) } },
          },
        },
        OperatorSetIdProto: { fields: { domain: optional('string', 1), version: optional('int64', 2) } },
        FunctionProto: {
          fields: {
            name: optional('string', 1),
            input: repeated('string', 4),
            output: repeated('string', 5),
            attribute: repeated('string', 6),
            attribute_proto: repeated('AttributeProto', 11),
            node: repeated('NodeProto', 7),
            doc_string: optional('string', 8),
            opset_import: repeated('OperatorSetIdProto', 9),
            domain: optional('string', 10),
            overload: optional('string', 13),
            value_info: repeated('ValueInfoProto', 12),
            metadata_props: entries(14),
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
export const ModelProtoType = root.lookupType('onnx.ModelProto');
export const TensorProtoType = root.lookupType('onnx.TensorProto');

/** ONNX TensorProto.DataType codes Ocular uses by name. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;

export const DATA_TYPE_NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  19: 'float8e5m2',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
};

/** Bits per element of each data type (strings have no fixed size). */
export const DATA_TYPE_BITS: Record<number, number> = {
  1: 32,
  2: 8,
  3: 8,
  4: 16,
  5: 16,
  6: 32,
  7: 64,
  9: 8,
  10: 16,
  11: 64,
  12: 32,
  13: 64,
  16: 16,
  17: 8,
  19: 8,
  21: 4,
  22: 4,
  23: 4,
};
