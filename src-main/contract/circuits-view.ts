/**
 * The Circuits page's payloads: saved attribution graphs (core/circuits/trace.ts) listed, read pruned
 * to a chosen influence share (core/circuits/graph-view.ts, so the renderer never receives a whole
 * graph), their attention maps one layer at a time, and a trace started from the app.
 */
import { z } from 'zod';

/** A saved graph, as listed: the trace job's parameters and result. */
export const circuitSummarySchema = z.object({
  id: z.number().int(),
  setId: z.number().int(),
  prompt: z.string(),
  target: z.string(),
  contrast: z.string().nullable(),
  method: z.string(),
  nodes: z.number().int(),
  edges: z.number().int(),
  createdAt: z.string(),
});
export type CircuitSummary = z.infer<typeof circuitSummarySchema>;

export const circuitGetRequestSchema = z
  .object({
    id: z.number().int().positive(),
    /** Keep the features that carry this share of the influence on the output (default: as saved). */
    share: z.number().gt(0).max(1).optional(),
  })
  .strict();

export const circuitViewNodeSchema = z.object({
  id: z.number().int(),
  kind: z.enum(['feature', 'error', 'embedding', 'output']),
  /** -1 for inputs, the decoder layer for features and errors, the layer count for the output. */
  layer: z.number().int(),
  position: z.number().int(),
  feature: z.number().int().nullable(),
  activation: z.number(),
  influence: z.number(),
  /** The analysis whose feature page shows this feature (features only; null when none of its transcoder exists). */
  analysisId: z.number().int().nullable(),
});
export type CircuitViewNode = z.infer<typeof circuitViewNodeSchema>;

export const circuitViewSchema = z.object({
  id: z.number().int(),
  method: z.string(),
  methodDetail: z.string(),
  prompt: z.string(),
  setId: z.number().int(),
  layers: z.array(z.number().int()),
  target: z.object({
    text: z.string(),
    contrast: z.string().nullable(),
    probability: z.number(),
  }),
  outputValue: z.number(),
  /** The share the graph was saved at (the slider's upper end) and the share shown. */
  savedShare: z.number(),
  share: z.number(),
  tokens: z.array(
    z.object({
      position: z.number().int(),
      text: z.string(),
      modality: z.enum(['image', 'text', 'pad']),
      patchRow: z.number().int().nullable(),
      patchCol: z.number().int().nullable(),
      /** The patch in the original image's pixels [x0, y0, x1, y1]. */
      box: z.tuple([z.number(), z.number(), z.number(), z.number()]).nullable(),
    }),
  ),
  nodes: z.array(circuitViewNodeSchema),
  /** [target node id, source node id, weight]: direct effects in the frozen linear model. */
  edges: z.array(z.tuple([z.number().int(), z.number().int(), z.number()])),
  /** Influence on the output of every image patch's input node (in `attention.imagePositions` order), shown or not. */
  patchInfluence: z.array(z.number()),
  saved: z.object({ nodes: z.number().int(), edges: z.number().int(), features: z.number().int() }),
  /** The traced image as a data: URL (PNG or JPEG bytes), or null with the reason. */
  image: z.string().nullable(),
  imageNote: z.string().nullable(),
  attention: z.object({
    answerPosition: z.number().int(),
    imagePositions: z.array(z.number().int()),
    heads: z.array(z.number().int()),
    maxDeviationFromModel: z.number().nullable(),
  }),
});
export type CircuitView = z.infer<typeof circuitViewSchema>;

export const circuitAttentionRequestSchema = z
  .object({
    id: z.number().int().positive(),
    /** A decoder layer's index in the graph's layers, or null for the rollout. */
    layer: z.number().int().min(0).nullable(),
  })
  .strict();
export const circuitAttentionSchema = z.object({
  /** Per head (one row for the rollout): attention from the answer position to each image position. */
  maps: z.array(z.array(z.number())),
});

export const circuitItemsRequestSchema = z
  .object({
    datasetId: z.number().int().positive(),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(500).default(200),
  })
  .strict();
export const circuitItemSchema = z.object({
  id: z.number().int(),
  key: z.string(),
  question: z.string(),
  task: z.string().nullable(),
  answer: z.string(),
});

/** A trace started from the app: an image of a registered dataset, or one sent as bytes (kept in the workspace). */
export const circuitTraceStartSchema = z
  .object({
    setId: z.number().int().positive(),
    image: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('item'), datasetId: z.number().int().positive(), itemId: z.number().int().positive() }).strict(),
      z
        .object({
          kind: z.literal('upload'),
          /** Base64 PNG or JPEG bytes (no data: prefix). */
          data: z
            .string()
            .min(1)
            .max(32 * 1024 * 1024)
            .regex(/^[A-Za-z0-9+/]+=*$/, 'the image must be base64-encoded PNG or JPEG bytes'),
        })
        .strict(),
    ]),
    prompt: z.string().min(1).max(4000),
    target: z.string().min(1).max(200).optional(),
    contrast: z.string().min(1).max(200).optional(),
    maxFeatureNodes: z.number().int().min(0).max(100_000).default(512),
    /** Saved at a generous share, so the page's slider can prune further without tracing again. */
    nodeThreshold: z.number().gt(0).max(1).default(0.95),
    edgeThreshold: z.number().gt(0).max(1).default(0.98),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
  })
  .strict();
export type CircuitTraceStart = z.infer<typeof circuitTraceStartSchema>;

/** A saved graph in Neuronpedia's graph JSON (core/circuits/neuronpedia.ts), to save as a file. */
export const circuitExportRequestSchema = z.object({ id: z.number().int().positive() }).strict();
export const circuitExportSchema = z.object({ filename: z.string(), content: z.string() });
