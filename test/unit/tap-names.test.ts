import { describe, expect, it } from 'vitest';
import { compareTaps, middleResidPost, parseTap, streamOf, tapName } from '../../src-main/contract/tap-names';

describe('tap names (one module, as TransformerLens get_act_name)', () => {
  it('builds and parses decoder and vision names, round trip', () => {
    expect(tapName(1, 'hook_resid_post')).toBe('blocks.1.hook_resid_post');
    expect(tapName(12, 'hook_mlp_out', 'vision')).toBe('vision.blocks.12.hook_mlp_out');
    for (const name of ['blocks.0.hook_resid_pre', 'vision.blocks.3.hook_attn_out', 'blocks.27.hook_mlp_in']) {
      const t = parseTap(name)!;
      expect(tapName(t.layer, t.hook, t.stream)).toBe(name);
      expect(streamOf(name)).toBe(t.stream);
    }
  });

  it('refuses names that are not taps', () => {
    for (const name of ['blocks.x.hook_resid_post', 'blocks.1', 'model.layers.1', 'vision.blocks.1.resid', ''])
      expect(parseTap(name)).toBeNull();
  });

  it('orders by layer numerically, then by name, and picks the middle residual stream', () => {
    const taps = ['blocks.10.hook_resid_post', 'blocks.2.hook_resid_post', 'blocks.2.hook_mlp_out', 'vision.blocks.1.hook_resid_post'];
    expect([...taps].sort(compareTaps)).toEqual([
      'vision.blocks.1.hook_resid_post',
      'blocks.2.hook_mlp_out',
      'blocks.2.hook_resid_post',
      'blocks.10.hook_resid_post',
    ]);
    expect(middleResidPost(5)).toBe('blocks.2.hook_resid_post');
  });
});
