/**
 * Decides how Ocular generates: transformers.js's model classes (sessions in the calling thread) vs
 * Ocular's own loop over sessions in the pool. Same tiny LLaVA export, same batch of 8 images, same
 * greedy decoding. Prints tokens/s for both and their ratio, measured in this run.
 *   scripts/run-ts.sh bench/generation-loop.ts [rounds]
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SessionPool } from '../src-main/core/runtime/session-pool';
import { VlmPipeline } from '../src-main/core/vlm/pipeline';

// transformers.js's model classes run ONNX Runtime in this thread, so load it for real before the
// pipeline does: Ocular's own loader leaves onnxruntime-node out (core/runtime/ort-boundary.ts)
// unless this thread already has it.
const tf = await import('@huggingface/transformers');

const root = process.cwd();
const dir = path.join(root, 'test', 'fixtures', 'vlm', 'tiny-llava');
const rounds = Number(process.argv[2] ?? 20);
const NEW = 16;
const items = Array.from({ length: 8 }, (_, i) => ({ image: path.join(dir, 'test-images', `${i}.png`), prompt: 'describe the image .' }));

const pool = new SessionPool({ hostEntry: path.join(root, 'out', 'node', 'session-host.mjs'), size: 2 });
const vlm = await VlmPipeline.load(dir, pool, 'cpu');
await vlm.generate(items, { maxNewTokens: NEW }); // warm up
let t0 = performance.now();
let ours = 0;
for (let r = 0; r < rounds; r++)
  ours += (await vlm.generate(items, { maxNewTokens: NEW })).outputs.reduce((n, o) => n + o.tokenIds.length, 0);
const oursS = (performance.now() - t0) / 1000;
await pool.close();

tf.env.allowRemoteModels = false;
tf.env.localModelPath = `${path.dirname(dir)}${path.sep}`;
const processor: any = await tf.AutoProcessor.from_pretrained(path.basename(dir), { local_files_only: true });
processor.tokenizer.padding_side = 'left';
const model: any = await (tf as any).LlavaForConditionalGeneration.from_pretrained(path.basename(dir), {
  local_files_only: true,
  dtype: 'fp32',
  device: 'cpu',
});
const images = await Promise.all(items.map((it) => tf.RawImage.read(it.image)));
const texts = items.map((it) => vlm.chatText(it.prompt));
await model.generate({ ...(await processor(images, texts, { padding: true })), max_new_tokens: NEW, do_sample: false });
t0 = performance.now();
let theirs = 0;
for (let r = 0; r < rounds; r++) {
  // Both sides do the whole job each round: preprocess, encode images, merge, generate.
  const inputs = await processor(await Promise.all(items.map((it) => tf.RawImage.read(it.image))), texts, { padding: true });
  const out = await model.generate({ ...inputs, max_new_tokens: NEW, do_sample: false });
  // Count tokens up to each row's end-of-sequence, as Ocular's loop does.
  const rows = out.tolist() as bigint[][];
  for (const row of rows) {
    const generated = row.slice(inputs.input_ids.dims[1]).map(Number);
    const eos = generated.findIndex((t) => vlm.eosTokenIds.includes(t));
    theirs += eos === -1 ? generated.length : eos + 1;
  }
}
const theirsS = (performance.now() - t0) / 1000;
console.log(`ocular loop (pool processes): ${(ours / oursS).toFixed(0)} tokens/s (${ours} tokens in ${oursS.toFixed(2)} s)`);
console.log(
  `transformers.js model class (in-thread): ${(theirs / theirsS).toFixed(0)} tokens/s (${theirs} tokens in ${theirsS.toFixed(2)} s)`,
);
console.log(`ratio ocular / transformers.js: ${(ours / oursS / (theirs / theirsS)).toFixed(2)}x`);
