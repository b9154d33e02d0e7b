/** Which graph file stands for a component of an export folder: fp32 first, else a dtype variant. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { componentGraph, splitVariant } from '../../src-main/core/model/graph-files';
import { qwen35GraphsDir } from '../helpers/tmp';

describe('component graph files', () => {
  it('reads dtype suffixes off file stems', () => {
    expect(splitVariant('decoder_model_merged_quantized')).toEqual({ base: 'decoder_model_merged', dtype: 'quantized' });
    expect(splitVariant('vision_encoder_q4f16')).toEqual({ base: 'vision_encoder', dtype: 'q4f16' });
    expect(splitVariant('embed_tokens')).toEqual({ base: 'embed_tokens', dtype: 'fp32' });
  });

  it('takes the fp32 graph when present, else the variant a transformers.js export ships (the real Qwen3.5 folder)', () => {
    const onnx = path.join(qwen35GraphsDir(), 'onnx');
    expect(componentGraph(onnx, 'decoder_model_merged')).toBe(path.join(onnx, 'decoder_model_merged_quantized.onnx'));
    expect(componentGraph(onnx, 'vision_encoder')).toBe(path.join(onnx, 'vision_encoder_quantized.onnx'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-graph-files-'));
    try {
      for (const f of ['embed_tokens_fp16.onnx', 'embed_tokens.onnx']) fs.writeFileSync(path.join(dir, f), '');
      expect(componentGraph(dir, 'embed_tokens')).toBe(path.join(dir, 'embed_tokens.onnx'));
      expect(componentGraph(dir, 'decoder_model_merged')).toBeNull();
      expect(componentGraph(path.join(dir, 'absent'), 'embed_tokens')).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
