/**
 * Entry of a session-pool process. onnxruntime-node's run() blocks its thread and a native fault
 * kills its whole process, so sessions live here, one process per pool slot, never in the backend.
 * Bundled as out/node/session-host.mjs (Node) and out/main/session-host.js (Electron, started with
 * ELECTRON_RUN_AS_NODE from the backend process).
 */
import * as ort from 'onnxruntime-node';
import { errorMessage } from '../errors.js';
import { cachedEmbedding, type Embed } from '../generation/embedding-cache.js';
import { generate, type GenerateOptions } from '../generation/generate.js';
import { mergeImageFeatures, type PrefixInputs } from '../generation/prefix.js';
import { SparseTrainer } from '../sae/sparse-train.js';
import { sparseTopk } from '../sae/sparse-topk.js';
import { cudaProviderMissing, cudaProviderPath, runtimeDiagnostics } from './diagnostics.js';
import { SESSION_OPTIONS } from './session-options.js';
import type { Device, FromHost, LoadedSession, ToHost, WireTensor } from './pool-protocol.js';

const sessions = new Map<number, ort.InferenceSession>();
let nextSession = 1;

function send(msg: FromHost): void {
  process.send!(msg);
}

async function createSession(
  modelPath: string,
  device: Device,
): Promise<{ session: ort.InferenceSession; ep: 'cpu' | 'cuda'; fallbackReason: string | null }> {
  const cpu = () => ort.InferenceSession.create(modelPath, { ...SESSION_OPTIONS, executionProviders: ['cpu'] });
  if (device === 'cpu') return { session: await cpu(), ep: 'cpu', fallbackReason: null };
  if (!cudaProviderPath()) {
    const reason = cudaProviderMissing();
    if (device === 'cuda') throw new Error(`Cannot create a CUDA session: ${reason}.`);
    return { session: await cpu(), ep: 'cpu', fallbackReason: reason };
  }
  try {
    return {
      session: await ort.InferenceSession.create(modelPath, { ...SESSION_OPTIONS, executionProviders: ['cuda'] }),
      ep: 'cuda',
      fallbackReason: null,
    };
  } catch (err) {
    if (device === 'cuda') throw new Error(`Cannot create a CUDA session: ${errorMessage(err)}`, { cause: err });
    return { session: await cpu(), ep: 'cpu', fallbackReason: `CUDA session failed: ${errorMessage(err)}` };
  }
}

/** Per embedding session, its rows remembered across generation steps and calls (embedding-cache.ts). */
const embedders = new Map<number, Embed>();

function embedder(sessionId: number, session: ort.InferenceSession): Embed {
  let embed = embedders.get(sessionId);
  if (!embed) {
    embed = cachedEmbedding(async (ids) => {
      const out = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [ids.length, 1]) });
      return out.inputs_embeds!.data as Float32Array;
    });
    embedders.set(sessionId, embed);
  }
  return embed;
}

/** Token embeddings of the prompt with the image features merged in, all computed in this process. */
async function buildPrefix(inputs: PrefixInputs, embed: ort.InferenceSession): Promise<GenerateOptions['prefix']> {
  const { batch, length } = inputs;
  // One after the other: both use all cores (ORT's intra-op threads).
  const encoder = inputs.vision ? need(inputs.vision.session) : undefined;
  if (encoder && !encoder.outputNames.includes('image_features')) throw new Error('The vision encoder has no image_features output.');
  // Only the features: an edited vision graph also returns its exposed tap, which nothing here needs.
  const vision = encoder ? await encoder.run(toFeeds(inputs.vision!.feeds), ['image_features']) : undefined;
  const tokens = await embed.run({ input_ids: new ort.Tensor('int64', inputs.inputIds, [batch, length]) });
  const embeds = tokens.inputs_embeds!.data as Float32Array;
  const width = embeds.length / (batch * length);
  mergeImageFeatures(embeds, inputs.inputIds, inputs.imageTokenId, vision?.image_features?.data as Float32Array | undefined, width);
  return { embeds, batch, length, width, attentionMask: inputs.attentionMask };
}

