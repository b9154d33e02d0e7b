/**
 * Token embeddings during generation, remembered per token: the embedding graph is a lookup (a
 * Gather, perhaps scaled), so a token's row never changes, and decoding keeps producing the same
 * few tokens. Each step then runs the embedding graph only for tokens not seen before (often none),
 * instead of once per step. The cache holds at most `capacityBytes` of rows; past that, new rows
 * are used for their step and not kept.
 */
export type Embed = (tokenIds: number[]) => Promise<Float32Array>;

export function cachedEmbedding(run: Embed, capacityBytes = 64 * 1024 * 1024): Embed {
  const cache = new Map<number, Float32Array>();
  let width = 0;
  return async (ids) => {
    const fresh = new Map<number, Float32Array>();
    const missing = [...new Set(ids.filter((id) => !cache.has(id)))];
    if (missing.length) {
      const rows = await run(missing);
      width = rows.length / missing.length;
      missing.forEach((id, i) => {
        const row = rows.slice(i * width, (i + 1) * width);
        if ((cache.size + 1) * width * 4 <= capacityBytes) cache.set(id, row);
        else fresh.set(id, row);
      });
    }
    const out = new Float32Array(ids.length * width);
    ids.forEach((id, i) => out.set((cache.get(id) ?? fresh.get(id))!, i * width));
    return out;
  };
}
