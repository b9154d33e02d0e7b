import { OcularError } from '../../errors.js';
import { streamOf } from '../../harvest/harvest-store.js';
import type { SaeTrainRequest } from '../../../contract/contract.js';
import { bytesPerRow } from '../../harvest/shuffle-buffer.js';
import { checkModelTaps, checkTrainSource } from '../../harvest/model-rows.js';
import { SAE_TRAIN_DEFAULTS } from '../../../contract/sae-train-defaults.js';
import type { OpenWorkspace } from '../open-workspace.js';
import type { HandlerContext, Handlers } from './types.js';

type SaeChannels = 'saes.list' | 'saes.estimate' | 'saes.train' | 'saes.metrics' | 'saes.evaluate';

/** Widths of a training request's taps, checked against its harvest. */
function trainShape(open: OpenWorkspace, req: SaeTrainRequest): { dIn: number; dOut: number; dSae: number; rows: number } {
  checkTrainSource(req);
  if (req.fromModel) {
    // No rows are counted before the job lays the items out; the estimate takes the buffer as full.
    const model = open.models.get(req.fromModel.modelId);
    open.datasets.get(req.fromModel.datasetId);
    const { dIn, dOut } = checkModelTaps(model.report, req.tap, req.outputTap);
    if (req.k > dIn * req.expansion)
      throw new OcularError('invalid_request', `k (${req.k}) is larger than the number of features (${dIn * req.expansion}).`);
    return { dIn, dOut, dSae: dIn * req.expansion, rows: Number.MAX_SAFE_INTEGER };
  }
  const h = open.harvests.get(req.harvestId!);
  const width = (tap: string) => {
    const stats = h.stats[tap];
    if (!stats)
      throw new OcularError(
        'invalid_request',
        `Harvest ${h.id} has no tap ${tap}; it holds ${Object.keys(h.stats).join(', ') || 'nothing yet'}.`,
      );
    return stats;
  };
  const input = width(req.tap);
  const output = req.outputTap ? width(req.outputTap) : input;
  if (req.outputTap && streamOf(req.outputTap) !== streamOf(req.tap))
    throw new OcularError('invalid_request', `A transcoder's taps must be in the same tower: ${req.tap} and ${req.outputTap} are not.`);
  if (req.k > input.width * req.expansion)
    throw new OcularError('invalid_request', `k (${req.k}) is larger than the number of features (${input.width * req.expansion}).`);
  return { dIn: input.width, dOut: output.width, dSae: input.width * req.expansion, rows: input.rows };
}

/** A cost proxy for one training step, to scale a measured run's speed to another configuration. */
const stepCost = (batch: number, dIn: number, dOut: number, dSae: number) => batch * (dIn + dOut) * dSae;

/** SAE and transcoder training, the registry, metrics and spliced-in evaluation. */
export function saeHandlers(ctx: HandlerContext): Pick<Handlers, SaeChannels> {
  const saes = () => ctx.open().stores.saes;
  return {
    'saes.list': () => saes().list(),
    'saes.estimate': (req) => {
      const open = ctx.open();
      const { dIn, dOut, dSae, rows } = trainShape(open, req);
      const parameters = dIn * dSae + dSae + dSae * dOut + dOut;
      // Parameters and Adam moments live in the pool process and are copied to the job at
      // checkpoints; one step's activations; the chunk of batches; the shuffle buffer (the whole
      // harvest when it is smaller) and one modality byte per row.
      const memoryBytes =
        4 * (2 * 3 * parameters + 8 * req.batchSize * dSae + req.stepsPerCall * req.batchSize * (dIn + dOut)) +
        Math.min(rows * bytesPerRow([dIn, ...(req.outputTap ? [dOut] : [])]), req.shuffleBufferMb * 2 ** 20) +
        (req.fromModel ? 0 : rows);
      const previous = open.runner.store
        .list(200)
        .find(
          (j) =>
            j.kind === 'sae-train' &&
            j.state === 'succeeded' &&
            j.startedAt &&
            j.finishedAt &&
            (j.result as { steps?: number } | null)?.steps,
        );
      let seconds: number | null = null;
      if (previous) {
        const prevReq = previous.params as SaeTrainRequest;
        const prev = (previous.result as { steps: number }).steps;
        const elapsed = (Date.parse(previous.finishedAt!) - Date.parse(previous.startedAt!)) / 1000;
        const prevShape = prevReq.harvestId === undefined ? undefined : open.harvests.get(prevReq.harvestId).stats[prevReq.tap];
        if (prevShape && elapsed > 0) {
          const prevCost = stepCost(
            prevReq.batchSize ?? SAE_TRAIN_DEFAULTS.batchSize,
            prevShape.width,
            prevShape.width,
            prevShape.width * (prevReq.expansion ?? 8),
          );
          seconds = (elapsed / prev) * (stepCost(req.batchSize, dIn, dOut, dSae) / prevCost) * req.steps;
        }
      }
      return { dIn, dOut, dSae, parameters, memoryBytes, tokens: req.steps * req.batchSize, seconds };
    },
    'saes.train': (req) => {
      const open = ctx.open();
      trainShape(open, req);
      return open.runner.start('sae-train', req);
    },
    'saes.metrics': (req) => ctx.open().stores.trainMetrics.list(req.jobId, req.afterStep),
    'saes.evaluate': (req) => {
      const open = ctx.open();
      saes().get(req.saeId);
      open.models.get(req.modelId);
      open.datasets.get(req.datasetId);
      return open.runner.start('sae-eval', req);
    },
  };
}
