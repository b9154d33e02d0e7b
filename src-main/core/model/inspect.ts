/**
 * Inspects a model folder in the onnx-community / transformers.js layout (config.json, tokenizer
 * files, onnx/vision_encoder*.onnx, onnx/embed_tokens*.onnx, onnx/decoder_model_merged*.onnx) or a
 * single graph file: towers, layer counts, widths, taps, inputs/outputs, ops and dtype variants.
 * Only graph files are read; weights stay on disk. Problems are reported per file so a researcher
 * knows exactly what is missing or inconsistent.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ComponentReport, ModelReport } from '../../contract/contract.js';
import { OcularError } from '../errors.js';
import { decoderSignature } from '../generation/decoder-states.js';
import { valueInfoType } from '../onnx/graph-index.js';
import { missingExternalData, readModel, toNumber, type ModelProto } from '../onnx/model-io.js';
import { DATA_TYPE_NAMES } from '../onnx/schema.js';
import { applySurgery } from '../onnx/surgery.js';
import { discoverTowerTaps, type TowerTaps } from '../onnx/taps.js';
import { SUPPORTED_FAMILIES } from '../vlm/families.js';
import { splitVariant } from './graph-files.js';
import { middleResidPost, parseTap, towerPrefix } from '../../contract/tap-names.js';

export type { ComponentReport, ModelReport };
export type ComponentRole = ComponentReport['role'];
type TensorSummary = ComponentReport['inputs'][number];

function roleOf(base: string): ComponentRole {
  if (base.startsWith('vision_encoder') || base === 'vision_model') return 'vision_encoder';
  if (base.startsWith('embed_tokens')) return 'embed_tokens';
  if (base.startsWith('decoder_model') || base === 'model' || base === 'text_model') return 'decoder';
  return 'other';
}

function summarize(vi: { name: string; type?: unknown }): TensorSummary {
  const t = valueInfoType(vi as never);
  return { name: vi.name, type: t ? (DATA_TYPE_NAMES[t.elemType] ?? `type${t.elemType}`) : 'unknown', shape: t?.shape ?? null };
}

interface InspectedGraph {
  report: ComponentReport;
  model: ModelProto;
  tower: TowerTaps | null;
}

function inspectGraph(file: string, rel: string, role: ComponentRole): InspectedGraph {
  const model: ModelProto = readModel(file);
  const ops: Record<string, number> = {};
  for (const n of model.graph.node) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.op_type}` : n.op_type;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  const prefix = towerPrefix(role === 'vision_encoder' ? 'vision' : 'decoder');
  const tower = role === 'decoder' || role === 'vision_encoder' || role === 'other' ? discoverTowerTaps(model.graph, prefix) : null;
  const initializers = new Set(model.graph.initializer.map((t) => t.name));
  const report: ComponentReport = {
    role,
    file: rel,
    variants: [],
    opset: model.opset_import.map((o) => ({ domain: o.domain || 'ai.onnx', version: toNumber(o.version) })),
    inputs: model.graph.input.filter((i) => !initializers.has(i.name)).map(summarize),
    outputs: model.graph.output.map(summarize),
    ops,
    externalData: [
      ...new Set(model.graph.initializer.flatMap((t) => t.external_data.filter((e) => e.key === 'location').map((e) => e.value))),
    ],
    missingExternalData: missingExternalData(model, file),
    tower:
      tower && tower.layers > 0
        ? {
            prefix,
            layers: tower.layers,
            width: tower.width,
            taps: tower.taps.map((t) => ({ name: t.name, width: t.width })),
            blockKinds: tower.sublayerKinds.map((k) => k.join(',')),
          }
        : null,
  };
  return { report, model, tower: tower && tower.layers > 0 ? tower : null };
}

type Capabilities = NonNullable<ModelReport['capabilities']>;

/**
 * What Ocular can do with a model folder, each with its reason. Generation, harvest and experiments all
 * run through the VLM pipeline, so they need a family it knows (SUPPORTED_FAMILIES), the three graphs and
 * a decoder with its cache; harvest needs taps; edits need graph surgery to validate on the decoder
 * (checked here by editing its middle block without writing anything).
 */
