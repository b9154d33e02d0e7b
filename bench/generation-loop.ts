/**
 * Ocular's generation (its own loop over sessions in the pool) against transformers.js's model
 * class for the same family, per family: the same tiny export, the same batch of images of several
 * sizes and aspect ratios, the same processed inputs (transformers.js's processors, items processed
 * one by one, as Ocular does), greedy decoding, and the same ONNX Runtime session options on both
 * sides (the pool's, runtime/session-options.ts: default thread counts, no spinning). Each side's
 * time runs from images and prompts to token ids.
 *
 * Fair and stable on a shared machine: warm-up rounds are not counted; rounds are interleaved in
 * ABBA order (ours first on even rounds, theirs first on odd), each round timing `REPS` batches per
 * side back to back, so load that drifts weighs on both alike; the ratio printed is the median of the
 * per-round ratios, with their range. Tokens must be identical in every round, warm-up included.
 * One prompt for the batch and images whose token counts agree, so no row is padded: transformers.js's
 * model classes diverge from PyTorch on left-padded batches (measured on these exports: tokens differ
 * from the third step), while Ocular's loop matches PyTorch there (test/unit/vlm-pipeline.test.ts).
 *
 * LLaVA-OneVision: transformers.js maps it to LlavaForConditionalGeneration and has no anyres processor, so
 * both sides take Ocular's anyres processor output (core/vlm/anyres.ts: all tiles as pixel_values, plus
 * pack_index / pack_weight, the packing plan the exported vision graph applies). The one adapter: the class's
 * generate() keeps only its forward_params of the inputs, so pack_index and pack_weight are appended to that
 * list on the loaded model; its encode_image then feeds them to the vision session with pixel_values (it picks
 * the session's declared inputs). Generate loop, merging and decoder calls are transformers.js's own, unchanged.
 * Without the adapter the class fails with "Missing the following inputs: pack_index, pack_weight".
 *   npm run bench:generation [-- rounds]   (BENCH_FAMILIES=a,b for a subset; BENCH_REPS, BENCH_NEW_TOKENS)
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SessionPool } from '../src-main/core/runtime/session-pool';
import { SESSION_OPTIONS } from '../src-main/core/runtime/session-options';
import { loadProcessor, type loadTransformers } from '../src-main/core/vlm/processor';
import { VlmPipeline, type VlmItem } from '../src-main/core/vlm/pipeline';
import { processItem, visionFeeds } from '../src-main/core/vlm/process-items';

// transformers.js's model classes run ONNX Runtime in this thread, so load it for real before the
// pipeline does: Ocular's own loader leaves onnxruntime-node out (core/runtime/ort-boundary.ts)
// unless this thread already has it.
const tf = await import('@huggingface/transformers');
tf.env.allowRemoteModels = false;

const root = process.cwd();
const rounds = Number(process.argv[2] ?? 61);
const WARMUP = 2;
const REPS = Number(process.env.BENCH_REPS ?? 1);
const NEW = Number(process.env.BENCH_NEW_TOKENS ?? 32);

/** Width x height per image: for Qwen, four shapes of the same 2x4 merged-token count; others resize to a square. */
const QWEN_SIZES: Array<[number, number]> = [
  [64, 32],
  [32, 64],
  [128, 16],
  [16, 128],
];
const SQUARE_SIZES: Array<[number, number]> = [
  [32, 32],
  [48, 32],
  [32, 64],
  [40, 40],
];

/** LLaVA-OneVision (32 px tiles): four sizes of one 2:1 aspect, all on the 1x2-tile pinpoint, so no row is padded. */
const ONEVISION_SIZES: Array<[number, number]> = [
  [64, 32],
  [48, 24],
  [56, 28],
  [40, 20],
];

/**
 * One entry per family: transformers.js's model class and the image sizes of its batch (two items per size);
 * `forward` names the processor's extra inputs the class must carry to its vision encoder (see the header).
 */
interface BenchFamily {
  className: string;
  sizes: Array<[number, number]>;
  forward?: string[];
}
const FAMILIES: Record<string, BenchFamily> = {
  llava: { className: 'LlavaForConditionalGeneration', sizes: SQUARE_SIZES },
  gemma3: { className: 'Gemma3ForConditionalGeneration', sizes: SQUARE_SIZES },
  idefics3: { className: 'Idefics3ForConditionalGeneration', sizes: SQUARE_SIZES },
  qwen2_5_vl: { className: 'Qwen2_5_VLForConditionalGeneration', sizes: QWEN_SIZES },
  qwen3_vl: { className: 'Qwen3VLForConditionalGeneration', sizes: QWEN_SIZES },
  qwen3_5: { className: 'Qwen3_5ForConditionalGeneration', sizes: QWEN_SIZES },
  llava_onevision: {
    className: 'LlavaOnevisionForConditionalGeneration',
    sizes: ONEVISION_SIZES,
    forward: ['pack_index', 'pack_weight'],
  },
};
/** BENCH_FAMILIES=qwen3_vl,qwen3_5 runs only those. */
const only = process.env.BENCH_FAMILIES?.split(',');

