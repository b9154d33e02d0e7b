import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { graph, model, node, valueInfo } from '../../src-main/core/onnx/builder';
import { writeModel } from '../../src-main/core/onnx/model-io';
import { DataType } from '../../src-main/core/onnx/schema';
import { inspectModel } from '../../src-main/core/model/inspect';
import { SUPPORTED_FAMILIES } from '../../src-main/core/vlm/families';
import { runCli } from '../helpers/cli';
import { tinyTransformer } from '../helpers/tiny-transformer';
import { gemmaGraphsDir, qwen35GraphsDir, repoRoot, tmpDir } from '../helpers/tmp';

const GEMMA = gemmaGraphsDir();
const QWEN35 = qwen35GraphsDir();

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

  it('`ocular model inspect --json` on the real Qwen3.5 export lists 24 decoder blocks at width 1024 and 12 vision blocks at 768', async () => {
    const json = await runCli(['model', 'inspect', QWEN35, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as {
      components: Array<{
        role: string;
        tower: { layers: number; width: number; taps: Array<{ name: string }>; blockKinds: string[] } | null;
      }>;
    };
    const decoder = report.components.find((c) => c.role === 'decoder')!.tower!;
    const vision = report.components.find((c) => c.role === 'vision_encoder')!.tower!;
    expect([decoder.layers, decoder.width, vision.layers, vision.width]).toEqual([24, 1024, 12, 768]);
    const blocks = (t: { taps: Array<{ name: string }> }) => new Set(t.taps.map((x) => x.name.match(/blocks\.(\d+)\./)![1])).size;
    expect([blocks(decoder), blocks(vision)]).toEqual([24, 12]);
    expect(decoder.blockKinds.filter((k) => k === 'recurrent,mlp').length).toBe(18);
    const text = await runCli(['model', 'inspect', QWEN35]);
    expect(text.stdout).toMatch(/24 layers \(18 linear-attention\/recurrent \+ 6 attention\), width 1024/);
    expect(text.stdout).toMatch(/12 layers, width 768/);
  });

  it('states up front what Ocular can do with each family: generate, harvest, edit, with the reason', async () => {
    // The bundled demo (LLaVA family, all three graphs, a KV cache): everything.
    const demo = inspectModel(path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm'));
    expect(demo.capabilities).toEqual({
      generate: { ok: true, detail: 'llava: greedy and sampled generation' },
      harvest: { ok: true, detail: 'taps at 3 decoder blocks + 3 vision blocks (36 hooks)' },
      edit: { ok: true, detail: 'steering and SAE edits (error term kept) at decoder taps' },
    });
    // Qwen3.5: a family Ocular runs (tiny export below); the real export here is a graph-only copy, and says so.
    expect(SUPPORTED_FAMILIES).toContain('qwen3_5');
    const qwen = inspectModel(QWEN35).capabilities!;
    expect([qwen.generate.ok, qwen.harvest.ok, qwen.edit.ok]).toEqual([false, false, false]);
    expect(qwen.generate.detail).toMatch(
      /^the weights are not present \(decoder_model_merged_quantized\.onnx_data.*\): a graph-only copy$/,
    );
    expect(qwen.edit.detail).toMatch(/; graph surgery itself works on these graphs$/);
    expect(inspectModel(path.join(repoRoot, 'test', 'fixtures', 'vlm', 'tiny-qwen3_5')).capabilities).toEqual({
      generate: { ok: true, detail: 'qwen3_5: greedy and sampled generation' },
      harvest: { ok: true, detail: 'taps at 4 decoder blocks + 2 vision blocks (36 hooks)' },
      edit: { ok: true, detail: 'steering and SAE edits (error term kept) at decoder taps' },
    });
    // A supported family whose decoder was exported without its cache cannot generate, and says so.
    expect(inspectModel(modelFolder({ withVision: true, embedWidth: 16 })).capabilities!.generate).toEqual({
      ok: false,
      detail: 'onnx/decoder_model_merged.onnx has no cache inputs (past_*)',
    });
    const text = await runCli(['model', 'inspect', path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm')]);
    expect(text.stdout.split('\n').slice(2, 5)).toEqual([
      'generate    yes  llava: greedy and sampled generation',
      'harvest     yes  taps at 3 decoder blocks + 3 vision blocks (36 hooks)',
      'edit        yes  steering and SAE edits (error term kept) at decoder taps',
    ]);
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
