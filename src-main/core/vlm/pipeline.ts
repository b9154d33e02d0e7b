/**
 * The VLM pipeline for onnx-community exports: processor (transformers.js) -> vision encoder and token
 * embedding (session pool) -> image features merged into the prompt at the image tokens -> our own
 * generation loop over the decoder. Every prompt token gets metadata (image or text, and for image
 * tokens the image and patch row/column), which harvesting and the feature browser build on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OcularError } from '../errors.js';
import { positionsFromMask, type GenerateResult } from '../generation/generate.js';
import { decoderSignature, emptyStates, type DecoderSignature } from '../generation/decoder-states.js';
import { readModel } from '../onnx/model-io.js';
import type { Device, HostGenerateOptions, WireTensor } from '../runtime/pool-protocol.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { SessionHandle } from '../runtime/session-pool.js';
import { familySpec, type FamilySpec } from './families.js';
import { loadProcessor, loadTransformers, type LoadedProcessor } from './processor.js';

export interface TokenInfo {
  tokenId: number;
  modality: 'image' | 'text' | 'pad';
  /** Index of the image within the batch item (image tokens only). */
  image: number | null;
  /** Patch grid position; null for image tokens outside the grid (CLS) and for text. */
  patchRow: number | null;
  patchCol: number | null;
}

export interface VlmItem {
  /** Image file path (inside the dataset) or an already loaded transformers.js RawImage. */
  image: string | unknown;
  prompt: string;
}

export interface PreparedPrefix {
  embeds: Float32Array;
  batch: number;
  length: number;
  width: number;
  attentionMask: Uint8Array;
  inputIds: number[][];
  tokens: TokenInfo[][];
  texts: string[];
  /** The processor outputs the vision encoder reads, for running edited (tapped) vision graphs. */
  visionFeeds: Record<string, WireTensor>;
}

export interface GenerationOutput {
  text: string;
  tokenIds: number[];
  finishReason: 'eos' | 'length';
}

function toWire(t: { type: string; dims: number[]; data: unknown }): WireTensor {
  return { type: t.type as WireTensor['type'], dims: [...t.dims], data: t.data as WireTensor['data'] };
}

