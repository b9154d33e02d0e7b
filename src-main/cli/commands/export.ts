import fs from 'node:fs';
import path from 'node:path';
import { AnalysisStore } from '../../core/analysis/analysis-store.js';
import { FeatureDetails } from '../../core/analysis/feature-detail.js';
import { LabelStore } from '../../core/analysis/label-store.js';
import { exportNeuronpedia } from '../../core/analysis/neuronpedia-export.js';
import { SaeStore } from '../../core/sae/sae-store.js';
import { Workspace } from '../../core/store/workspace.js';
import { requireString, UsageError, type CommandSpec } from '../args.js';

export const exportCommand: CommandSpec = {
  name: 'export',
  summary:
    "Share an analysis: `neuronpedia` writes Neuronpedia's bulk layout ({modelId}/{source}/features|activations|explanations/\n" +
    "batch-N.jsonl.gz) for the text side, plus Ocular's own records (image-patch examples, heatmaps, images) under ocular/.",
  usage: 'ocular export neuronpedia --workspace W --analysis ID --model-id ID --source ID --out DIR',
  options: {
    workspace: { type: 'string', short: 'w' },
    analysis: { type: 'string' },
    'model-id': { type: 'string' },
    source: { type: 'string' },
    out: { type: 'string' },
  },
  help: [
    '-w, --workspace W     workspace holding the analysis (opened read-only)',
    '    --analysis ID     analysis id (see the Features page or `ocular analyze --json`)',
    '    --model-id ID     Neuronpedia model id (e.g. ocular-demo-vlm)',
    '    --source ID       Neuronpedia source id (e.g. 1-ocular-res-512)',
    '    --out DIR         folder to write into',
  ],
  async run(values, positionals) {
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
