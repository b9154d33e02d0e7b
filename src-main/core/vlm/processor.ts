/**
 * Image preprocessing, tokenization and chat templates through @huggingface/transformers'
 * processors, loaded from a local model folder only: remote loading is switched off, so nothing
 * here touches the network.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OcularError, errorMessage } from '../errors.js';
import { keepNativeOnnxRuntimeOut } from '../runtime/ort-boundary.js';

type TransformersModule = typeof import('@huggingface/transformers');
let transformers: Promise<TransformersModule> | null = null;

/**
 * Loaded lazily: the package is large and only model work needs it. Ocular never runs models
 * through it, so it is loaded without onnxruntime-node's native addon (see ort-boundary.ts).
 */
export function loadTransformers(): Promise<TransformersModule> {
  if (transformers) return transformers;
  keepNativeOnnxRuntimeOut();
  transformers = import('@huggingface/transformers').then((mod) => {
    mod.env.allowRemoteModels = false;
    mod.env.allowLocalModels = true;
    mod.env.useBrowserCache = false;
    mod.env.useFSCache = false;
    return mod;
  });
  return transformers;
}

/** A JSON object file in a model folder (null when absent); anything else is a one-line error naming it. */
function readJsonObject(dir: string, name: string): Record<string, any> | null {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) return null;
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new OcularError('invalid_request', `${dir}: ${name} is not valid JSON (${errorMessage(err)}).`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new OcularError(
      'invalid_request',
      `${dir}: ${name} must hold a JSON object, not ${Array.isArray(value) ? 'an array' : String(value)}.`,
    );
  return value as Record<string, any>;
}

/** processor_config.json (Gemma 3's image_seq_length, Idefics3's image_seq_len), {} when absent. */
export function readProcessorConfig(dir: string): Record<string, any> {
  return readJsonObject(path.resolve(dir), 'processor_config.json') ?? {};
}

/**
 * The largest image, in pixels, a processor may resize to: 4096 x 4096. Vision encoders take a few
 * hundred to a few thousand pixels a side; a preprocessor_config.json asking 20000 x 20000 would
 * make one item's pixel tensor alone 4.8 GB (float32 RGB), so it is refused.
 */
export const MAX_PROCESSOR_PIXELS = 4096 * 4096;

/** Why a preprocessor_config.json's image sizes are over the limit, or null. */
export function processorSizeProblem(pre: Record<string, any>): string | null {
  const checks: Array<[string, number]> = [];
  // Qwen2-VL's image processors keep pixel counts (min/max_pixels) in size.shortest_edge / longest_edge.
  const pixelCounts = /Qwen2VL/.test(String(pre.image_processor_type ?? ''));
  for (const key of ['size', 'crop_size', 'max_image_size']) {
    const v = pre[key];
    if (typeof v === 'number') checks.push([`${key} ${v}`, v * v]);
    else if (v && typeof v === 'object') {
      if (typeof v.height === 'number' && typeof v.width === 'number') checks.push([`${key} ${v.height}x${v.width}`, v.height * v.width]);
      for (const edge of ['shortest_edge', 'longest_edge'])
        if (typeof v[edge] === 'number') checks.push([`${key}.${edge} ${v[edge]}`, pixelCounts ? v[edge] : v[edge] * v[edge]]);
      if (typeof v.max_pixels === 'number') checks.push([`${key}.max_pixels ${v.max_pixels}`, v.max_pixels]);
    }
  }
  if (typeof pre.max_pixels === 'number') checks.push([`max_pixels ${pre.max_pixels}`, pre.max_pixels]);
  const over = checks.find(([, pixels]) => !(pixels <= MAX_PROCESSOR_PIXELS));
  return over
    ? `asks for images of ${over[0]} (${(over[1] / 1e6).toFixed(1)} megapixels), over Ocular's limit of ${(MAX_PROCESSOR_PIXELS / 1e6).toFixed(1)} megapixels (4096 x 4096)`
    : null;
}

export interface LoadedProcessor {
  // transformers.js processors are dynamically typed per family.
  processor: any;
  tokenizer: any;
  config: Record<string, any>;
}

async function loadTokenizer(mod: TransformersModule, id: string, abs: string): Promise<any> {
  if (!fs.existsSync(path.join(abs, 'tokenizer.json'))) return null;
  try {
    return await mod.AutoTokenizer.from_pretrained(id, { local_files_only: true });
  } catch (err) {
    throw new OcularError('invalid_request', `${abs}: could not load the tokenizer: ${errorMessage(err)}`);
  }
}

export async function loadProcessor(folder: string): Promise<LoadedProcessor> {
  const abs = path.resolve(folder);
  const configFile = path.join(abs, 'config.json');
  if (!fs.existsSync(configFile))
    throw new OcularError('invalid_request', `${abs}: config.json is missing, so the model family is unknown.`);
  const config = readJsonObject(abs, 'config.json')!;
  const sizeProblem = processorSizeProblem(readJsonObject(abs, 'preprocessor_config.json') ?? {});
  if (sizeProblem) throw new OcularError('invalid_request', `${abs}: preprocessor_config.json ${sizeProblem}`);
  const mod = await loadTransformers();
  // transformers.js resolves local models as <localModelPath>/<id>/<file>.
  mod.env.localModelPath = `${path.dirname(abs)}${path.sep}`;
  const id = path.basename(abs);
  let processor: any;
  try {
    processor = await mod.AutoProcessor.from_pretrained(id, { local_files_only: true });
  } catch (err) {
    throw new OcularError(
      'invalid_request',
      `${abs}: could not load the processor (preprocessor_config.json, tokenizer files): ${errorMessage(err)}`,
    );
  }
  // A processor transformers.js does not know (LLaVA-OneVision's) loads as a bare image processor: the tokenizer comes alone.
  const tokenizer =
    processor.tokenizer ??
    (processor.components ? await loadTokenizer(mod, id, abs).then((t) => (processor.components.tokenizer = t)) : null);
  if (!tokenizer) throw new OcularError('invalid_request', `${abs}: the processor has no tokenizer (tokenizer.json missing?).`);
  tokenizer.padding_side = 'left'; // generation appends on the right
  return { processor, tokenizer, config };
}

/**
 * Each token's text as it reads after a word, so shown token strings keep their spaces (word-level,
 * BPE and SentencePiece tokenizers alike): decode(reference + token) minus decode(reference).
 */
export function tokenTexts(tokenizer: any, ids: Iterable<number>): Map<number, string> {
  const reference = (tokenizer.encode('a', { add_special_tokens: false }) as number[])[0];
  const referenceText = reference === undefined ? '' : String(tokenizer.decode([reference], { skip_special_tokens: false }));
  const out = new Map<number, string>();
  for (const id of ids) {
    if (out.has(id)) continue;
    const alone = String(tokenizer.decode([id], { skip_special_tokens: false }));
    const after = reference === undefined ? alone : String(tokenizer.decode([reference, id], { skip_special_tokens: false }));
    out.set(id, reference !== undefined && after.startsWith(referenceText) ? after.slice(referenceText.length) : alone);
  }
  return out;
}
