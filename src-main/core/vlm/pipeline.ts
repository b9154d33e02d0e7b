/**
 * The VLM pipeline for onnx-community exports: processor (transformers.js) -> vision encoder and token
 * embedding (session pool) -> image features merged into the prompt at the image tokens -> our own
 * generation loop over the decoder. Every prompt token gets metadata (image or text, and for image
 * tokens the image and patch row/column), which harvesting and the feature browser build on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OcularError } from '../errors.js';
import { promptOpensThinking } from '../eval/answer-text.js';
import type { ExtractOptions } from '../eval/extract.js';
import { positionsFromMask, type GenerateResult } from '../generation/generate.js';
import { mergeImageFeatures } from '../generation/prefix.js';
import { decoderSignature, emptyStates, type DecoderSignature } from '../generation/decoder-states.js';
import { componentGraph } from '../model/graph-files.js';
import { readModel } from '../onnx/model-io.js';
import type { Device, HostGenerateOptions, WireTensor } from '../runtime/pool-protocol.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import { familySpec, type FamilySpec, type ProcessedImage } from './families.js';
import { appendMrope, mropePositions, type MropePositions } from './mrope.js';
import { imageTokens, visionTokens, type Box, type ImageTokenMeta } from './patch-layout.js';
import { processItem, visionFeeds, type ProcessedItem } from './process-items.js';
import { loadProcessor, loadTransformers, type LoadedProcessor } from './processor.js';

export interface TokenInfo {
  tokenId: number;
  modality: 'image' | 'text' | 'pad';
  /** Index of the image within the batch item (image tokens only). */
  image: number | null;
  /** The image's tile (anyres / image splitting; 0 for a single view); null for text. */
  tile: number | null;
  /** Cell in the tile's token grid; null for image tokens outside the grid (CLS) and for text. */
  patchRow: number | null;
  patchCol: number | null;
  /** The pixels of the original image the token stands for: [x0, y0, x1, y1]; null for text. */
  box: Box | null;
}

export interface VlmItem {
  /** Image file path (inside the dataset) or an already loaded transformers.js RawImage. */
  image?: string | unknown;
  /** Several images for one prompt (families that take them; see FamilySpec.maxImagesPerItem). */
  images?: Array<string | unknown>;
  prompt: string;
}

/** A batch's prompts laid out: ids, masks, per-token metadata and vision inputs, before any model runs. */
export interface PromptLayout {
  batch: number;
  length: number;
  attentionMask: Uint8Array;
  inputIds: number[][];
  tokens: TokenInfo[][];
  texts: string[];
  /** Per item, the vision encoder's inputs (empty without images), for running edited (tapped) vision graphs. */
  visionFeeds: Array<Record<string, WireTensor>>;
  /** The vision encoder's inputs for all the batch's images at once (null without images). */
  batchVisionFeeds: Record<string, WireTensor> | null;
  /** Per item, its image tokens' metadata in the order the vision encoder returns their features. */
  imageMeta: ImageTokenMeta[][];
  /** Per item, what the processor made of each image (sizes, Qwen grids, Idefics3 splits). */
  images: ProcessedImage[][];
  /** Qwen's M-RoPE positions, when the family uses them. */
  mrope?: MropePositions;
}

/** A layout with its input embeddings (image features merged at the image tokens), [batch, length, width]. */
export interface PreparedPrefix extends PromptLayout {
  embeds: Float32Array;
  width: number;
}

export interface GenerationOutput {
  text: string;
  tokenIds: number[];
  finishReason: 'eos' | 'length';
}

/**
 * LLaVA-OneVision's packing (unpad, downsample, image_newline per row) needs the newline vector, which
 * a plain per-tile vision export does not hold; Ocular's layout has the vision graph apply the plan
 * (anyres.ts) given as pack_index / pack_weight inputs, as tools/tiny_vlm_llava_onevision.py exports it.
 */
function checkPackingGraph(file: string): void {
  const inputs = new Set(readModel(file).graph.input.map((i) => i.name));
  if (!inputs.has('pack_index') || !inputs.has('pack_weight'))
    throw new OcularError(
      'invalid_request',
      `${file}: a llava_onevision vision graph without pack_index / pack_weight inputs: packing a plain per-tile export (unpadding, anyres_max downsampling, image_newline) is not implemented.`,
    );
}

const NO_IMAGE = { image: null, tile: null, patchRow: null, patchCol: null, box: null };

export class VlmPipeline {
  private constructor(
    readonly files: { vision: string; embed: string; decoder: string },
    readonly folder: string,
    private readonly pool: PoolClient,
    private readonly loaded: LoadedProcessor,
    readonly family: FamilySpec,
    private readonly sessions: { vision: SessionHandle; embed: SessionHandle; decoder: SessionHandle },
    readonly decoder: DecoderSignature,
    readonly eosTokenIds: number[],
    readonly device: Device,
  ) {}

