/**
 * What a circuit patch reads from the workspace: the model a transcoder set was trained on (its
 * harvest's) and a saved graph's feature nodes (blobs/circuits/<job>.json, written by the trace job).
 */
import fs from 'node:fs';
import { OcularError } from '../errors.js';
import { JobStore } from '../jobs/job-store.js';
import type { Stores } from '../store/stores.js';

export function setModelDir(stores: Pick<Stores, 'db' | 'harvests'>, setId: number): string {
  const setJob = new JobStore(stores.db).get(setId);
  const harvestId = (setJob?.params as { harvestId?: number } | undefined)?.harvestId;
  if (harvestId === undefined) throw new OcularError('not_found', `Set ${setId} does not name the harvest (and model) it was trained on.`);
  return stores.harvests.get(harvestId).modelPath;
}

/** A saved graph's feature nodes; refuses a graph of another set or a missing one. */
export function graphFeatureNodes(
  file: string,
  graphId: number,
  setId: number,
): Array<{ layer: number; position: number; feature: number }> {
  if (!fs.existsSync(file)) throw new OcularError('not_found', `No saved circuit ${graphId} (trace it first).`);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    setId: number;
    nodes: Array<{ kind: string; layer: number; position: number; feature?: number }>;
  };
  if (doc.setId !== setId)
    throw new OcularError('invalid_request', `Circuit ${graphId} was traced through set ${doc.setId}, not set ${setId}.`);
  return doc.nodes.filter((n) => n.kind === 'feature').map((n) => ({ layer: n.layer, position: n.position, feature: n.feature! }));
}
