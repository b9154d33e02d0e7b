import fs from 'node:fs';
import path from 'node:path';
import type { Device } from '../../contract/contract.js';
import type { TokenKind } from '../../core/harvest/harvest-store.js';
import { UsageError, requireString, type CommandSpec } from '../args.js';
import { ensureModelAndDataset, finished } from '../backend-calls.js';
import { nodeBackend } from '../node-backend.js';
import type { Backend } from '../../core/backend/backend.js';
import { OcularError } from '../../core/errors.js';
import { estimateHarvest, freeDiskBytes } from '../../core/harvest/estimate.js';
import { readDatasetFolder } from '../../core/datasets/dataset-folder.js';
import { inspectModel } from '../../core/model/inspect.js';
import type { ModelRecord } from '../../contract/contract.js';

/** Refuses, before anything is registered, a harvest whose estimate exceeds the workspace disk's free space. */
async function checkDiskFirst(
  backend: Backend,
  ws: string,
  modelDir: string,
  datasetDir: string,
  shape: { taps: string[]; tokenKinds: TokenKind[]; dtype: 'fp16' | 'fp32'; limit: number | null },
): Promise<void> {
  const registered = (await backend.call('models.list', {})).find((m) => m.path === modelDir);
  const report = registered?.report ?? inspectModel(modelDir);
  const imported = (await backend.call('datasets.list', {})).find((d) => d.path === datasetDir);
  const items = imported?.items ?? (await readDatasetFolder(datasetDir, { checkImages: false })).rows.length;
  const estimate = estimateHarvest({ report } as ModelRecord, items, { ...shape, maxNewTokens: 16 });
  const free = freeDiskBytes(ws);
  if (free !== null && estimate > free)
    throw new OcularError(
      'workspace',
      `This harvest needs about ${(estimate / 1e9).toFixed(2)} GB but the workspace disk has ${(free / 1e9).toFixed(2)} GB free; nothing was registered or imported. Harvest fewer items, taps or token kinds, or use fp16.`,
    );
}

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
      const modelDir = path.resolve(requireString(values, 'model'));
      const datasetDir = path.resolve(requireString(values, 'dataset'));
      const shape = {
        taps,
        tokenKinds: (typeof values.tokens === 'string' ? values.tokens.split(',').map((s) => s.trim()) : ['image', 'text']) as TokenKind[],
        dtype: (values.dtype ?? 'fp16') as 'fp16' | 'fp32',
        limit: values.limit === undefined ? null : Number(values.limit),
      };
      // The disk estimate runs before the model is registered or the dataset imported, so a
      // harvest refused for space leaves the workspace as it was.
      await checkDiskFirst(backend, ws, modelDir, datasetDir, shape);
      const { modelId, datasetId } = await ensureModelAndDataset(backend, modelDir, datasetDir);
      const started = await call('harvests.start', {
        modelId,
        datasetId,
        ...shape,
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
