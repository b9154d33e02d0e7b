import fs from 'node:fs';
import path from 'node:path';
import { importSae } from '../../core/sae/sae-io.js';
import { SaeStore } from '../../core/sae/sae-store.js';
import { DB_FILE, Workspace } from '../../core/store/workspace.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';

function openWorkspace(dir: string): Workspace {
  return fs.existsSync(path.join(dir, DB_FILE)) ? Workspace.open(dir) : Workspace.create(dir);
}

export const saeCommand: CommandSpec = {
  name: 'sae',
  summary:
    'Move SAEs between Ocular and Python: import SAELens (cfg.json + sae_weights.safetensors) or sparsify\n' +
    '(cfg.json + sae.safetensors) folders into a workspace, export them as SAELens folders, list them.',
  usage: 'ocular sae import DIR --workspace W [--name N] [--json] | ocular sae export ID --workspace W --out DIR | ocular sae list --workspace W [--json]',
  options: { workspace: { type: 'string', short: 'w' }, name: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } },
  help: [
    '-w, --workspace W     workspace folder (created if needed for import)',
    '    --name N          import: display name (default: the folder name)',
    '    --out DIR         export: folder to write the SAELens files into',
    '    --json            print machine-readable JSON',
  ],
  async run(values, positionals) {
    const [action, arg] = positionals;
    const ws = openWorkspace(path.resolve(requireString(values, 'workspace')));
    try {
      const saes = new SaeStore(ws.db, ws.dir);
      if (action === 'import' && arg) {
        const sae = importSae(arg);
        const record = saes.add(sae, typeof values.name === 'string' ? values.name : path.basename(path.resolve(arg)), 'import');
        console.log(values.json ? JSON.stringify(record, null, 2) : `imported ${sae.format} SAE ${record.id}: ${record.architecture}, d_in ${record.dIn}, d_sae ${record.dSae}${record.hookName ? `, ${record.hookName}` : ''}`);
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
        else for (const s of list) console.log(`${String(s.id).padStart(4)}  ${s.name}  ${s.architecture}  ${s.dIn}->${s.dSae}${s.k ? ` k=${s.k}` : ''}  ${s.hookName ?? ''}`);
        return 0;
      }
      throw new UsageError(`Usage: ${saeCommand.usage}`);
    } finally {
      ws.close();
    }
  },
};