/** What a family's generation covers, where it is narrower than the others'. */
const FAMILY_NOTES: Record<string, string> = {
  llava_onevision: ' (anyres tiles with unpadding, anyres_max downsampling and newline tokens; one image per prompt)',
};

/** LLaVA-OneVision's vision graph in Ocular's layout applies the anyres packing plan (see vlm/anyres.ts). */
function packingVision(vision: InspectedGraph): boolean {
  const names = new Set(vision.report.inputs.map((i) => i.name));
  return names.has('pack_index') && names.has('pack_weight');
}

function capabilitiesOf(modelType: string | null, graphs: Map<ComponentRole, InspectedGraph>): Capabilities {
  const decoder = graphs.get('decoder');
  const missing = (['vision_encoder', 'embed_tokens', 'decoder'] as const).filter((r) => !graphs.has(r));
  let pipeline: string | null = null;
  if (!modelType) pipeline = 'config.json names no model_type, so the family is unknown';
  else if (!(SUPPORTED_FAMILIES as readonly string[]).includes(modelType))
    pipeline = `Ocular cannot run the '${modelType}' family yet (it runs ${SUPPORTED_FAMILIES.join(', ')})`;
  else if (missing.length > 0) pipeline = `the ${missing.join(', ').replace(/_/g, ' ')} graph is missing`;
  else if (modelType === 'llava_onevision' && !packingVision(graphs.get('vision_encoder')!))
    pipeline =
      'its vision graph takes no pack_index / pack_weight inputs: packing a plain per-tile export (unpadding, anyres_max downsampling, image_newline) is not implemented';
  else if ([...graphs.values()].some((g) => g.report.missingExternalData.length > 0))
    pipeline = `the weights are not present (${[...graphs.values()].flatMap((g) => g.report.missingExternalData).join(', ')}): a graph-only copy`;
  else {
    try {
      if (decoderSignature(decoder!.model.graph, decoder!.report.file).states.length === 0)
        pipeline = `${decoder!.report.file} has no cache inputs (past_*)`;
    } catch (err) {
      pipeline = (err as Error).message;
    }
  }
  const towers = [...graphs.values()].filter((g) => g.tower && (g.report.role === 'decoder' || g.report.role === 'vision_encoder'));
  const tapSummary = towers.map((g) => `${g.tower!.layers} ${g.report.role === 'decoder' ? 'decoder' : 'vision'} blocks`).join(' + ');
  const surgery = decoder?.tower ? surgeryCheck(decoder.model, decoder.tower) : 'no residual stream was found in the decoder';
  const graphOnly = surgery === null ? '; graph surgery itself works on these graphs' : '';
  return {
    generate: pipeline
      ? { ok: false, detail: pipeline }
      : { ok: true, detail: `${modelType}: greedy and sampled generation${FAMILY_NOTES[modelType!] ?? ''}` },
    harvest: pipeline
      ? { ok: false, detail: `${pipeline}${graphOnly}` }
      : tapSummary
        ? { ok: true, detail: `taps at ${tapSummary} (${towers.reduce((n, g) => n + g.tower!.taps.length, 0)} hooks)` }
        : { ok: false, detail: 'no residual stream was found, so there are no taps' },
    edit: pipeline
      ? { ok: false, detail: `${pipeline}${graphOnly}` }
      : surgery
        ? { ok: false, detail: surgery }
        : { ok: true, detail: 'steering and SAE edits (error term kept) at decoder taps' },
  };
}

/** Null if steering and exposing the middle decoder block's residual stream makes a graph that validates, else why not. */
function surgeryCheck(model: ModelProto, tower: TowerTaps): string | null {
  const tap = middleResidPost(tower.layers);
  try {
    applySurgery(model, tower, { expose: [tap], steer: [tap] });
    return null;
  } catch (err) {
    return `graph surgery at ${tap} fails: ${(err as Error).message}`;
  }
}

function lastDim(t: TensorSummary | undefined): number | null {
  const d = t?.shape?.[t.shape.length - 1];
  return typeof d === 'number' ? d : null;
}

