import fs from 'node:fs';
import path from 'node:path';
import { importSae } from '../../core/sae/sae-io.js';
import { SaeStore } from '../../core/sae/sae-store.js';
import { DB_FILE, Workspace } from '../../core/store/workspace.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';
import { ensureModelAndDataset, finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';
import { jobResult } from '../../contract/job-results.js';

/** Import creates the workspace if needed; export and list only read it. */
function openWorkspace(dir: string, forImport: boolean): Workspace {
  if (fs.existsSync(path.join(dir, DB_FILE))) return Workspace.open(dir, { readOnly: !forImport });
  if (forImport) return Workspace.create(dir);
  throw new UsageError(`No workspace at ${dir}.`);
}

export const saeCommand: CommandSpec = {
  name: 'sae',
  summary:
    'Move SAEs between Ocular and Python: import SAELens (cfg.json + sae_weights.safetensors) or sparsify\n' +
    '(cfg.json + sae.safetensors) folders into a workspace, export them as SAELens folders, list them; evaluate\n' +
    'one spliced into its model (CE increase, CE loss recovered vs zero-ablation, accuracy change).',
  usage:
    'ocular sae import DIR --workspace W [--name N] [--json] | ocular sae export ID --workspace W --out DIR | ocular sae list --workspace W [--json]\n' +
    '       ocular sae eval ID --workspace W --model DIR --dataset DIR [--limit N] [--no-accuracy] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    name: { type: 'string' },
    out: { type: 'string' },
    model: { type: 'string' },
    dataset: { type: 'string' },
    limit: { type: 'string' },
    'no-accuracy': { type: 'boolean' },
    device: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W     workspace folder (created if needed for import)',
    '    --name N          import: display name (default: the folder name)',
    '    --out DIR         export: folder to write the SAELens files into',
    '    --model DIR       eval: the model whose tap the SAE reads',
    '    --dataset DIR     eval: dataset folder (items with reference answers)',
    '    --limit N         eval: items to use (default 64)',
    '    --no-accuracy     eval: skip generating and grading answers (cross-entropy only)',
    '    --json            print machine-readable JSON',
  ],
  async run(values, positionals) {
    const [action, arg] = positionals;
    if (action === 'eval' && arg) return evaluate(Number(arg), values);
    const workspace = path.resolve(requireString(values, 'workspace'));
    // Validate the whole SAE before the workspace is created or opened: a refused import changes nothing.
    const imported = action === 'import' && arg ? importSae(arg) : null;
    const ws = openWorkspace(workspace, action === 'import');
    try {
      const saes = new SaeStore(ws.db, ws.dir);
      if (imported) {
        const sae = imported;
        const record = saes.add(sae, typeof values.name === 'string' ? values.name : path.basename(path.resolve(arg!)), 'import');
        console.log(
          values.json
            ? JSON.stringify({ ...record, folded: sae.folded ?? [] }, null, 2)
            : `imported ${sae.format} SAE ${record.id}: ${record.architecture}, d_in ${record.dIn}, d_sae ${record.dSae}${record.hookName ? `, ${record.hookName}` : ''}` +
                (sae.folded?.length ? `\n  folded into the weights: ${sae.folded.join('; ')}` : ''),
        );
        return 0;
      }
      if (action === 'export' && arg) {
        const out = saes.export(Number(arg), requireString(values, 'out'));
        console.log(`exported SAE ${arg} to ${out} (SAELens format)`);
        return 0;
      }
      if (action === 'list') {
        const list = saes.list();
        if (values.json) console.log(JSON.stringify(list, null, 2));
        else
          for (const s of list)
            console.log(
              `${String(s.id).padStart(4)}  ${s.name}  ${s.architecture}  ${s.dIn}->${s.dSae}${s.k ? ` k=${s.k}` : ''}  ${s.hookName ?? ''}`,
            );
        return 0;
      }
      throw new UsageError(`Usage: ${saeCommand.usage}`);
    } finally {
      ws.close();
    }
  },
};

async function evaluate(saeId: number, values: Record<string, unknown>): Promise<number> {
  const backend = nodeBackend({ pinnedWorkspace: path.resolve(requireString(values, 'workspace')) });
  try {
    const opened = await backend.invoke('workspace.open', {});
    if (!opened.ok) throw new UsageError(opened.error.message);
    const { modelId, datasetId } = await ensureModelAndDataset(
      backend,
      path.resolve(requireString(values, 'model')),
      path.resolve(requireString(values, 'dataset')),
    );
    const job = backend.startTrustedJob('sae-eval', {
      saeId,
      modelId,
      datasetId,
      ...(values.limit === undefined ? {} : { limit: Number(values.limit) }),
      accuracy: !values['no-accuracy'],
      device: values.device ?? 'auto',
    });
    const done = await finished(backend, job.id, Boolean(values.json));
    if (done.state !== 'succeeded') {
      console.error(`evaluation ${done.state}: ${done.error ?? ''}`);
      return 1;
    }
    const e = jobResult(done, 'sae-eval').evaluation;
    if (values.json) console.log(JSON.stringify(e, null, 2));
    else {
      console.log(`SAE ${saeId} spliced in, ${e.items} items, ${e.tokens} scored tokens:`);
      console.log(
        `  CE clean ${e.ceClean.toFixed(4)}, spliced ${e.ceSpliced.toFixed(4)} (+${e.ceIncrease.toFixed(4)}), zero-ablated ${e.ceZeroAblated.toFixed(4)}; CE loss recovered ${(e.ceLossRecovered * 100).toFixed(1)}%`,
      );
      if (e.accuracyClean !== null)
        console.log(
          `  accuracy clean ${(e.accuracyClean * 100).toFixed(1)}%, spliced ${(e.accuracySpliced! * 100).toFixed(1)}% (${(e.accuracyChange! * 100).toFixed(1)} points)`,
        );
    }
    return 0;
  } finally {
    await backend.close();
  }
}
