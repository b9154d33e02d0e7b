import * as ort from 'onnxruntime-node';

export type Feeds = Record<string, { dims: number[]; data: Float32Array }>;
/** Float arrays, or any ort.Tensor (int64 ids, masks, bool flags). */
export type MixedFeeds = Record<string, { dims: number[]; data: Float32Array } | ort.Tensor>;

/** Runs a model file on CPU and returns float outputs by name. */
export async function runModel(file: string, feeds: MixedFeeds): Promise<Record<string, { dims: readonly number[]; data: Float32Array }>> {
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) inputs[name] = f instanceof ort.Tensor ? f : new ort.Tensor('float32', f.data, f.dims);
    const out = await session.run(inputs);
    const result: Record<string, { dims: readonly number[]; data: Float32Array }> = {};
    for (const [name, t] of Object.entries(out)) result[name] = { dims: t.dims, data: t.data as Float32Array };
    return result;
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
