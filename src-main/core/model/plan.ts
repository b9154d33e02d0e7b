/**
 * Planning for real sizes, from graphs and config alone (no weights are read, none need be present):
 *   weights   = Σ initializer bytes of each graph (external-data length, else elements × dtype size),
 *               bodies of control-flow nodes included;
 *   caches    = Σ over the decoder's state inputs of Π dims, with batch = B and the growing (past) axis
 *               = T: KV caches are 2 · attention layers · kv_heads · head_dim · T · B · bytes; a hybrid's
 *               conv and recurrent states have no past axis and do not grow;
 *   logits    = B · T · vocab · bytes for a prefill of T tokens (B · vocab where the graph keeps only the
 *               last position's logits), the largest transient tensor of a forward pass;
 *   harvest   = Σ over taps of width · N · bytes (fp16 2, fp32 4), as the harvest store writes them.
 * config.json, where present, cross-checks the cache shapes; the graph is what runs, so it decides.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ModelPlan, ModelPlanOptions, ModelReport } from '../../contract/contract.js';
import { OcularError } from '../errors.js';
import { decoderSignature, type StateSpec } from '../generation/decoder-states.js';
import { HarvestStore } from '../harvest/harvest-store.js';
import { subgraphsOf, valueInfoType } from '../onnx/graph-index.js';
import { readModel, tensorBytes, type GraphProto, type ModelProto } from '../onnx/model-io.js';
import { DATA_TYPE_NAMES } from '../onnx/schema.js';
import { middleResidPost, parseTap } from '../../contract/tap-names.js';

export type { ModelPlan, ModelPlanOptions };

function initializerBytes(g: GraphProto, into: Record<string, number>): void {
  for (const t of g.initializer) {
    const dtype = DATA_TYPE_NAMES[t.data_type] ?? `type${t.data_type}`;
    into[dtype] = (into[dtype] ?? 0) + tensorBytes(t);
  }
  for (const n of g.node) for (const body of subgraphsOf(n)) initializerBytes(body, into);
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const STATE_BYTES = { float32: 4, float16: 2 } as const;

/** Decoder states grouped by name with the layer index taken out (past_conv.*, past_key_values.*.key). */
function cacheGroups(states: StateSpec[], batch: number, context: number): ModelPlan['caches']['groups'] {
  const groups = new Map<string, ModelPlan['caches']['groups'][number]>();
  for (const s of states) {
    const shape = s.dims.map((d) => (d === 'batch' ? batch : d === 'past' ? context : d));
    const bytes = shape.reduce((a, b) => a * b, 1) * STATE_BYTES[s.type];
    const name = s.input.replace(/\.\d+(?=\.|$)/, '.*');
    const key = `${name}|${shape.join(',')}|${s.type}`;
    const g = groups.get(key) ?? { name, grows: s.dims.includes('past'), tensors: 0, shape, dtype: s.type, bytes: 0 };
    g.tensors += 1;
    g.bytes += bytes;
    groups.set(key, g);
  }
  return [...groups.values()];
}

interface TextConfig {
  num_hidden_layers?: number;
  layer_types?: string[];
  num_attention_heads?: number;
  num_key_value_heads?: number;
  head_dim?: number;
  hidden_size?: number;
  linear_num_key_heads?: number;
  linear_num_value_heads?: number;
  linear_key_head_dim?: number;
  linear_value_head_dim?: number;
  linear_conv_kernel_dim?: number;
}

/**
 * Cache elements config.json implies, per sequence: per token for attention layers (K and V), fixed for
 * linear-attention layers (the conv window over q, k, v and the k × v recurrent state per value head).
 */