  static async load(folder: string, pool: PoolClient, device: Device = 'auto'): Promise<VlmPipeline> {
    const abs = path.resolve(folder);
    const onnx = (name: string) => {
      const file = componentGraph(path.join(abs, 'onnx'), name);
      if (!file) throw new OcularError('invalid_request', `${abs}: onnx/${name}.onnx (or a dtype variant of it) is missing.`);
      return file;
    };
    const files = { vision: onnx('vision_encoder'), embed: onnx('embed_tokens'), decoder: onnx('decoder_model_merged') };
    const loaded = await loadProcessor(abs);
    const processorConfigFile = path.join(abs, 'processor_config.json');
    const processorConfig = fs.existsSync(processorConfigFile)
      ? (JSON.parse(fs.readFileSync(processorConfigFile, 'utf8')) as Record<string, unknown>)
      : {};
    const family = familySpec(loaded.config, processorConfig);
    if (family.anyres) checkPackingGraph(files.vision);
    const decoder = decoderSignature(readModel(files.decoder).graph, files.decoder);
    if (decoder.states.length === 0)
      throw new OcularError('invalid_request', `${files.decoder}: no past_* state inputs; Ocular needs a decoder exported with its cache.`);
    // Together: generation builds its prefix where the decoder runs (see generate()).
    const [dec, embed, vision] = await pool.loadTogether([files.decoder, files.embed, files.vision], device);
    const generationFile = path.join(abs, 'generation_config.json');
    const generation = fs.existsSync(generationFile)
      ? (JSON.parse(fs.readFileSync(generationFile, 'utf8')) as { eos_token_id?: number | number[] })
      : {};
    const eos =
      generation.eos_token_id ?? loaded.config.text_config?.eos_token_id ?? loaded.config.eos_token_id ?? loaded.tokenizer.eos_token_id;
    const eosTokenIds = (Array.isArray(eos) ? eos : eos === undefined || eos === null ? [] : [eos]).map(Number);
    return new VlmPipeline(
      files,
      abs,
      pool,
      loaded,
      family,
      { vision: vision!, embed: embed!, decoder: dec! },
      decoder,
      eosTokenIds,
      device,
    );
  }

  /** Feeds for one full forward pass of a decoder graph over a prefix (empty states). */
  prefillFeeds(
    prefix: Pick<PreparedPrefix, 'embeds' | 'batch' | 'length' | 'width' | 'attentionMask' | 'mrope'>,
  ): Record<string, WireTensor> {
    const { batch, length, width } = prefix;
    const feeds: Record<string, WireTensor> = {
      inputs_embeds: { type: 'float32', dims: [batch, length, width], data: prefix.embeds },
      attention_mask: { type: 'int64', dims: [batch, length], data: BigInt64Array.from(prefix.attentionMask, (m) => BigInt(m)) },
    };
    if (this.decoder.positionIds)
      feeds.position_ids = prefix.mrope
        ? { type: 'int64', dims: [3, batch, length], data: prefix.mrope.ids }
        : { type: 'int64', dims: [batch, length], data: positionsFromMask(prefix.attentionMask, batch, length).positions };
    return { ...feeds, ...emptyStates(this.decoder.states, batch) };
  }

  /** Token ids of plain text (no special tokens): reference answers for teacher-forced passes. */
  tokenize(text: string): number[] {
    return Array.from(this.loaded.tokenizer.encode(text, { add_special_tokens: false }) as number[], Number);
  }

  /**
   * A prefix with each row's extra tokens appended after its prompt (right side), for one
   * teacher-forced pass; rows are padded to the longest continuation with masked-out positions.
   */
  async appendTokens(prefix: PreparedPrefix, extra: number[][]): Promise<{ prefix: PreparedPrefix; extraLength: number }> {
    const longest = Math.max(0, ...extra.map((e) => e.length));
    if (longest === 0) return { prefix, extraLength: 0 };
    const padded = extra.map((e) => [...e, ...new Array<number>(longest - e.length).fill(this.eosTokenIds[0] ?? 0)]);
    const extraEmbeds = await this.embedTokens(padded);
    const length = prefix.length + longest;
    const embeds = new Float32Array(prefix.batch * length * prefix.width);
    const mask = new Uint8Array(prefix.batch * length);
    for (let r = 0; r < prefix.batch; r++) {
      embeds.set(
        prefix.embeds.subarray(r * prefix.length * prefix.width, (r + 1) * prefix.length * prefix.width),
        r * length * prefix.width,
      );
      embeds.set(
        extraEmbeds.subarray(r * longest * prefix.width, (r + 1) * longest * prefix.width),
        (r * length + prefix.length) * prefix.width,
      );
      mask.set(prefix.attentionMask.subarray(r * prefix.length, (r + 1) * prefix.length), r * length);
      mask.fill(1, r * length + prefix.length, r * length + prefix.length + extra[r]!.length);
    }
    const mrope = prefix.mrope && appendMrope(prefix.mrope, prefix.batch, prefix.length, longest);
    return { prefix: { ...prefix, embeds, attentionMask: mask, length, ...(mrope ? { mrope } : {}) }, extraLength: longest };
  }

