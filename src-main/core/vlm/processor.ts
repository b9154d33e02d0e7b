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

export interface LoadedProcessor {
  // transformers.js processors are dynamically typed per family.
  processor: any;
  tokenizer: any;
  config: Record<string, any>;
}

export async function loadProcessor(folder: string): Promise<LoadedProcessor> {
  const abs = path.resolve(folder);
  const configFile = path.join(abs, 'config.json');
  if (!fs.existsSync(configFile))
    throw new OcularError('invalid_request', `${abs}: config.json is missing, so the model family is unknown.`);
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, any>;
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
  const tokenizer = processor.tokenizer;
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
