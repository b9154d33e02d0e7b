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

  it('LLaVA-OneVision / LLaVA-NeXT are refused by name: anyres tiling and unpadding are not implemented', () => {
    for (const family of ['llava_onevision', 'llava_next'])
      expect(() => familySpec({ model_type: family }, {})).toThrow(
        `Model family '${family}' is not supported yet: its anyres tiling (image_grid_pinpoints) and feature unpadding are not implemented.`,
      );
    expect(() => familySpec({ model_type: 'mystery' }, {})).toThrow(/Model family 'mystery' is not supported yet \(supported: .*qwen3_5/);
  });
});
