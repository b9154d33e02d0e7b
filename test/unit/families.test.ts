/** Which families the pipeline runs, and the refusal for those it does not (named, never a wrong token layout). */
import { describe, expect, it } from 'vitest';
import { familySpec, SUPPORTED_FAMILIES } from '../../src-main/core/vlm/families';

describe('VLM families', () => {
  it('Qwen3.5 runs as Qwen3-VL does on the vision side: dynamic resolution, M-RoPE, 2x2 merge', () => {
    expect(SUPPORTED_FAMILIES).toContain('qwen3_5');
    const spec = familySpec({ model_type: 'qwen3_5', image_token_id: 7, vision_config: { spatial_merge_size: 2 } }, {});
    expect([spec.processorCall, spec.positions, spec.mergeSize, spec.imageTokenId]).toEqual(['qwen', 'mrope', 2, 7]);
    // A 48 x 32 px image of 6 x 4 patches: 3 x 2 tokens over the whole image.
    expect(spec.tiles({ width: 48, height: 32, grid: [1, 4, 6] })).toEqual([expect.objectContaining({ rows: 2, cols: 3 })]);
  });

  it('LLaVA-OneVision runs with anyres tiling; LLaVA-NeXT is refused by name: its anyres rules are not implemented', () => {
    expect(SUPPORTED_FAMILIES).toContain('llava_onevision');
    const spec = familySpec(
      {
        model_type: 'llava_onevision',
        image_token_index: 9,
        image_grid_pinpoints: [[384, 384]],
        vision_config: { image_size: 384, patch_size: 14 },
      },
      {},
    );
    expect([spec.processorCall, spec.positions, spec.anyres]).toEqual([
      'anyres',
      'mask',
      { tile: 384, patch: 14, grid: 27, pinpoints: [[384, 384]], maxPatches: 9 },
    ]);
    expect(() => familySpec({ model_type: 'llava_next' }, {})).toThrow(
      `Model family 'llava_next' is not supported yet: its anyres tiling (image_grid_pinpoints) and feature unpadding are not implemented.`,
    );
    expect(() => familySpec({ model_type: 'mystery' }, {})).toThrow(/Model family 'mystery' is not supported yet \(supported: .*qwen3_5/);
  });
});
