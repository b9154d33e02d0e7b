import fs from 'node:fs';
import path from 'node:path';
import type { Device } from '../../contract/contract.js';
import type { TokenKind } from '../../core/harvest/harvest-store.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';
import { ensureModelAndDataset, finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';

export const harvestCommand: CommandSpec = {
  name: 'harvest',
  summary:
    'Run a VLM over a dataset and store activations at chosen taps (decoder and vision tower) for chosen token\nkinds, as shards with a row index, in a workspace.',
  usage:
    'ocular harvest --workspace W --model DIR --dataset DIR --tap NAME [--tap NAME ...] [--tokens image,text,generated] [--dtype fp16|fp32] [--limit N] [--json]',
  options: {
    workspace: { type: 'string', short: 'w' },
    model: { type: 'string' },
    dataset: { type: 'string' },
    tap: { type: 'string', multiple: true },
    tokens: { type: 'string' },
    dtype: { type: 'string' },
    limit: { type: 'string' },
    'shard-rows': { type: 'string' },
    device: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '-w, --workspace W     workspace (created if needed)',
    '    --model DIR       model folder (registered in the workspace if new)',
    '    --dataset DIR     dataset folder (imported into the workspace if new)',
    '    --tap NAME        tap to capture, e.g. blocks.1.hook_resid_post or vision.blocks.1.hook_resid_post (repeatable)',
    '    --tokens KINDS    comma-separated: image, text, generated (default image,text)',
    '    --dtype D         fp16 (default) or fp32',
    '    --limit N         only the first N items',
    '    --shard-rows N    rows per shard file (default 65536)',
    '    --device D        auto, cpu or cuda',
    '    --json            print the harvest record as JSON',
  ],
  async run(values) {
    const ws = path.resolve(requireString(values, 'workspace'));
    const taps = (values.tap as string[] | undefined) ?? [];
    if (taps.length === 0) throw new UsageError('Give at least one --tap (see `ocular model inspect` for the tap names).');
    const backend = nodeBackend({ pinnedWorkspace: ws });
    const call = backend.call.bind(backend);
    const json = Boolean(values.json);
    try {
      await call(fs.existsSync(path.join(ws, 'workspace.sqlite')) ? 'workspace.open' : 'workspace.create', {});
      const { modelId, datasetId } = await ensureModelAndDataset(
        backend,
        path.resolve(requireString(values, 'model')),
        path.resolve(requireString(values, 'dataset')),
      );
      const started = await call('harvests.start', {
        modelId,
        datasetId,
        taps,
        tokenKinds: (typeof values.tokens === 'string' ? values.tokens.split(',').map((s) => s.trim()) : ['image', 'text']) as TokenKind[],
        dtype: (values.dtype ?? 'fp16') as 'fp16' | 'fp32',
        limit: values.limit === undefined ? null : Number(values.limit),
        ...(values['shard-rows'] === undefined ? {} : { shardRows: Number(values['shard-rows']) }),
        device: (values.device ?? 'auto') as Device,
      });
      if (!json)
        console.error(
          `estimated size ${(started.estimate.bytes / 1e6).toFixed(1)} MB${started.estimate.freeBytes === null ? '' : ` (free: ${(started.estimate.freeBytes / 1e9).toFixed(1)} GB)`}`,
        );
      const job = await finished(backend, started.job.id, json);
      if (job.state !== 'succeeded') {
        console.error(`harvest ${job.state}: ${job.error ?? ''}`);
        return 1;
      }
      const record = (await call('harvests.list', {})).find((h) => h.id === started.harvest.id)!;
      if (json) console.log(JSON.stringify(record, null, 2));
      else {
        console.log(`harvest ${record.id}: ${record.items} items, ${record.rows.decoder} decoder rows, ${record.rows.vision} vision rows`);
        for (const [tap, s] of Object.entries(record.stats))
          console.log(`  ${tap}: ${s.rows} x ${s.width}, mean norm ${s.meanNorm.toFixed(3)}`);
      }
      return 0;
    } finally {
      await backend.close();
    }
  },
};