export function inspectModel(target: string): ModelReport {
  const abs = path.resolve(target);
  if (!fs.existsSync(abs)) throw new OcularError('not_found', `No model at ${abs}: the path does not exist.`);
  const problems: string[] = [];
  const warnings: string[] = [];

  if (fs.statSync(abs).isFile()) {
    if (!abs.endsWith('.onnx')) throw new OcularError('invalid_request', `${abs} is not an .onnx graph file.`);
    const { base } = splitVariant(path.basename(abs, '.onnx'));
    const component = inspectGraph(abs, path.basename(abs), roleOf(base)).report;
    if (component.missingExternalData.length > 0)
      warnings.push(`${component.file}: weights not present (${component.missingExternalData.join(', ')}); graph-only inspection.`);
    return { path: abs, kind: 'file', modelType: null, architectures: [], components: [component], problems, warnings };
  }

  const onnxDir = fs.existsSync(path.join(abs, 'onnx')) ? path.join(abs, 'onnx') : abs;
  const graphs = fs
    .readdirSync(onnxDir)
    .filter((f) => f.endsWith('.onnx') && !f.includes('.ocular-'))
    .sort();
  if (graphs.length === 0)
    throw new OcularError(
      'invalid_request',
      `${abs} is not a model folder: it has no .onnx files (looked in ${path.relative(abs, onnxDir) || '.'}).`,
    );

  let modelType: string | null = null;
  let architectures: string[] = [];
  const configFile = path.join(abs, 'config.json');
  if (fs.existsSync(configFile)) {
    try {
      const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as unknown;
      if (config === null || typeof config !== 'object' || Array.isArray(config))
        problems.push(`config.json: must hold a JSON object, not ${Array.isArray(config) ? 'an array' : String(config)}.`);
      else {
        const { model_type, architectures: archs } = config as { model_type?: unknown; architectures?: unknown };
        if (model_type !== undefined && typeof model_type !== 'string') problems.push('config.json: model_type must be a string.');
        else modelType = model_type ?? null;
        architectures = Array.isArray(archs) ? archs.map(String) : [];
      }
    } catch (err) {
      problems.push(`config.json: not valid JSON (${(err as Error).message}).`);
    }
  } else {
    warnings.push('config.json: missing; Ocular cannot tell the model family, so generation will not be available.');
  }

  const groups = new Map<string, Array<{ dtype: string; file: string }>>();
  for (const f of graphs) {
    const { base, dtype } = splitVariant(path.basename(f, '.onnx'));
    groups.set(base, [...(groups.get(base) ?? []), { dtype, file: path.relative(abs, path.join(onnxDir, f)) }]);
  }
  const components: ComponentReport[] = [];
  const inspected = new Map<ComponentRole, InspectedGraph>();
  for (const [base, variants] of groups) {
    const chosen = variants.find((v) => v.dtype === 'fp32') ?? variants[0]!;
    try {
      const graph = inspectGraph(path.join(abs, chosen.file), chosen.file, roleOf(base));
      const report = graph.report;
      if (!inspected.has(report.role)) inspected.set(report.role, graph);
      report.variants = variants;
      if (report.missingExternalData.length > 0)
        warnings.push(`${chosen.file}: weights not present (${report.missingExternalData.join(', ')}); graph-only inspection.`);
      components.push(report);
    } catch (err) {
      problems.push(`${chosen.file}: ${(err as Error).message}`);
    }
  }

  const capabilities = capabilitiesOf(modelType, inspected);
  if (modelType && !(SUPPORTED_FAMILIES as readonly string[]).includes(modelType))
    warnings.push(
      `Model family '${modelType}': taps, surgery and inspection work, but Ocular cannot generate with it yet (supported: ${SUPPORTED_FAMILIES.join(', ')}).`,
    );
  const byRole = (role: ComponentRole) => components.find((c) => c.role === role);
  const decoder = byRole('decoder');
  const embed = byRole('embed_tokens');
  const vision = byRole('vision_encoder');
  if (!decoder) problems.push(`No decoder graph: expected onnx/decoder_model_merged.onnx (or a dtype variant) in ${abs}.`);
  if (vision && !embed)
    problems.push(
      `${vision.file} is present but onnx/embed_tokens.onnx is missing: a VLM export needs the token embedding to merge image features.`,
    );
  if (decoder) {
    const embedsIn = decoder.inputs.find((i) => i.name === 'inputs_embeds');
    const width = lastDim(embedsIn);
    const embedOut = embed?.outputs.find((o) => o.name === 'inputs_embeds') ?? embed?.outputs[0];
    if (embed && width !== null && lastDim(embedOut) !== null && lastDim(embedOut) !== width) {
      problems.push(`${embed.file}: outputs width ${lastDim(embedOut)} but ${decoder.file} expects inputs_embeds of width ${width}.`);
    }
    const feats = vision?.outputs.find((o) => o.name === 'image_features') ?? vision?.outputs[0];
    if (vision && width !== null && lastDim(feats) !== null && lastDim(feats) !== width) {
      problems.push(`${vision.file}: image features have width ${lastDim(feats)} but ${decoder.file} expects ${width}.`);
    }
    if (vision && !embedsIn) problems.push(`${decoder.file}: has no inputs_embeds input, so image features cannot be merged into it.`);
    if (!decoder.tower) warnings.push(`${decoder.file}: no residual stream found; taps are unavailable for this graph.`);
  }
  if (!fs.existsSync(path.join(abs, 'tokenizer.json')) && !fs.existsSync(path.join(abs, 'tokenizer_config.json')) && onnxDir !== abs) {
    warnings.push('tokenizer.json: missing; text cannot be tokenized.');
  }
  return { path: abs, kind: 'folder', modelType, architectures, capabilities, components, problems, warnings };
}