  /** The chat-templated prompt for a question about `images` images (shown before the question). */
  chatText(prompt: string, images = 1): string {
    const content = [...Array.from({ length: images }, () => ({ type: 'image' })), { type: 'text', text: prompt }];
    return this.loaded.tokenizer.apply_chat_template([{ role: 'user', content }], {
      tokenize: false,
      add_generation_prompt: true,
    }) as string;
  }

  /**
   * How answers to this prompt are extracted: a chat template whose generation prompt opens <think>
   * makes every output start inside the thinking.
   */
  extractOptions(prompt: string, images = 1): ExtractOptions {
    return { thinkingOpen: promptOpensThinking(this.chatText(prompt, images)) };
  }

  async embedTokens(ids: number[][]): Promise<Float32Array> {
    const rows = ids.length;
    const cols = ids[0]?.length ?? 0;
    const out = await this.pool.run(await this.pool.load(this.files.embed, this.device), {
      input_ids: { type: 'int64', dims: [rows, cols], data: BigInt64Array.from(ids.flat().map(BigInt)) },
    });
    return out.inputs_embeds!.data as Float32Array;
  }

  /**
   * The batch's prompts laid out without running a model: processed one item at a time (processors
   * differ in whether and on which side they pad; generation needs left padding, done here), token
   * ids, per-token metadata, M-RoPE positions and the vision encoder's inputs.
   */
  async layout(items: VlmItem[]): Promise<PromptLayout> {
    const { RawImage } = await loadTransformers();
    const texts: string[] = [];
    const processed: ProcessedItem[] = [];
    for (const item of items) {
      const sources = item.images ?? (item.image === undefined ? [] : [item.image]);
      const images = [];
      for (const src of sources) images.push(typeof src === 'string' ? await RawImage.read(src) : src);
      const text = this.chatText(item.prompt, images.length);
      texts.push(text);
      processed.push(await processItem(this.loaded.processor, this.family, images as Array<{ width: number; height: number }>, text));
    }
    const batch = items.length;
    const length = Math.max(...processed.map((p) => p.inputIds.length));
    const padId = Number(this.loaded.tokenizer.pad_token_id ?? 0);
    const inputIds = processed.map((p) => [...new Array<number>(length - p.inputIds.length).fill(padId), ...p.inputIds]);
    const attentionMask = new Uint8Array(batch * length);
    processed.forEach((p, i) => attentionMask.fill(1, i * length + (length - p.inputIds.length), (i + 1) * length));
    const imageMeta = processed.map((p) =>
      p.images.flatMap((image, j) => this.family.imageTokens?.(j, image) ?? imageTokens(j, this.family.tiles(image))),
    );
    const tokens = inputIds.map((ids, r) => this.describeTokens(ids, length - processed[r]!.inputIds.length, imageMeta[r]!, r));
    const mrope =
      this.family.positions === 'mrope'
        ? mropePositions({
            inputIds,
            attentionMask,
            grids: processed.flatMap((p) => p.images.map((im) => im.grid!)),
            imageTokenId: this.family.imageTokenId,
            mergeSize: this.family.mergeSize,
          })
        : undefined;
    const names = this.sessions.vision.inputNames;
    const withImages = processed.filter((p) => p.images.length > 0);
    return {
      batch,
      length,
      attentionMask,
      inputIds,
      tokens,
      texts,
      visionFeeds: processed.map((p) => (p.images.length ? visionFeeds([p], names) : {})),
      batchVisionFeeds: withImages.length ? visionFeeds(withImages, names) : null,
      imageMeta,
      images: processed.map((p) => p.images),
      ...(mrope ? { mrope } : {}),
    };
  }

  /** The prompts with their input embeddings: image features merged at the image tokens. */
  async prepare(items: VlmItem[]): Promise<PreparedPrefix> {
    const layout = await this.layout(items);
    // The vision tower and the token embedding are independent: run them at once.
    const [features, embeds] = await Promise.all([
      layout.batchVisionFeeds ? this.encodeImages(layout.batchVisionFeeds) : undefined,
      this.embedTokens(layout.inputIds),
    ]);
    const width = embeds.length / (layout.batch * layout.length);
    mergeImageFeatures(embeds, layout.inputIds.flat(), this.family.imageTokenId, features, width);
    return { ...layout, embeds, width };
  }

