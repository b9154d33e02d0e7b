/**
 * Your own input through the model with an SAE, on request (the feature page's "Try your input" and
 * the Playground):
 *
 *   probe: image + prompt -> the VLM's prefill with the SAE's tap exposed -> x [tokens, d_in] ->
 *          the analysis encoder graph (sparse codes; TopK's k-th pre-activation) -> the input's top
 *          features (candidates by their maximum over tokens, then recomputed exactly from their
 *          encoder columns, as feature pages do) and one feature's activation on every patch and token.
 *   steer: the same input generated twice through one edited decoder (SAE edit + steering input at
 *          the tap): identity inputs (the baseline, bit-identical to the model) and the feature scaled
 *          (f(z)_i <- value * f(z)_i) or its decoder direction added (x <- x + value * W_dec[i]); the
 *          mean L2 change of the tap over the edited prompt positions says how hard the edit pushed.
 *
 * Everything runs in the backend's session pool; the image arrives as bytes and is written to a
 * temporary file for the processor, then removed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ProbeInputResult, SteerInputResult } from '../../contract/contract.js';
import { OcularError } from '../errors.js';
import { writeEditedGraph } from '../onnx/edited-graph.js';
import { saeIdentityInputs } from '../onnx/surgery.js';
import type { PoolClient } from '../runtime/pool-client.js';
import type { Device, WireTensor } from '../runtime/pool-protocol.js';
import type { SaeFile } from '../sae/sae-io.js';
import { VlmPipeline, type PreparedPrefix, type PromptLayout } from '../vlm/pipeline.js';
import { loadProcessor, tokenTexts } from '../vlm/processor.js';
import { encodeGraphFile } from './encode-graph.js';
import { featureActivations } from '../sae/sae-encode.js';
import { layoutOf } from '../store/layout.js';
import { streamOf } from '../../contract/tap-names.js';

export interface InputRequest {
  sae: SaeFile;
  modelPath: string;
  /** PNG or JPEG bytes. */
  image: Buffer;
  prompt: string;
  device: Device;
}

/** PNG and JPEG signatures: anything else is refused before it reaches the image decoder. */
export function imageKind(bytes: Buffer): 'png' | 'jpg' | null {
  if (bytes.length > 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpg';
  return null;
}

/** Per feature over the input's tokens: its maximum overall, on image tokens, on text tokens, and where it fires. */
export function summarise(acts: Float32Array, isImage: boolean[]): { max: number; imageMax: number; textMax: number; firing: number } {
  let max = 0;
  let imageMax = 0;
  let textMax = 0;
  let firing = 0;
  acts.forEach((a, i) => {
    if (a <= 0) return;
    firing++;
    max = Math.max(max, a);
    if (isImage[i]) imageMax = Math.max(imageMax, a);
    else textMax = Math.max(textMax, a);
  });
  return { max, imageMax, textMax, firing };
}

/** Candidate features by their largest sparse code over all tokens, strongest first. */
export function candidatesFromCodes(vals: Float32Array, idx: Int32Array, n: number): number[] {
  const best = new Map<number, number>();
  for (let i = 0; i < vals.length; i++) if (vals[i]! > 0 && vals[i]! > (best.get(idx[i]!) ?? 0)) best.set(idx[i]!, vals[i]!);
  return [...best]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, n)
    .map(([f]) => f);
}

/** Positions of a single-item prefix that hold prompt tokens (image or text), in order. */
function promptPositions(prefix: PreparedPrefix): number[] {
  return prefix.tokens[0]!.flatMap((t, i) => (t.modality === 'pad' ? [] : [i]));
}

function decoderTap(sae: SaeFile): string {
  const tap = sae.hookName;
  if (!tap) throw new OcularError('invalid_request', 'This SAE does not name the tap it reads, so it cannot run on an input.');
  if (streamOf(tap) === 'vision')
    throw new OcularError(
      'invalid_request',
      `Your own input runs SAEs on decoder taps; this SAE reads the vision tower (${tap}). Browse its feature pages instead.`,
    );
  return tap;
}

export class InputWorkbench {
  private readonly pipelines = new Map<string, Promise<VlmPipeline>>();

  constructor(
    private readonly pool: PoolClient,
    private readonly workspaceDir: string,
  ) {}

  private cacheDir(): string {
    return layoutOf(this.workspaceDir).graphCache;
  }