/** Stack per-item tensors along the batch axis; their other dimensions must agree. */
function concatBatch(parts: WireTensor[], name: string): WireTensor {
  const first = parts[0]!;
  const rest = first.dims.slice(1).join(',');
  if (parts.some((p) => p.dims.slice(1).join(',') !== rest)) {
    throw new OcularError(
      'invalid_request',
      `Items produce '${name}' of different shapes (${parts.map((p) => `[${p.dims}]`).join(' ')}); batch them separately.`,
    );
  }
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const Ctor = first.data.constructor as new (n: number) => WireTensor['data'];
  const data = new Ctor(total);
  let offset = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, offset);
    offset += p.data.length;
  }
  return { type: first.type, dims: [parts.reduce((n, p) => n + p.dims[0]!, 0), ...first.dims.slice(1)], data };
}

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
      const file = path.join(abs, 'onnx', `${name}.onnx`);
      if (!fs.existsSync(file)) throw new OcularError('invalid_request', `${abs}: onnx/${name}.onnx is missing.`);
      return file;
    };
    const files = { vision: onnx('vision_encoder'), embed: onnx('embed_tokens'), decoder: onnx('decoder_model_merged') };
    const loaded = await loadProcessor(abs);
    const processorConfigFile = path.join(abs, 'processor_config.json');
    const processorConfig = fs.existsSync(processorConfigFile)
      ? (JSON.parse(fs.readFileSync(processorConfigFile, 'utf8')) as Record<string, unknown>)
      : {};
    const family = familySpec(loaded.config, processorConfig);
    const decoder = decoderSignature(readModel(files.decoder).graph, files.decoder);
    if (decoder.states.length === 0)
      throw new OcularError('invalid_request', `${files.decoder}: no past_* state inputs; Ocular needs a decoder exported with its cache.`);
    const [dec, embed] = await pool.loadTogether([files.decoder, files.embed], device);
    const vision = await pool.load(files.vision, device);
    const generationFile = path.join(abs, 'generation_config.json');
    const generation = fs.existsSync(generationFile)
      ? (JSON.parse(fs.readFileSync(generationFile, 'utf8')) as { eos_token_id?: number | number[] })
      : {};
    const eos =
      generation.eos_token_id ?? loaded.config.text_config?.eos_token_id ?? loaded.config.eos_token_id ?? loaded.tokenizer.eos_token_id;
    const eosTokenIds = (Array.isArray(eos) ? eos : eos === undefined || eos === null ? [] : [eos]).map(Number);
    return new VlmPipeline(files, abs, pool, loaded, family, { vision, embed: embed!, decoder: dec! }, decoder, eosTokenIds, device);
  }

  /** Feeds for one full forward pass of a decoder graph over a prefix (empty states). */
  prefillFeeds(prefix: Pick<PreparedPrefix, 'embeds' | 'batch' | 'length' | 'width' | 'attentionMask'>): Record<string, WireTensor> {
    const { batch, length, width } = prefix;
    const feeds: Record<string, WireTensor> = {
      inputs_embeds: { type: 'float32', dims: [batch, length, width], data: prefix.embeds },
      attention_mask: { type: 'int64', dims: [batch, length], data: BigInt64Array.from(prefix.attentionMask, (m) => BigInt(m)) },
    };
    if (this.decoder.positionIds)
      feeds.position_ids = { type: 'int64', dims: [batch, length], data: positionsFromMask(prefix.attentionMask, batch, length).positions };
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
    return { prefix: { ...prefix, embeds, attentionMask: mask, length }, extraLength: longest };
  }

  /** One image and its chat-templated text through the family's processor. */
  private process(image: unknown, text: string): Promise<any> {
    const { processor } = this.loaded;
    switch (this.family.processorCall) {
      case 'images-first':
        return processor([image], [text]);
      case 'text-first':
        return processor([text], [image]);
      case 'text-first-nested':
        return processor([text], [[image]]);
    }
  }

  /** The chat-templated prompt for one image and one question. */
  chatText(prompt: string): string {
    return this.loaded.tokenizer.apply_chat_template([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: prompt }] }], {
      tokenize: false,
      add_generation_prompt: true,
    }) as string;
  }

  async embedTokens(ids: number[][]): Promise<Float32Array> {
    const rows = ids.length;
    const cols = ids[0]?.length ?? 0;
    const out = await this.pool.run(await this.pool.load(this.files.embed, this.device), {
      input_ids: { type: 'int64', dims: [rows, cols], data: BigInt64Array.from(ids.flat().map(BigInt)) },
    });
    return out.inputs_embeds!.data as Float32Array;
  }

  async prepare(items: VlmItem[]): Promise<PreparedPrefix> {
    const { RawImage } = await loadTransformers();
    const texts = items.map((it) => this.chatText(it.prompt));
    // Each item goes through the processor alone, then the batch is left-padded here: processors
    // differ in whether (and on which side) they pad, and generation needs left padding.
    const perItem: any[] = [];
    for (let i = 0; i < items.length; i++) {
      const image = typeof items[i]!.image === 'string' ? await RawImage.read(items[i]!.image as string) : items[i]!.image;
      perItem.push(await this.process(image, texts[i]!));
    }
    const batch = items.length;
    const rowsIds = perItem.map((inp) => Array.from(inp.input_ids.data as BigInt64Array, Number));
    const length = Math.max(...rowsIds.map((r) => r.length));
    const padId = Number(this.loaded.tokenizer.pad_token_id ?? 0);
    const inputIds = rowsIds.map((r) => [...new Array<number>(length - r.length).fill(padId), ...r]);
    const attentionMask = new Uint8Array(batch * length);
    rowsIds.forEach((r, i) => attentionMask.fill(1, i * length + (length - r.length), (i + 1) * length));

    const visionFeeds: Record<string, WireTensor> = {};
    for (const name of this.sessions.vision.inputNames) {
      if (!perItem[0][name])
        throw new OcularError('invalid_request', `The vision encoder needs '${name}', which the processor did not produce.`);
      visionFeeds[name] = concatBatch(
        perItem.map((inp) => toWire(inp[name])),
        name,
      );
    }
    const features = (await this.pool.run(this.sessions.vision, visionFeeds)).image_features;
    if (!features) throw new OcularError('invalid_request', 'The vision encoder has no image_features output.');
    const width = features.dims[features.dims.length - 1]!;
    const featureData = features.data as Float32Array;
    const embeds = await this.embedTokens(inputIds);

    // Replace image tokens, in reading order, with the image features.
    const tokens: TokenInfo[][] = [];
    const { imageTokenId, layout } = this.family;
    let next = 0;
    const totalFeatures = featureData.length / width;
    for (let r = 0; r < batch; r++) {
      const row: TokenInfo[] = [];
      let imageTokens = 0;
      for (let i = 0; i < length; i++) {
        const tokenId = inputIds[r]![i]!;
        if (!attentionMask[r * length + i]) {
          row.push({ tokenId, modality: 'pad', image: null, patchRow: null, patchCol: null });
          continue;
        }
        if (tokenId !== imageTokenId) {
          row.push({ tokenId, modality: 'text', image: null, patchRow: null, patchCol: null });
          continue;
        }
        if (next >= totalFeatures)
          throw new OcularError(
            'invalid_request',
            `The prompts hold more image tokens than the vision encoder produced features (${totalFeatures}).`,
          );
        embeds.set(featureData.subarray(next * width, (next + 1) * width), (r * length + i) * width);
        next++;
        const k = imageTokens % layout.tokensPerImage;
        const inGrid = k >= layout.leadingTokens ? k - layout.leadingTokens : null;
        row.push({
          tokenId,
          modality: 'image',
          image: Math.floor(imageTokens / layout.tokensPerImage),
          patchRow: inGrid === null ? null : Math.floor(inGrid / layout.gridCols),
          patchCol: inGrid === null ? null : inGrid % layout.gridCols,
        });
        imageTokens++;
      }
      tokens.push(row);
    }
    if (next !== totalFeatures)
      throw new OcularError(
        'invalid_request',
        `The vision encoder produced ${totalFeatures} features but the prompts hold ${next} image tokens.`,
      );
    return { embeds, batch, length, width, attentionMask, inputIds, tokens, texts, visionFeeds };
  }

  /**
   * Generate answers. With `edit`, an edited decoder graph (SAE edits, steering) runs instead of
   * the model's own, fed the extra inputs `edit.feeds` returns for the prepared prompts.
   */
  async generate(
    items: VlmItem[],
    options: {
      maxNewTokens: number;
      sampling?: { temperature: number; topK?: number; seed: number };
      ignoreEos?: boolean;
      returnFirstLogits?: boolean;
      edit?: { decoderPath: string; feeds: (prefix: PreparedPrefix) => NonNullable<HostGenerateOptions['extraFeeds']> };
    },
  ): Promise<{ outputs: GenerationOutput[]; prefix: PreparedPrefix; result: GenerateResult }> {
    const prefix = await this.prepare(items);
    // Looked up each time (the pool reuses loaded sessions): loading an edited decoder beside the
    // embedding may have moved the embedding to another pool process.
    const [decoder, embed] = (await this.pool.loadTogether(
      [options.edit?.decoderPath ?? this.files.decoder, this.files.embed],
      this.device,
    )) as [SessionHandle, SessionHandle];
    const result = await this.pool.generate(decoder, embed, {
      returnFirstLogits: options.returnFirstLogits,
      ...(options.edit ? { extraFeeds: options.edit.feeds(prefix) } : {}),
      prefix: {
        embeds: prefix.embeds,
        batch: prefix.batch,
        length: prefix.length,
        width: prefix.width,
        attentionMask: prefix.attentionMask,
      },
      states: this.decoder.states,
      maxNewTokens: options.maxNewTokens,
      eosTokenIds: this.eosTokenIds,
      sampling: options.sampling,
      positionIds: this.decoder.positionIds,
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
