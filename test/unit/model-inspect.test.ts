import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { graph, model, node, valueInfo } from '../../src-main/core/onnx/builder';
import { writeModel } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';
import { inspectModel } from '../../src-main/core/model/inspect';
import { runCli } from '../helpers/cli';
import { tinyTransformer } from '../helpers/tiny-transformer';
import { gemmaGraphsDir, tmpDir } from '../helpers/tmp';

const GEMMA = gemmaGraphsDir();

function embedTokens(width: number) {
  return model(
    graph(
      'embed',
      [node('Gather', ['W', 'input_ids'], ['inputs_embeds'], 'embed')],
      [valueInfo('input_ids', DataType.INT64, ['b', 's'])],
      [valueInfo('inputs_embeds', DataType.FLOAT, ['b', 's', width])],
      [{ name: 'W', dims: [50, width], data_type: DataType.FLOAT, raw_data: new Uint8Array(50 * width * 4), external_data: [] }],
    ),
  );
}

function modelFolder(options: { embedWidth?: number; withEmbed?: boolean; withVision?: boolean } = {}): string {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, 'onnx'));
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ model_type: 'llava', architectures: ['LlavaForConditionalGeneration'] }),
  );
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{}');
  writeModel(tinyTransformer({ layers: 2, d: 16 }).model, path.join(dir, 'onnx', 'decoder_model_merged.onnx'));
  writeModel(tinyTransformer({ layers: 2, d: 16 }).model, path.join(dir, 'onnx', 'decoder_model_merged_fp16.onnx'));
  if (options.withEmbed ?? true) writeModel(embedTokens(options.embedWidth ?? 16), path.join(dir, 'onnx', 'embed_tokens.onnx'));
  if (options.withVision) {
    const v = tinyTransformer({ layers: 3, d: 8 }).model;
    v.graph.output = [valueInfo('logits', DataType.FLOAT, ['b', 'p', 24])];
    writeModel(v, path.join(dir, 'onnx', 'vision_encoder.onnx'));
  }
  return dir;
}

describe('model inspection', () => {
  it('reports the real Gemma-3 export: towers, widths, taps, variants, missing weights', () => {
    const report = inspectModel(GEMMA);
    expect(report.problems).toEqual([]);
    const decoder = report.components.find((c) => c.role === 'decoder')!;
    const vision = report.components.find((c) => c.role === 'vision_encoder')!;
    expect(decoder.tower).toMatchObject({ layers: 34, width: 2560 });
    expect(vision.tower).toMatchObject({ layers: 27, width: 1152, prefix: 'vision.' });
    expect(decoder.ops['com.microsoft.GroupQueryAttention']).toBe(34);
    expect(decoder.missingExternalData.length).toBeGreaterThan(0);
    expect(report.warnings.some((w) => w.startsWith('decoder_model_merged.onnx: weights not present'))).toBe(true);
  });

  it('groups dtype variants and reads config.json', () => {
    const report = inspectModel(modelFolder());
    expect(report.modelType).toBe('llava');
    const decoder = report.components.find((c) => c.role === 'decoder')!;
    expect(decoder.variants.map((v) => v.dtype).sort()).toEqual(['fp16', 'fp32']);
    expect(decoder.file).toBe(path.join('onnx', 'decoder_model_merged.onnx'));
    expect(report.problems).toEqual([]);
  });

  it('names the file and the problem: missing embed_tokens, mismatched widths, bad graph, no graphs', () => {
    const missing = inspectModel(modelFolder({ withEmbed: false, withVision: true }));
    expect(missing.problems.join('\n')).toMatch(/onnx\/vision_encoder.onnx is present but onnx\/embed_tokens.onnx is missing/);
    const mismatched = inspectModel(modelFolder({ embedWidth: 12 }));
    expect(mismatched.problems).toContain(
      'onnx/embed_tokens.onnx: outputs width 12 but onnx/decoder_model_merged.onnx expects inputs_embeds of width 16.',
    );
    const vision = inspectModel(modelFolder({ withVision: true }));
    expect(vision.problems).toContain(
      'onnx/vision_encoder.onnx: image features have width 24 but onnx/decoder_model_merged.onnx expects 16.',
    );
    const corrupt = modelFolder();
    fs.writeFileSync(path.join(corrupt, 'onnx', 'embed_tokens.onnx'), 'garbage bytes \u00ff\u00fe');
    expect(inspectModel(corrupt).problems.join('\n')).toMatch(/onnx\/embed_tokens.onnx: .*is not (a valid ONNX model|an ONNX model)/);
    expect(() => inspectModel(tmpDir())).toThrow(/is not a model folder: it has no .onnx files/);
  });

  it('`ocular model inspect` prints the report and JSON', async () => {
    const res = await runCli(['model', 'inspect', GEMMA]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/34 layers, width 2560/);
    expect(res.stdout).toMatch(/27 layers, width 1152/);
    const json = await runCli(['model', 'inspect', GEMMA, '--json']);
    const parsed = JSON.parse(json.stdout) as { components: Array<{ role: string; tower: { taps: Array<{ name: string }> } | null }> };
    const taps = parsed.components.find((c) => c.role === 'decoder')!.tower!.taps.map((t) => t.name);
    expect(taps).toContain('blocks.12.hook_resid_post');
  });
});
