import fs from 'node:fs';
import path from 'node:path';
import { AnalysisStore } from '../../core/analysis/analysis-store.js';
import { FeatureDetails } from '../../core/analysis/feature-detail.js';
import { LabelStore } from '../../core/analysis/label-store.js';
import { exportNeuronpedia } from '../../core/analysis/neuronpedia-export.js';
import { HarvestStore } from '../../core/harvest/harvest-store.js';
import { exportSaelens } from '../../core/harvest/saelens-export.js';
import { SaeStore } from '../../core/sae/sae-store.js';
import { Workspace } from '../../core/store/workspace.js';
import { requireString, UsageError, type CommandSpec } from '../args.js';

export const exportCommand: CommandSpec = {
  name: 'export',
  summary:
    "Share an analysis: `neuronpedia` writes Neuronpedia's bulk layout ({modelId}/{source}/features|activations|explanations/\n" +
    "batch-N.jsonl.gz) for the text side, plus Ocular's own records (image-patch examples, heatmaps, images) under ocular/.\n" +
    "Train past one machine: `harvest ID --format saelens` writes one tap as SAELens's cached-activation dataset (a Hugging Face\n" +
    '`datasets` Arrow folder for cached_activations_path), values copied bit for bit.',
  usage:
    'ocular export neuronpedia --workspace W --analysis ID --model-id ID --source ID --out DIR\n' +
    '       ocular export harvest ID --format saelens --workspace W --tap TAP --out DIR [--context-size N] [--drop-last]',
  options: {
    workspace: { type: 'string', short: 'w' },
    analysis: { type: 'string' },
    'model-id': { type: 'string' },
    source: { type: 'string' },
    out: { type: 'string' },
    format: { type: 'string' },
    tap: { type: 'string' },
    'context-size': { type: 'string' },
    'drop-last': { type: 'boolean' },
  },
  help: [
    '-w, --workspace W     workspace holding the analysis (opened read-only)',
    '    --analysis ID     analysis id (see the Features page or `ocular analyze --json`)',
    '    --model-id ID     Neuronpedia model id (e.g. ocular-demo-vlm)',
    '    --source ID       Neuronpedia source id (e.g. 1-ocular-res-512)',
    '    --out DIR         folder to write into (harvest: must not exist or be empty)',
    '    --format saelens  harvest export format (the only one)',
    '    --tap TAP         harvested tap to export (optional when the harvest has one tap)',
    '    --context-size N  rows per sequence, SAELens context_size (default 1); rows must fill whole sequences',
    '    --drop-last       leave out the last rows that do not fill a sequence instead of refusing',
  ],
  async run(values, positionals) {
    if (positionals[0] === 'harvest') return exportHarvest(values, positionals);
    if (positionals[0] !== 'neuronpedia') throw new UsageError(`Usage: ${exportCommand.usage}`);
    const dir = path.resolve(requireString(values, 'workspace'));
    const out = path.resolve(requireString(values, 'out'));
    // Checked before the workspace is opened, so a wrong --out changes and reads nothing.
    if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a file; export writes a folder.`);
    const ws = Workspace.open(dir, { readOnly: true });
    try {
      const analyses = new AnalysisStore(ws.db);
      const a = analyses.get(Number(requireString(values, 'analysis')));
      if (!a.summary) throw new UsageError(`Analysis ${a.id} has not finished.`);
      const sae = new SaeStore(ws.db, dir).get(a.saeId);
      const r = exportNeuronpedia(
        a.id,
        a.saeId,
        { analyses, details: new FeatureDetails(ws.db, dir), labels: new LabelStore(ws.db) },
        {
          modelId: requireString(values, 'model-id'),
          source: requireString(values, 'source'),
          hookName: sae.hookName ?? '',
          out,
          workspaceDir: dir,
        },
      );
      console.log(`exported ${r.features} features and ${r.explanations} explanations:\n${r.files.map((f) => `  ${f}`).join('\n')}`);
      return 0;
    } finally {
      ws.close();
    }
  },
};

function exportHarvest(values: Record<string, unknown>, positionals: string[]): number {
  const id = Number(positionals[1]);
  if (!Number.isInteger(id) || id < 1) throw new UsageError(`Usage: ${exportCommand.usage}`);
  if (values.format !== 'saelens')
    throw new UsageError(`--format must be saelens (the only harvest export), got ${String(values.format)}.`);
  const contextSize = values['context-size'] === undefined ? 1 : Number(values['context-size']);
  if (!Number.isInteger(contextSize) || contextSize < 1)
    throw new UsageError(`--context-size must be a positive integer, got ${String(values['context-size'])}.`);
  const dir = path.resolve(requireString(values, 'workspace'));
  const out = requireString(values, 'out');
  const ws = Workspace.open(dir, { readOnly: true });
  try {
    const harvests = new HarvestStore(ws.db, dir);
    const taps = Object.keys(harvests.meta(id).stats);
    const tap = typeof values.tap === 'string' ? values.tap : taps.length === 1 ? taps[0]! : undefined;
    if (!tap) throw new UsageError(`Harvest ${id} has several taps (${taps.join(', ')}); choose one with --tap.`);
    const r = exportSaelens(ws.db, dir, harvests, id, { tap, out, contextSize, dropLast: Boolean(values['drop-last']) });
    console.log(
      `exported ${r.rows} rows of ${r.hookName} as ${r.sequences} sequences of ${r.contextSize} (${r.dtype}, d_in ${r.dIn}) to ${r.out}` +
        (r.droppedRows ? `, leaving out the last ${r.droppedRows}` : '') +
        (r.tokenIds ? '' : '; no token_ids column (some rows have no token id)') +
        `\nSAELens: use_cached_activations=True, cached_activations_path="${r.out}", hook_name="${r.hookName}", d_in=${r.dIn}, context_size=${r.contextSize}`,
    );
    return 0;
  } finally {
    ws.close();
  }
}