function configCacheElements(config: { text_config?: TextConfig } & TextConfig): { perToken: number; fixed: number } | null {
  const text = config.text_config ?? config;
  const layers = text.layer_types ?? Array.from({ length: text.num_hidden_layers ?? 0 }, () => 'full_attention');
  if (layers.length === 0 || !text.num_attention_heads) return null;
  const kvHeads = text.num_key_value_heads ?? text.num_attention_heads;
  const headDim = text.head_dim ?? (text.hidden_size ?? 0) / text.num_attention_heads;
  const linear = layers.filter((t) => t === 'linear_attention').length;
  const attention = layers.length - linear;
  const [nk, nv, dk, dv] = [text.linear_num_key_heads, text.linear_num_value_heads, text.linear_key_head_dim, text.linear_value_head_dim];
  const fixed = linear && nk && nv && dk && dv ? linear * ((2 * nk * dk + nv * dv) * (text.linear_conv_kernel_dim ?? 4) + nv * dk * dv) : 0;
  return { perToken: attention * 2 * kvHeads * headDim, fixed };
}

function readConfig(folder: string): Record<string, unknown> | null {
  const file = path.join(folder, 'config.json');
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The graph file each component runs from: the chosen variant, else the one inspection reported. */
function componentFiles(report: ModelReport, variant: string | undefined): Array<{ role: string; file: string }> {
  return report.components.map((c) => {
    if (!variant) return { role: c.role, file: c.file };
    const v = c.variants.find((x) => x.dtype === variant);
    if (!v)
      throw new OcularError(
        'invalid_request',
        `${c.file}: no ${variant} variant (this model has ${c.variants.map((x) => x.dtype).join(', ') || 'one file'}).`,
      );
    return { role: c.role, file: v.file };
  });
}

/** The taps to plan a harvest of, with their widths; unknown names are refused with examples. */
function harvestTaps(report: ModelReport, requested: string[]): Array<{ name: string; width: number }> {
  const towers = report.components.flatMap((c) => (c.tower ? [c.tower] : []));
  const known = new Map(towers.flatMap((t) => t.taps.map((tap) => [tap.name, tap.width ?? t.width] as const)));
  const decoder = report.components.find((c) => c.role === 'decoder')?.tower;
  const names = requested.length > 0 ? requested : decoder ? [middleResidPost(decoder.layers)] : [];
  return names.map((name) => {
    const width = known.get(name);
    if (width === undefined)
      throw new OcularError(
        'invalid_request',
        `Unknown tap '${name}'. This model's taps look like ${
          [...known.keys()]
            .filter((n) => parseTap(n)?.hook === 'hook_resid_post')
            .slice(0, 2)
            .join(', ') || '(none found)'
        }.`,
      );
    if (width === null) throw new OcularError('invalid_request', `Tap ${name} has no known width, so its harvest size cannot be planned.`);
    return { name, width };
  });
}

/** Bytes of the logits a prefill of `context` tokens produces, from the decoder's `logits` output. */
function prefillLogits(decoder: ModelProto, batch: number, context: number): { bytes: number; note: string | null } {
  const logits = decoder.graph.output.find((o) => o.name === 'logits');
  const t = logits ? valueInfoType(logits) : null;
  const vocab = t?.shape?.[t.shape.length - 1];
  if (!t || typeof vocab !== 'number') return { bytes: 0, note: 'The decoder declares no logits width; prefill logits are not counted.' };
  const lastOnly = decoder.graph.input.some((i) => i.name === 'num_logits_to_keep' || i.name === 'logits_to_keep');
  const bytesPer = t.elemType === 10 || t.elemType === 16 ? 2 : 4;
  return { bytes: batch * (lastOnly ? 1 : context) * vocab * bytesPer, note: null };
}

export function planModel(report: ModelReport, options: ModelPlanOptions): ModelPlan {
  const notes: string[] = [];
  const root = report.kind === 'folder' ? report.path : path.dirname(report.path);
  const files = componentFiles(report, options.variant);
  const components = files.map(({ role, file }) => {
    const model = readModel(path.join(root, file));
    const byDtype: Record<string, number> = {};
    initializerBytes(model.graph, byDtype);
    return { role, file, model, bytes: sum(Object.values(byDtype)), byDtype };
  });
  const byDtype: Record<string, number> = {};
  for (const c of components) for (const [k, v] of Object.entries(c.byDtype)) byDtype[k] = (byDtype[k] ?? 0) + v;

  const decoder = components.find((c) => c.role === 'decoder');
  let groups: ModelPlan['caches']['groups'] = [];
  let logits = 0;
  if (decoder) {
    const states = decoderSignature(decoder.model.graph, decoder.file).states;
    groups = cacheGroups(states, options.batch, options.context);
    if (states.length === 0) notes.push(`${decoder.file} has no cache inputs: each step recomputes the whole context.`);
    const fromConfig = report.kind === 'folder' ? readConfig(root) : null;
    const expected = fromConfig ? configCacheElements(fromConfig as never) : null;
    if (expected && states.length > 0) {
      const elements = (g: (typeof groups)[number]) => g.bytes / STATE_BYTES[g.dtype as keyof typeof STATE_BYTES] / options.batch;
      const perToken = sum(groups.filter((g) => g.grows).map(elements)) / options.context;
      const fixed = sum(groups.filter((g) => !g.grows).map(elements));
      if (perToken !== expected.perToken || fixed !== expected.fixed)
        notes.push(
          `config.json implies ${expected.perToken} cache values per token and ${expected.fixed} fixed per sequence; the graph's cache inputs hold ${perToken} and ${fixed}. The graph is what runs, so the plan uses it.`,
        );
    }
    const l = prefillLogits(decoder.model, options.batch, options.context);
    logits = l.bytes;
    if (l.note) notes.push(l.note);
  } else notes.push('No decoder graph: caches and logits are not counted.');

  const taps = harvestTaps(report, options.taps);
  const harvestTapBytes = taps.map((t) => ({
    ...t,
    bytes: HarvestStore.estimateBytes({ decoder: options.tokens, vision: options.tokens }, { [t.name]: t.width }, 1, options.harvestDtype),
  }));
  const weights = sum(components.map((c) => c.bytes));
  const caches = sum(groups.map((g) => g.bytes));
  const memoryBytes = weights + caches + logits;
  return {
    path: report.path,
    options: { ...options, taps: taps.map((t) => t.name) },
    weights: {
      bytes: weights,
      byDtype,
      components: components.map(({ role, file, bytes, byDtype: d }) => ({ role, file, bytes, byDtype: d })),
    },
    caches: { bytes: caches, groups },
    prefillLogitsBytes: logits,
    memoryBytes,
    fits: options.gpuGiB === undefined ? null : memoryBytes <= options.gpuGiB * 2 ** 30,
    harvest: {
      bytes: sum(harvestTapBytes.map((t) => t.bytes)),
      dtype: options.harvestDtype,
      tokens: options.tokens,
      taps: harvestTapBytes,
    },
    notes,
  };
}

const GiB = 2 ** 30;
function size(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

export function formatPlan(plan: ModelPlan): string {
  const o = plan.options;
  const dtypes = (d: Record<string, number>) =>
    Object.entries(d)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${size(v)}`)
      .join(', ');
  const lines = [
    `model       ${plan.path}`,
    `for         batch ${o.batch}, context ${o.context} tokens${o.variant ? `, variant ${o.variant}` : ''}`,
    `weights     ${size(plan.weights.bytes)}  (${dtypes(plan.weights.byDtype)})`,
    ...plan.weights.components.map((c) => `  ${c.role.padEnd(16)}${size(c.bytes).padStart(11)}  ${c.file}`),
    `caches      ${size(plan.caches.bytes)}`,
    ...plan.caches.groups.map(
      (g) =>
        `  ${g.name.padEnd(24)}${size(g.bytes).padStart(11)}  ${g.tensors} × [${g.shape.join(', ')}] ${g.dtype}${g.grows ? '  (grows with context)' : ''}`,
    ),
    `logits      ${size(plan.prefillLogitsBytes)}  (a prefill of ${o.context} tokens)`,
    `memory      ${size(plan.memoryBytes)}  weights + caches + prefill logits${
      plan.fits === null ? '' : plan.fits ? `: fits in ${o.gpuGiB} GiB` : `: does NOT fit in ${o.gpuGiB} GiB`
    }`,
    `harvest     ${size(plan.harvest.bytes)} on disk for ${plan.harvest.tokens} tokens (${plan.harvest.dtype})`,
    ...plan.harvest.taps.map((t) => `  ${t.name.padEnd(32)}${size(t.bytes).padStart(11)}  width ${t.width}`),
  ];
  for (const n of plan.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
