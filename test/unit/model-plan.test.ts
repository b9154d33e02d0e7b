/**
 * `ocular model plan` and the `models.plan` channel against numbers computed by hand from the real
 * exports' configs and shapes (no weights are present, none are needed).
 */
import { describe, expect, it } from 'vitest';
import { modelPlanOptionsSchema, type ModelPlan } from '../../src-main/contract/contract';
import { inspectModel } from '../../src-main/core/model/inspect';
import { planModel } from '../../src-main/core/model/plan';
import { backendWithWorkspace } from '../helpers/backend';
import { runCli } from '../helpers/cli';
import { gemmaGraphsDir, qwen35GraphsDir } from '../helpers/tmp';

const QWEN35 = qwen35GraphsDir();
const GEMMA = gemmaGraphsDir();
const plan = (dir: string, options: Record<string, unknown>) => planModel(inspectModel(dir), modelPlanOptionsSchema.parse(options));

describe('planning for real sizes from graph and config alone', () => {
  it('Qwen3.5-0.8B (int8, hybrid): weights by dtype, KV + conv + recurrent caches, prefill logits, harvest', () => {
    const p = plan(QWEN35, {
      batch: 2,
      context: 1000,
      tokens: 1000,
      taps: ['blocks.12.hook_resid_post', 'vision.blocks.5.hook_resid_post'],
    });
    // int8 matrices, from config shapes: per linear-attention layer in_proj_qkv 1024x6144, z 1024x2048, b and a
    // 1024x16, out_proj 2048x1024, MLP 3 x 1024x3584 = 21,528,576; per full-attention layer q 1024x4096,
    // k and v 1024x512, o 2048x1024, MLP = 18,350,080; lm_head 1024x248320. Plus one uint8 zero point per
    // MatMulInteger: 18 x 8 + 6 x 7 + 1 = 187.
    const decoder = p.weights.components.find((c) => c.role === 'decoder')!;
    expect(decoder.byDtype.uint8).toBe(18 * 21_528_576 + 6 * 18_350_080 + 1024 * 248_320 + 187);
    // float32: norms (input, post-attention: 1024 each; q/k norms 256; final 1024), conv1d weights stored twice
    // (6144x4 and 6144x1x4), then inline: 187 scales, A_neg_exp and dt_bias (16 each) and the gated norm (128)
    // per linear layer, inv_freq (32) and four scalar constants.
    const externalF32 = 18 * (2 * 1024 + 2 * 6144 * 4) + 6 * (2 * 1024 + 2 * 256) + 1024;
    expect(decoder.byDtype.float32).toBe(4 * (externalF32 + 187 + 18 * (16 + 16 + 128) + 32 + 4));
    expect(p.weights.components.find((c) => c.role === 'embed_tokens')!.byDtype.uint8).toBe(248_320 * 1024 + 1);
    // KV: 2 . 6 full-attention layers . 2 kv heads . 256 head_dim . T . B . 4 bytes; states do not grow.
    const group = (name: string) => p.caches.groups.find((g) => g.name === name)!;
    expect(group('past_key_values.*.key').bytes + group('past_key_values.*.value').bytes).toBe(2 * 6 * 2 * 256 * 1000 * 2 * 4);
    expect(group('past_conv.*')).toMatchObject({ tensors: 18, shape: [2, 6144, 4], grows: false, bytes: 18 * 2 * 6144 * 4 * 4 });
    expect(group('past_recurrent.*')).toMatchObject({ tensors: 18, shape: [2, 16, 128, 128], bytes: 18 * 2 * 16 * 128 * 128 * 4 });
    expect(p.caches.bytes).toBe(49_152_000 + 3_538_944 + 37_748_736);
    // The export returns logits for every position: B . T . vocab . 4.
    expect(p.prefillLogitsBytes).toBe(2 * 1000 * 248_320 * 4);
    expect(p.memoryBytes).toBe(p.weights.bytes + p.caches.bytes + p.prefillLogitsBytes);
    expect(p.harvest).toEqual({
      bytes: 1000 * 1024 * 2 + 1000 * 768 * 2,
      dtype: 'fp16',
      tokens: 1000,
      taps: [
        { name: 'blocks.12.hook_resid_post', width: 1024, bytes: 1000 * 1024 * 2 },
        { name: 'vision.blocks.5.hook_resid_post', width: 768, bytes: 1000 * 768 * 2 },
      ],
    });
    // config.json agrees with the graph's cache inputs, so nothing is noted.
    expect(p.notes).toEqual([]);
  });

  it('Gemma-3-4B-it (fp32, no config.json): weights, KV for 34 layers, last-position logits, fits or not', () => {
    const p = plan(GEMMA, {
      batch: 2,
      context: 1024,
      tokens: 10_000,
      taps: ['blocks.20.hook_resid_post', 'vision.blocks.10.hook_resid_post'],
      harvestDtype: 'fp32',
      gpuGiB: 24,
    });
    // Per layer: q 2560x2048, k and v 2560x1024, o 2048x2560, gate/up/down 3 x 2560x10240, four norms of 2560 and
    // q/k norms of 256 = 94,382,592 values; 34 layers, the final norm, the untied lm_head 2560x262208, and the
    // rotary cos/sin caches for the local and global bases (4 x 131072 x 128); two scalar constants.
    const decoderValues = 34 * 94_382_592 + 2560 + 2560 * 262_208 + 4 * 131_072 * 128 + 2;
    expect(p.weights.components.find((c) => c.role === 'decoder')!.byDtype.float32).toBe(4 * decoderValues);
    expect(p.weights.components.find((c) => c.role === 'embed_tokens')!.bytes).toBe(262_208 * 2560 * 4);
    expect(p.caches.groups.map((g) => [g.name, g.tensors, g.shape, g.grows])).toEqual([
      ['past_key_values.*.key', 34, [2, 4, 1024, 256], true],
      ['past_key_values.*.value', 34, [2, 4, 1024, 256], true],
    ]);
    expect(p.caches.bytes).toBe(2 * 34 * 4 * 256 * 1024 * 2 * 4);
    // num_logits_to_keep: only the last position's logits.
    expect(p.prefillLogitsBytes).toBe(2 * 262_208 * 4);
    expect(p.harvest.bytes).toBe(10_000 * 2560 * 4 + 10_000 * 1152 * 4);
    expect(p.fits).toBe(true);
    expect(plan(GEMMA, { gpuGiB: 16 }).fits).toBe(false);
  });

  it('defaults to the middle decoder block and refuses unknown taps and variants by name', () => {
    expect(plan(QWEN35, {}).harvest.taps.map((t) => t.name)).toEqual(['blocks.12.hook_resid_post']);
    expect(() => plan(QWEN35, { taps: ['blocks.24.hook_resid_post'] })).toThrow(
      /Unknown tap 'blocks.24.hook_resid_post'. This model's taps look like blocks.0.hook_resid_post, blocks.1.hook_resid_post/,
    );
    expect(() => plan(QWEN35, { variant: 'fp16' })).toThrow(
      /decoder_model_merged_quantized.onnx: no fp16 variant \(this model has quantized\)/,
    );
    expect(plan(QWEN35, { variant: 'quantized' }).weights.bytes).toBe(plan(QWEN35, {}).weights.bytes);
  });

  it('`ocular model plan` prints the plan, and its --json matches the core', async () => {
    const args = [
      '--batch',
      '2',
      '--context',
      '1000',
      '--tokens',
      '1000',
      '--taps',
      'blocks.12.hook_resid_post,vision.blocks.5.hook_resid_post',
    ];
    const json = await runCli(['model', 'plan', QWEN35, ...args, '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as ModelPlan;
    expect(parsed.caches.bytes).toBe(90_439_680);
    expect(parsed.harvest.bytes).toBe(3_584_000);
    const text = await runCli(['model', 'plan', QWEN35, ...args, '--gpu', '24']);
    expect(text.stdout).toMatch(/past_recurrent\.\*\s+36\.0 MiB {2}18 × \[2, 16, 128, 128\] float32/);
    expect(text.stdout).toMatch(/memory {6}[\d.]+ GiB {2}weights \+ caches \+ prefill logits: fits in 24 GiB/);
    const bad = await runCli(['model', 'plan', QWEN35, '--batch', '0']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--batch: /);
  });

  it('the models.plan channel plans a registered model in a worker thread', async () => {
    const b = await backendWithWorkspace();
    const added = await b.invoke('models.add', { path: QWEN35 });
    if (!added.ok) throw new Error(added.error.message);
    const id = (added.result as { id: number }).id;
    const res = await b.invoke('models.plan', { id, batch: 2, context: 1000, tokens: 1000, taps: ['blocks.12.hook_resid_post'] });
    if (!res.ok) throw new Error(res.error.message);
    const p = res.result as ModelPlan;
    expect(p.caches.bytes).toBe(90_439_680);
    expect(p.harvest.bytes).toBe(1000 * 1024 * 2);
    const refused = await b.invoke('models.plan', { id, taps: ['blocks.99.hook_resid_post'] });
    expect(refused.ok).toBe(false);
    const invalid = await b.invoke('models.plan', { id, batch: -1 });
    expect(invalid.ok).toBe(false);
  });
});