  private pipeline(modelPath: string, device: Device): Promise<VlmPipeline> {
    const key = `${device}:${modelPath}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = VlmPipeline.load(modelPath, this.pool, device);
      p.catch(() => this.pipelines.delete(key));
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Run `fn` with the image in a temporary file (the processor reads files), removed afterwards. */
  private async withImageFile<T>(image: Buffer, fn: (file: string) => Promise<T>): Promise<T> {
    const kind = imageKind(image);
    if (!kind) throw new OcularError('invalid_request', 'The image must be a PNG or JPEG file.');
    const file = path.join(os.tmpdir(), `ocular-input-${crypto.randomUUID()}.${kind}`);
    fs.writeFileSync(file, image);
    try {
      return await fn(file);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /** The prepared single-item prefix for an image file and prompt; an unreadable image is the user's error. */
  private async prepare(vlm: VlmPipeline, file: string, prompt: string): Promise<PreparedPrefix> {
    try {
      return await vlm.prepare([{ image: file, prompt }]);
    } catch (err) {
      if (err instanceof OcularError) throw err;
      throw new OcularError('invalid_request', `The image could not be read: ${(err as Error).message}`);
    }
  }

  async probe(
    req: InputRequest & { feature: number | null; top: number; label: (feature: number) => string | null },
  ): Promise<ProbeInputResult> {
    const started = Date.now();
    const { sae } = req;
    const tap = decoderTap(sae);
    if (req.feature !== null && req.feature >= sae.dSae)
      throw new OcularError('invalid_request', `The SAE has ${sae.dSae} features; there is no feature ${req.feature}.`);
    const vlm = await this.pipeline(req.modelPath, req.device);
    const prefix = await this.withImageFile(req.image, (file) => this.prepare(vlm, file, req.prompt));
    const tapped = await this.pool.load(
      writeEditedGraph(vlm.files.decoder, { expose: [tap] }, { cacheDir: this.cacheDir() }).path,
      req.device,
    );
    const out = (await this.pool.run(tapped, vlm.prefillFeeds(prefix), [tap]))[tap]!;
    const d = out.dims[out.dims.length - 1]!;
    if (d !== sae.dIn) throw new OcularError('invalid_request', `The SAE reads width ${sae.dIn} but ${tap} has width ${d} in this model.`);
    const positions = promptPositions(prefix);
    const all = out.data as Float32Array;
    const x = new Float32Array(positions.length * d);
    positions.forEach((p, i) => x.set(all.subarray(p * d, (p + 1) * d), i * d));
    const meta = positions.map((p) => prefix.tokens[0]![p]!);
    const isImage = meta.map((t) => t.modality === 'image');

    const encoder = await this.pool.load(encodeGraphFile(this.workspaceDir, sae), req.device);
    const feeds: Record<string, WireTensor> = { x: { type: 'float32', dims: [positions.length, d], data: x } };
    if (encoder.inputNames.includes('img'))
      feeds.img = { type: 'float32', dims: [1, positions.length], data: Float32Array.from(isImage, (b) => (b ? 1 : 0)) };
    const codes = await this.pool.run(encoder, feeds, ['vals', 'idx32', 'kth']);
    const kth = sae.architecture === 'topk' ? (codes.kth!.data as Float32Array) : null;
    const activations = (f: number) => featureActivations(sae, f, x, kth);

    const candidates = candidatesFromCodes(codes.vals!.data as Float32Array, codes.idx32!.data as Int32Array, req.top);
    const topFeatures = candidates
      .map((f) => ({ feature: f, ...summarise(activations(f), isImage), label: req.label(f) }))
      .filter((t) => t.firing > 0)
      .sort((a, b) => b.max - a.max || a.feature - b.feature);
    const chosen = req.feature === null ? null : activations(req.feature);
    const { tokenizer } = await loadProcessor(req.modelPath);
    const texts = tokenTexts(
      tokenizer,
      meta.filter((t) => t.modality !== 'image').map((t) => t.tokenId),
    );
    const grid = isImage.some(Boolean)
      ? {
          rows: Math.max(...meta.map((t) => (t.patchRow ?? -1) + 1)),
          cols: Math.max(...meta.map((t) => (t.patchCol ?? -1) + 1)),
        }
      : null;
    return {
      tap,
      tokens: meta.map((t, i) => ({
        token: t.modality === 'image' ? '' : (texts.get(t.tokenId) ?? ''),
        modality: t.modality === 'image' ? 'image' : 'text',
        patchRow: t.patchRow,
        patchCol: t.patchCol,
        activation: chosen ? chosen[i]! : null,
      })),
      grid: grid && grid.rows > 0 && grid.cols > 0 ? grid : null,
      topFeatures,
      seconds: (Date.now() - started) / 1000,
    };
  }

  async steer(
    req: InputRequest & { feature: number; op: 'scale' | 'add'; value: number; where: 'all' | 'image' | 'text'; maxNewTokens: number },
  ): Promise<SteerInputResult> {
    const started = Date.now();
    const { sae } = req;
    const tap = decoderTap(sae);
    if (sae.dOut !== undefined && sae.dOut !== sae.dIn)
      throw new OcularError(
        'invalid_request',
        'Steering edits an SAE at the tap it reads; a transcoder writes to another tap and is not steered here.',
      );
    if (req.feature >= sae.dSae)
      throw new OcularError('invalid_request', `The SAE has ${sae.dSae} features; there is no feature ${req.feature}.`);
    const vlm = await this.pipeline(req.modelPath, req.device);
    return this.withImageFile(req.image, async (file) => {
      const prefix = await this.prepare(vlm, file, req.prompt);
      const edited = writeEditedGraph(
        vlm.files.decoder,
        { saeEdits: [{ id: 'x', tap, sae }], steer: [tap], expose: [tap] },
        { cacheDir: this.cacheDir() },
      );
      const d = sae.dIn;
      const mask = (pre: PromptLayout) =>
        Float32Array.from(pre.tokens[0]!, (t) => (t.modality !== 'pad' && (req.where === 'all' || req.where === t.modality) ? 1 : 0));
      /** Edit inputs over `length` positions: identity, or the feature scaled / its direction added where `positions` is 1. */
      const feeds = (edit: boolean, length: number, positions: Float32Array): Record<string, WireTensor> => {
        const f: Record<string, WireTensor> = saeIdentityInputs('x', sae.dSae, 1, length);
        (f['sae.x.position_mask']!.data as Float32Array).set(positions);
        const steer = new Float32Array(length * d);
        if (edit && req.op === 'scale') (f['sae.x.scale']!.data as Float32Array)[req.feature] = req.value;
        if (edit && req.op === 'add')
          for (let p = 0; p < length; p++)
            if (positions[p]) for (let i = 0; i < d; i++) steer[p * d + i] = req.value * sae.W_dec[req.feature * d + i]!;
        f[`steer.${tap}`] = { type: 'float32', dims: [1, length, d], data: steer };
        return f;
      };
      // The baseline runs the same edited graph with identity inputs, so the two answers differ only by the edit.
      const generatedMask = Float32Array.of(req.where === 'all' ? 1 : 0);
      const run = (edit: boolean) =>
        vlm.generate([{ image: file, prompt: req.prompt }], {
          maxNewTokens: req.maxNewTokens,
          edit: {
            decoderPath: edited.path,
            feeds: (pre) => ({ prefill: feeds(edit, pre.length, mask(pre)), step: feeds(edit, 1, generatedMask) }),
          },
        });
      const base = await run(false);
      const steered = await run(true);

      const session = (await this.pool.loadTogether([edited.path, vlm.files.embed], req.device))[0]!;
      const m = mask(prefix);
      const tapOf = async (edit: boolean) =>
        (await this.pool.run(session, { ...vlm.prefillFeeds(prefix), ...feeds(edit, prefix.length, m) }, [tap]))[tap]!.data as Float32Array;
      const x0 = await tapOf(false);
      const x1 = await tapOf(true);
      let total = 0;
      let count = 0;
      for (let p = 0; p < prefix.length; p++) {
        if (!m[p]) continue;
        let s = 0;
        for (let i = 0; i < d; i++) s += (x1[p * d + i]! - x0[p * d + i]!) ** 2;
        total += Math.sqrt(s);
        count++;
      }
      return {
        baseline: base.outputs[0]!.text,
        steered: steered.outputs[0]!.text,
        shiftNorm: count ? total / count : 0,
        seconds: (Date.now() - started) / 1000,
      };
    });
  }
}