export function formatReport(report: ModelReport): string {
  const lines = [`model       ${report.path}`];
  if (report.modelType)
    lines.push(`type        ${report.modelType}${report.architectures.length ? ` (${report.architectures.join(', ')})` : ''}`);
  if (report.capabilities) {
    const first = report.capabilities.generate.detail;
    for (const [what, c] of Object.entries(report.capabilities)) {
      const detail = what !== 'generate' && c.detail.startsWith(first) ? `(as above)${c.detail.slice(first.length)}` : c.detail;
      lines.push(`${what.padEnd(12)}${c.ok ? 'yes' : 'no '}  ${detail}`);
    }
  }
  for (const c of report.components) {
    lines.push('', `${c.role.padEnd(16)}${c.file}   variants: ${c.variants.map((v) => v.dtype).join(', ') || 'fp32'}`);
    if (c.tower) {
      const resid = c.tower.taps.filter((t) => parseTap(t.name)?.hook === 'hook_resid_post');
      lines.push(
        `  tower     ${c.tower.layers} layers${blockMix(c.tower.blockKinds)}, width ${c.tower.width ?? '?'}; taps ${c.tower.taps.length} (${resid[0]?.name} … ${resid[resid.length - 1]?.name})`,
      );
      const hooks = [...new Set(c.tower.taps.map((t) => parseTap(t.name)?.hook))];
      lines.push(`  hooks     ${hooks.join(', ')}`);
    }
    lines.push(
      `  inputs    ${c.inputs
        .map((i) => `${i.name}:${i.type}[${(i.shape ?? []).join(',')}]`)
        .slice(0, 6)
        .join('  ')}${c.inputs.length > 6 ? `  (+${c.inputs.length - 6})` : ''}`,
    );
    lines.push(
      `  outputs   ${c.outputs
        .map((i) => `${i.name}:${i.type}[${(i.shape ?? []).join(',')}]`)
        .slice(0, 4)
        .join('  ')}${c.outputs.length > 4 ? `  (+${c.outputs.length - 4})` : ''}`,
    );
    lines.push(
      `  ops       ${Object.entries(c.ops)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}×${v}`)
        .join(' ')}`,
    );
    lines.push(`  opset     ${c.opset.map((o) => `${o.domain} ${o.version}`).join(', ')}`);
  }
  for (const p of report.problems) lines.push(`problem: ${p}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

/** ' (18 linear-attention + 6 attention)' for a hybrid tower; nothing when every block is alike. */
function blockMix(kinds: string[] | undefined): string {
  const mixers = (kinds ?? []).map((k) => k.split(',')[0]!);
  const counts = new Map<string, number>();
  for (const m of mixers) counts.set(m, (counts.get(m) ?? 0) + 1);
  if (counts.size < 2) return '';
  const label = (m: string) => (m === 'recurrent' ? 'linear-attention/recurrent' : m);
  return ` (${[...counts].map(([m, n]) => `${n} ${label(m)}`).join(' + ')})`;
}