/** Two items per image size: coloured rectangles on grey, deterministic. */
function itemsOf(tf: Awaited<ReturnType<typeof loadTransformers>>, sizes: Array<[number, number]>): VlmItem[] {
  return [...sizes, ...sizes].map(([w, h], i) => {
    const data = new Uint8ClampedArray(w * h * 3).fill(128);
    for (let y = Math.floor(h / 4); y < Math.floor((3 * h) / 4); y++)
      for (let x = Math.floor(w / 4); x < Math.floor(w / 2) + (i % 3) * 4; x++) data.set([40 * i, 255 - 30 * i, 90], (y * w + x) * 3);
    return { image: new tf.RawImage(data, w, h, 3), prompt: 'describe the image .' };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const pool = new SessionPool({ hostEntry: path.join(root, 'out', 'node', 'session-host.mjs'), size: 2 });
for (const [family, { className, sizes, forward }] of Object.entries(FAMILIES).filter(([f]) => !only || only.includes(f))) {
  const dir = path.join(root, 'test', 'fixtures', 'vlm', `tiny-${family}`);
  const items = itemsOf(tf, sizes);
  const vlm = await VlmPipeline.load(dir, pool, 'cpu');
  tf.env.localModelPath = `${path.dirname(dir)}${path.sep}`;
  // Ocular's loader: transformers.js's AutoProcessor, plus the tokenizer where the processor comes without one (OneVision's).
  const { processor } = await loadProcessor(dir);
  const model: any = await (tf as any)[className].from_pretrained(path.basename(dir), {
    local_files_only: true,
    dtype: 'fp32',
    device: 'cpu',
    // The pool's own session options (threads, spinning): the same settings on both sides.
    session_options: SESSION_OPTIONS,
  });
  // The adapter (LLaVA-OneVision only): generate() keeps only the class's forward_params of its inputs, so
  // extra processor outputs would be dropped before the vision encoder, which feeds it whatever of them its
  // session declares. Listing them is the whole change; loop, merge and decoder calls stay transformers.js's.
  if (forward) model.forward_params.push(...forward);

  const ours = async () => (await vlm.generate(items, { maxNewTokens: NEW })).outputs.map((o) => o.tokenIds);
  const theirs = async () => {
    // The same preprocessing as Ocular's (transformers.js processors, one item at a time), then the model class.
    const processed = [];
    for (const item of items) {
      const images = (item.images ?? [item.image]) as Array<{ width: number; height: number }>;
      processed.push(await processItem(processor, vlm.family, images, vlm.chatText(item.prompt, images.length)));
    }
    const length = Math.max(...processed.map((p) => p.inputIds.length));
    const pad = Number(processor.tokenizer.pad_token_id ?? 0);
    const ids = processed.flatMap((p) => [...new Array<number>(length - p.inputIds.length).fill(pad), ...p.inputIds]);
    const mask = processed.flatMap((p) => [...new Array<number>(length - p.inputIds.length).fill(0), ...p.inputIds.map(() => 1)]);
    const inputs: Record<string, unknown> = {
      input_ids: new tf.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [items.length, length]),
      attention_mask: new tf.Tensor('int64', BigInt64Array.from(mask.map(BigInt)), [items.length, length]),
    };
    const feeds = visionFeeds(
      processed,
      [...Object.keys(processed[0]!.tensors)].filter((n) => !['input_ids', 'attention_mask'].includes(n)),
    );
    for (const [name, t] of Object.entries(feeds)) inputs[name] = new tf.Tensor(t.type as any, t.data as any, t.dims);
    const out = await model.generate({ ...inputs, max_new_tokens: NEW, do_sample: false });
    return (out.tolist() as bigint[][]).map((row) => {
      const generated = row.slice(length).map(Number);
      const eos = generated.findIndex((t) => vlm.eosTokenIds.includes(t));
      return eos === -1 ? generated : generated.slice(0, eos + 1);
    });
  };

  let identical = true;
  /** REPS batches back to back; the tokens of every batch are compared with the reference's. */
  const timed = async (run: () => Promise<number[][]>) => {
    let tokens: number[][] = [];
    const t0 = performance.now();
    for (let k = 0; k < REPS; k++) tokens = await run();
    return { tokens, s: (performance.now() - t0) / 1000 / REPS };
  };
  const ratios: number[] = [];
  const times = { ours: [] as number[], theirs: [] as number[] };
  for (let r = -WARMUP; r < rounds; r++) {
    // ABBA order: ours first on even rounds, theirs first on odd.
    let x: { tokens: number[][]; s: number };
    let y: { tokens: number[][]; s: number };
    if (r % 2 === 0) {
      x = await timed(ours);
      y = await timed(theirs);
    } else {
      y = await timed(theirs);
      x = await timed(ours);
    }
    identical &&= JSON.stringify(x.tokens) === JSON.stringify(y.tokens);
    if (process.env.BENCH_DEBUG) console.log(JSON.stringify(x.tokens), JSON.stringify(y.tokens));
    if (r < 0) continue; // warm-up: caches, JIT, ORT's first-run allocations
    const count = (rows: number[][]) => rows.reduce((n, row) => n + row.length, 0);
    ratios.push(count(x.tokens) / x.s / (count(y.tokens) / y.s));
    times.ours.push(x.s);
    times.theirs.push(y.s);
  }
  const sorted = [...ratios].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.round(q * (sorted.length - 1))]!.toFixed(2);
  console.log(`ratio ${family}: ${median(ratios).toFixed(2)}x (${identical ? 'tokens identical' : 'TOKENS DIFFER'})`);
  console.log(
    `  ${family}: median of ${rounds} interleaved rounds (${REPS} x ${items.length} x ${NEW} tokens per side each); ` +
      `per-round ratios ${at(0)}x..${at(1)}x, middle half ${at(0.25)}x..${at(0.75)}x; per batch Ocular ` +
      `${(median(times.ours) * 1000).toFixed(1)} ms, transformers.js ${(median(times.theirs) * 1000).toFixed(1)} ms`,
  );
  await model.dispose?.();
}
await pool.close();