/** Tensors carried between runs, by key (see CarrySpec). */
const carried = new Map<string, Record<string, ort.Tensor>>();
const sparseTrainers = new Map<string, SparseTrainer>();

function need(sessionId: number): ort.InferenceSession {
  const session = sessions.get(sessionId);
  if (!session) throw new Error(`session ${sessionId} is not loaded in this pool process`);
  return session;
}

function toFeeds(feeds: Record<string, WireTensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = new ort.Tensor(t.type, t.data as never, t.dims);
  return out;
}

function fromOrt(out: ort.InferenceSession.OnnxValueMapType): Record<string, WireTensor> {
  const result: Record<string, WireTensor> = {};
  for (const [name, t] of Object.entries(out))
    result[name] = { type: t.type as WireTensor['type'], dims: [...t.dims], data: t.data as WireTensor['data'] };
  return result;
}

async function handle(msg: ToHost): Promise<unknown> {
  switch (msg.type) {
    case 'load': {
      const { session, ep, fallbackReason } = await createSession(msg.modelPath, msg.device);
      const sessionId = nextSession++;
      sessions.set(sessionId, session);
      return {
        sessionId,
        inputNames: [...session.inputNames],
        outputNames: [...session.outputNames],
        executionProvider: ep,
        fallbackReason,
      } satisfies LoadedSession;
    }
    case 'run': {
      const session = need(msg.sessionId);
      if (!msg.carry) {
        const feeds = toFeeds(msg.feeds);
        return fromOrt(msg.outputs ? await session.run(feeds, msg.outputs) : await session.run(feeds));
      }
      const { key, pairs, keep = [] } = msg.carry;
      if (msg.carry.sparse) {
        // Sparse-kernel training: the state lives in the trainer, updated in place; the session is its encoder.
        let trainer = sparseTrainers.get(key);
        if (!trainer) {
          // Weights go in as views of the trainer's state and outputs into preallocated buffers: nothing is copied per step.
          trainer = new SparseTrainer(
            msg.carry.sparse,
            (feeds, outputs) => session.run(toFeeds(feeds), toFeeds(outputs)),
            sparseTopk().kernels,
          );
          sparseTrainers.set(key, trainer);
        }
        return trainer.run(msg.feeds, keep);
      }
      const out = await session.run({ ...carried.get(key), ...toFeeds(msg.feeds) });
      carried.set(key, Object.fromEntries(pairs.map(([o, i]) => [i, out[o]!])));
      const hidden = new Set(pairs.map(([o]) => o).filter((o) => !keep.includes(o)));
      return fromOrt(Object.fromEntries(Object.entries(out).filter(([name]) => !hidden.has(name))));
    }
    case 'drop-carry':
      return sparseTrainers.delete(msg.key) || carried.delete(msg.key);
    case 'release': {
      await sessions.get(msg.sessionId)?.release();
      embedders.delete(msg.sessionId);
      return sessions.delete(msg.sessionId);
    }
    case 'diagnostics':
      return runtimeDiagnostics(ort.env.versions.node ?? 'unknown');
    case 'generate': {
      const decoder = need(msg.decoder);
      const embed = need(msg.embed);
      const { prefix } = msg.options;
      return generate({
        ...msg.options,
        prefix: 'embeds' in prefix ? prefix : await buildPrefix(prefix, embed),
        step: async (feeds) => fromOrt(await decoder.run(toFeeds(feeds))),
        embed: embedder(msg.embed, embed),
      });
    }
  }
}

process.on('message', (msg: ToHost) => {
  handle(msg).then(
    (value) => send({ type: 'result', id: msg.id, ok: true, value }),
    (err) => send({ type: 'result', id: msg.id, ok: false, error: errorMessage(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', pid: process.pid });
