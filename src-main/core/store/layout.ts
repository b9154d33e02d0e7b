/**
 * Where everything lives inside a workspace folder, spelt once. Records in the database keep paths
 * relative to the workspace (`rel`), so a workspace moved or shared as a folder still opens; code
 * that reads or writes files takes the absolute path from the same place.
 */
import path from 'node:path';

export const DB_FILE = 'workspace.sqlite';
export const LOCK_FILE = 'workspace.lock';
export const BLOBS_DIR = 'blobs';

/** Paths relative to the workspace folder, as records store them. */
export const rel = {
  harvest: (id: number) => path.join(BLOBS_DIR, 'harvests', String(id)),
  harvestShard: (id: number, tap: string, shard: number, dtype: string) =>
    path.join(rel.harvest(id), `${tap}.${String(shard).padStart(5, '0')}.${dtype}`),
  sae: (id: number) => path.join(BLOBS_DIR, 'saes', String(id)),
  analysis: (id: number) => path.join(BLOBS_DIR, 'analyses', String(id)),
  analysisImage: (id: number, itemId: number, ext: string) => path.join(rel.analysis(id), 'images', `${itemId}${ext}`),
} as const;

export class WorkspaceLayout {
  constructor(readonly root: string) {}

  /** A relative path of `rel` made absolute. */
  abs(relative: string): string {
    return path.join(this.root, relative);
  }

  get db(): string {
    return path.join(this.root, DB_FILE);
  }

  get lock(): string {
    return path.join(this.root, LOCK_FILE);
  }

  get blobs(): string {
    return path.join(this.root, BLOBS_DIR);
  }

  /** Edited, tapped and training graphs, each named by a hash of its content. */
  get graphCache(): string {
    return path.join(this.blobs, 'graph-cache');
  }

  harvest(id: number): string {
    return this.abs(rel.harvest(id));
  }

  sae(id: number): string {
    return this.abs(rel.sae(id));
  }

  analysis(id: number): string {
    return this.abs(rel.analysis(id));
  }

  /** Every row's k-th largest pre-activation of a TopK analysis. */
  analysisKth(id: number): string {
    return path.join(this.analysis(id), 'kth.f32');
  }

  /** A training run's checkpoints. */
  /** A circuit trace's document (an attribution graph with attention maps), by its job id. */
  circuit(jobId: number): string {
    return path.join(this.blobs, 'circuits', `${jobId}.json`);
  }

  /** Images sent from the app for a trace, named by a hash of their bytes. */
  circuitInput(name: string): string {
    return path.join(this.blobs, 'circuits', 'inputs', name);
  }

  saeTrain(jobId: number): string {
    return path.join(this.blobs, 'sae-train', String(jobId));
  }
}

/** The layout of the workspace at `dir`. */
export function layoutOf(dir: string): WorkspaceLayout {
  return new WorkspaceLayout(dir);
}
