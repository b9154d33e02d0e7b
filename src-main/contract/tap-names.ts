/**
 * Tap names, the one place they are built and read (as TransformerLens's `get_act_name` is):
 * `blocks.{layer}.{hook}` in the decoder, `vision.blocks.{layer}.{hook}` in the vision tower.
 * Records, SAEs (SAELens `hook_name`) and harvests keep these strings, so the format is fixed.
 * Pure code: the renderer imports it too.
 */

/** Which tower a tap is in; a harvest keeps one row index per tower ("stream"). */
export type Stream = 'decoder' | 'vision';

export const VISION_PREFIX = 'vision.';

/** The prefix of a tower's tap names ('' for the decoder). */
export function towerPrefix(stream: Stream): string {
  return stream === 'vision' ? VISION_PREFIX : '';
}

/** The name of a hook at a layer: tapName(1, 'hook_resid_post') is 'blocks.1.hook_resid_post'. */
export function tapName(layer: number, hook: string, stream: Stream = 'decoder'): string {
  return `${towerPrefix(stream)}blocks.${layer}.${hook}`;
}

export interface ParsedTap {
  stream: Stream;
  layer: number;
  hook: string;
}

const TAP = /^(vision\.)?blocks\.(\d+)\.(hook_\w+)$/;

/** A tap name's tower, layer and hook, or null when it is not a tap name. */
export function parseTap(name: string): ParsedTap | null {
  const m = TAP.exec(name);
  return m ? { stream: m[1] ? 'vision' : 'decoder', layer: Number(m[2]), hook: m[3]! } : null;
}

/** The tower a tap is in. */
export function streamOf(tap: string): Stream {
  return tap.startsWith(VISION_PREFIX) ? 'vision' : 'decoder';
}

/** The middle decoder block's residual stream: the default tap to harvest and check. */
export function middleResidPost(layers: number): string {
  return tapName(Math.floor(layers / 2), 'hook_resid_post');
}

/** Orders taps by layer, then by name (names that are not taps first). */
export function compareTaps(a: string, b: string): number {
  return (parseTap(a)?.layer ?? -1) - (parseTap(b)?.layer ?? -1) || a.localeCompare(b);
}