  /** Text, padding, or an image token with its image, tile, cell and box (one item's image tokens in reading order). */
  private describeTokens(ids: number[], pads: number, imageMeta: ImageTokenMeta[], item: number): TokenInfo[] {
    let k = 0;
    const row = ids.map((tokenId, i): TokenInfo => {
      if (i < pads) return { tokenId, modality: 'pad', ...NO_IMAGE };
      if (tokenId !== this.family.imageTokenId) return { tokenId, modality: 'text', ...NO_IMAGE };
      const meta = imageMeta[k++];
      if (!meta)
        throw new OcularError('invalid_request', `Item ${item} holds more image tokens than its images make (${imageMeta.length}).`);
      return { tokenId, modality: 'image', ...meta };
    });
    if (k !== imageMeta.length)
      throw new OcularError('invalid_request', `Item ${item} holds ${k} image tokens but its images make ${imageMeta.length}.`);
    return row;
  }

  /** Where each of an item's vision-tower tokens looks, for a vision tap output of shape `dims`. */
  visionTokenMeta(prefix: PreparedPrefix, item: number, dims: number[]): ImageTokenMeta[] {
    const images = prefix.images[item]!;
    return visionTokens(
      dims,
      images.map((im) => this.family.tiles(im)),
      images.map((im) => im.grid),
      this.family.mergeSize,
    );
  }

  private async encodeImages(feeds: Record<string, WireTensor>): Promise<Float32Array> {
    const features = (await this.pool.run(this.sessions.vision, feeds)).image_features;
    if (!features) throw new OcularError('invalid_request', 'The vision encoder has no image_features output.');
    return features.data as Float32Array;
  }

  /**
   * Generate answers. The prompt goes to the pool process that holds the decoder as token ids and
   * vision inputs; the vision tower, the embedding and the merge run there (prefix.ts), then the
   * loop. With `edit`, an edited decoder graph (SAE edits, steering) runs instead of the model's
   * own, fed the extra inputs `edit.feeds` returns for the laid-out prompts; with `visionEdit`, an
   * edited vision graph computes the image features the prompts carry.
   */
  async generate(
    items: VlmItem[],
    options: {
      maxNewTokens: number;
      sampling?: { temperature: number; topK?: number; seed: number };
      ignoreEos?: boolean;
      returnFirstLogits?: boolean;
      edit?: { decoderPath: string; feeds: (prefix: PromptLayout) => NonNullable<HostGenerateOptions['extraFeeds']> };
      /** An edited vision graph (an intervention at a vision tap) and its extra inputs for the batch's images. */
      visionEdit?: { visionPath: string; feeds: (prefix: PromptLayout) => Record<string, WireTensor> };
    },
  ): Promise<{ outputs: GenerationOutput[]; prefix: PromptLayout; result: GenerateResult }> {
    const prefix = await this.layout(items);
    // Looked up each time (the pool reuses loaded sessions): loading an edited decoder beside the
    // embedding may have moved the others to another pool process.
    const [decoder, embed, vision] = (await this.pool.loadTogether(
      [options.edit?.decoderPath ?? this.files.decoder, this.files.embed, options.visionEdit?.visionPath ?? this.files.vision],
      this.device,
    )) as [SessionHandle, SessionHandle, SessionHandle];
    const result = await this.pool.generate(decoder, embed, {
      returnFirstLogits: options.returnFirstLogits,
      ...(options.edit ? { extraFeeds: options.edit.feeds(prefix) } : {}),
      prefix: {
        inputIds: BigInt64Array.from(prefix.inputIds.flat(), BigInt),
        batch: prefix.batch,
        length: prefix.length,
        attentionMask: prefix.attentionMask,
        imageTokenId: this.family.imageTokenId,
        ...(prefix.batchVisionFeeds
          ? {
              vision: {
                session: vision.sessionId,
                feeds: { ...prefix.batchVisionFeeds, ...(options.visionEdit ? options.visionEdit.feeds(prefix) : {}) },
              },
            }
          : {}),
      },
      states: this.decoder.states,
      maxNewTokens: options.maxNewTokens,
      eosTokenIds: this.eosTokenIds,
      sampling: options.sampling,
      positionIds: this.decoder.positionIds,
      ...(prefix.mrope ? { mrope: prefix.mrope } : {}),
      ignoreEos: options.ignoreEos,
    });
    const outputs = result.tokens.map((ids, r) => ({
      text: this.loaded.tokenizer.decode(ids, { skip_special_tokens: true }) as string,
      tokenIds: ids,
      finishReason: result.finishReasons[r]!,
    }));
    return { outputs, prefix, result };
  }
}
