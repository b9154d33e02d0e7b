/**
 * Which graph file of an onnx-community export folder stands for a component: transformers.js exports
 * ship dtype variants beside (or instead of) the fp32 graph (`decoder_model_merged_quantized.onnx`,
 * `_fp16`, `_q4`, ...). One owner for the suffixes, read by inspection and by the pipeline alike.
 */
import fs from 'node:fs';
import path from 'node:path';

export const VARIANT_SUFFIXES: Array<[string, string]> = [
  ['_q4f16', 'q4f16'],
  ['_bnb4', 'bnb4'],
  ['_quantized', 'quantized'],
  ['_uint8', 'uint8'],
  ['_int8', 'int8'],
  ['_fp16', 'fp16'],
  ['_q4', 'q4'],
];

export function splitVariant(stem: string): { base: string; dtype: string } {
  for (const [suffix, dtype] of VARIANT_SUFFIXES) if (stem.endsWith(suffix)) return { base: stem.slice(0, -suffix.length), dtype };
  return { base: stem, dtype: 'fp32' };
}

/**
 * The graph file for component `base` in `onnxDir`: the fp32 graph when present, else the first dtype
 * variant in directory order (as inspection reports it); null when there is none.
 */
export function componentGraph(onnxDir: string, base: string): string | null {
  const plain = path.join(onnxDir, `${base}.onnx`);
  if (fs.existsSync(plain)) return plain;
  const files = fs.existsSync(onnxDir) ? fs.readdirSync(onnxDir).filter((f) => f.endsWith('.onnx')) : [];
  const variant = files.find((f) => splitVariant(path.basename(f, '.onnx')).base === base);
  return variant ? path.join(onnxDir, variant) : null;
}
