/**
 * Before a model is registered, everything a job will later load is loaded once: config.json (a JSON
 * object), the tokenizer and processor through transformers.js (the loader the pipeline uses), and
 * the family spec, checked against the graphs. A folder that would fail mid-harvest ("undefined is
 * not iterable") is refused here with one line per problem, and nothing is registered.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ModelReport } from '../../contract/contract.js';
import { errorMessage } from '../errors.js';
import { familySpec, SUPPORTED_FAMILIES } from '../vlm/families.js';
import { loadProcessor, readProcessorConfig } from '../vlm/processor.js';

/** The report with what loading found added to its problems. */
export async function checkModelLoads(report: ModelReport): Promise<ModelReport> {
  if (report.kind !== 'folder' || report.problems.length > 0) return report;
  const problems: string[] = [];
  const abs = report.path;
  const configFile = path.join(abs, 'config.json');
  const graphOnly = report.components.length > 0 && report.components.every((c) => c.missingExternalData.length > 0);
  if (!fs.existsSync(configFile)) {
    // A folder of graphs without weights is inspected for taps and surgery only; one with weights is a model.
    if (!graphOnly) problems.push('config.json is missing: Ocular cannot tell the model family, so it cannot run this model');
    return { ...report, problems };
  }
  // Nothing will be run from a graph-only copy (its capabilities say so): it is registered for planning and
  // graph inspection, which need no tokenizer or processor.
  if (graphOnly || !report.modelType || !(SUPPORTED_FAMILIES as readonly string[]).includes(report.modelType)) return report;
  try {
    const { tokenizer, config } = await loadProcessor(abs);
    const spec = familySpec(config, readProcessorConfig(abs));
    const vocab = Number(tokenizer.model?.vocab?.length ?? tokenizer.model?.tokens_to_ids?.size ?? NaN);
    if (!Number.isInteger(spec.imageTokenId) || spec.imageTokenId < 0)
      problems.push(`config.json: the ${spec.family} family needs an integer image token id (image_token_id / image_token_index)`);
    else if (Number.isFinite(vocab) && spec.imageTokenId >= vocab + 1024)
      problems.push(`config.json: image token id ${spec.imageTokenId} is outside the tokenizer's vocabulary (${vocab} tokens)`);
    const decoder = report.components.find((c) => c.role === 'decoder');
    const positions = decoder?.inputs.find((i) => i.name === 'position_ids');
    const rank = positions?.shape?.length ?? null;
    if (spec.positions === 'mrope' && rank !== null && rank !== 3)
      problems.push(
        `config.json says model_type '${spec.family}' (3-D M-RoPE positions) but ${decoder!.file} takes position_ids of rank ${rank}: the family is wrong for these graphs`,
      );
    if (spec.positions === 'mask' && rank === 3)
      problems.push(
        `config.json says model_type '${spec.family}' but ${decoder!.file} takes 3-D M-RoPE position_ids (a Qwen-VL graph): the family is wrong for these graphs`,
      );
  } catch (err) {
    problems.push(errorMessage(err).replace(/\s*\n\s*/g, ' '));
  }
  return problems.length > 0 ? { ...report, problems: [...report.problems, ...problems] } : report;
}
