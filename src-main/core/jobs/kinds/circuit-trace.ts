/**
 * Trace one prompt's attribution graph through a transcoder set (core/circuits/trace.ts) and save
 * it, with its attention maps, in the workspace (blobs/circuits/<job>.json). The model is the one
 * the set's harvest was taken from.
 */
import fs from 'node:fs';
import path from 'node:path';
import { circuitTraceRequestSchema } from '../../../contract/contract.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';
import { traceCircuit } from '../../circuits/trace.js';
import { loadSet } from '../../circuits/transcoder-set.js';
import { setModelDir } from '../../circuits/patch-inputs.js';
import { OcularError } from '../../errors.js';
import { withWorkerStores } from '../../store/stores.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { VlmPipeline } from '../../vlm/pipeline.js';
import type { JobKind } from '../job-kind.js';

export const circuitTraceParams = circuitTraceRequestSchema.strict();

export const circuitTraceJob: JobKind<ReturnType<typeof circuitTraceParams.parse>, JobResultOf<'circuit-trace'>> = {
  kind: 'circuit-trace',
  title: 'Trace circuit',
  resumable: false,
  startFromUi: false,
  params: circuitTraceParams,
  result: jobResults['circuit-trace'],
  async run(ctx) {
    const p = ctx.params;
    return withWorkerStores(ctx.workspaceDir, async (stores) => {
      const set = loadSet(stores.saes, p.setId);
      const modelDir = setModelDir(stores, p.setId);
      if (!fs.existsSync(p.image)) throw new OcularError('invalid_request', `No image at ${p.image}.`);
      ctx.progress(0, 'running the prompt with everything exposed');
      const vlm = await VlmPipeline.load(modelDir, ctx.pool, p.device);
      const doc = await traceCircuit(vlm, ctx.pool, p.device, modelDir, set, { ...p, batchSize: 16 }, stores.layout.graphCache);
      const file = stores.layout.circuit(ctx.jobId);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeFileAtomic(file, JSON.stringify({ ...doc, image: path.resolve(p.image) }));
      return {
        circuitId: ctx.jobId,
        file,
        method: doc.method,
        nodes: doc.nodes.length,
        edges: doc.edges.length,
        target: doc.target.text,
        outputValue: doc.outputValue,
        seconds: doc.seconds,
      };
    });
  },
};
