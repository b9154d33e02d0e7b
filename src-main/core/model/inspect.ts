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
import { valueInfoType } from '../onnx/graph-index.js';
import { missingExternalData, readModel, toNumber, type ModelProto } from '../onnx/model-io.js';
import { DATA_TYPE_NAMES } from '../onnx/schema.js';
import { discoverTowerTaps } from '../onnx/taps.js';
import { SUPPORTED_FAMILIES } from '../vlm/families.js';

export type { ComponentReport, ModelReport };
export type ComponentRole = ComponentReport['role'];
type TensorSummary = ComponentReport['inputs'][number];

const VARIANT_SUFFIXES: Array<[string, string]> = [
  ['_q4f16', 'q4f16'],
  ['_bnb4', 'bnb4'],
  ['_quantized', 'quantized'],
  ['_uint8', 'uint8'],
  ['_int8', 'int8'],
  ['_fp16', 'fp16'],
  ['_q4', 'q4'],
];

function splitVariant(stem: string): { base: string; dtype: string } {
  for (const [suffix, dtype] of VARIANT_SUFFIXES) if (stem.endsWith(suffix)) return { base: stem.slice(0, -suffix.length), dtype };
  return { base: stem, dtype: 'fp32' };
}

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

function inspectGraph(file: string, rel: string, role: ComponentRole): ComponentReport {
  const model: ModelProto = readModel(file);
  const ops: Record<string, number> = {};
  for (const n of model.graph.node) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.op_type}` : n.op_type;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  const prefix = role === 'vision_encoder' ? 'vision.' : '';
  const tower = role === 'decoder' || role === 'vision_encoder' || role === 'other' ? discoverTowerTaps(model.graph, prefix) : null;
  const initializers = new Set(model.graph.initializer.map((t) => t.name));
  return {
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
        ? { prefix, layers: tower.layers, width: tower.width, taps: tower.taps.map((t) => ({ name: t.name, width: t.width })) }
        : null,
  };
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
    const component = inspectGraph(abs, path.basename(abs), roleOf(base));
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
      const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { model_type?: string; architectures?: string[] };
      modelType = config.model_type ?? null;
      architectures = config.architectures ?? [];
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
  for (const [base, variants] of groups) {
    const chosen = variants.find((v) => v.dtype === 'fp32') ?? variants[0]!;
    try {
      const report = inspectGraph(path.join(abs, chosen.file), chosen.file, roleOf(base));
      report.variants = variants;
      if (report.missingExternalData.length > 0)
        warnings.push(`${chosen.file}: weights not present (${report.missingExternalData.join(', ')}); graph-only inspection.`);
      components.push(report);
    } catch (err) {
      problems.push(`${chosen.file}: ${(err as Error).message}`);
    }
  }

  if (modelType && !(SUPPORTED_FAMILIES as readonly string[]).includes(modelType)) {
    warnings.push(
      `Model family '${modelType}': taps, surgery and inspection work, but Ocular cannot generate with it yet (supported: ${SUPPORTED_FAMILIES.join(', ')}).`,
    );
  }
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
  return { path: abs, kind: 'folder', modelType, architectures, components, problems, warnings };
}

export function formatReport(report: ModelReport): string {
  const lines = [`model       ${report.path}`];
  if (report.modelType)
    lines.push(`type        ${report.modelType}${report.architectures.length ? ` (${report.architectures.join(', ')})` : ''}`);
  for (const c of report.components) {
    lines.push('', `${c.role.padEnd(16)}${c.file}   variants: ${c.variants.map((v) => v.dtype).join(', ') || 'fp32'}`);
    if (c.tower) {
      const resid = c.tower.taps.filter((t) => t.name.endsWith('hook_resid_post'));
      lines.push(
        `  tower     ${c.tower.layers} layers, width ${c.tower.width ?? '?'}; taps ${c.tower.taps.length} (${resid[0]?.name} … ${resid[resid.length - 1]?.name})`,
      );
      const hooks = [...new Set(c.tower.taps.map((t) => t.name.split('.').pop()))];
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
