import path from 'node:path';
import { writeEditedGraph } from '../../src-main/core/onnx/edited-graph';
import type { SessionPool } from '../../src-main/core/runtime/session-pool';
import type { Workspace } from '../../src-main/core/store/workspace';
import { VlmPipeline } from '../../src-main/core/vlm/pipeline';
import { tmpDir } from './tmp';

/** A decoder tap over one dataset item's prompt, by running the tapped decoder directly: [positions, width] row-major. */
export async function directDecoderTap(workspace: Workspace, pool: SessionPool, model: string, itemId: number, tap: string) {
  const vlm = await VlmPipeline.load(model, pool, 'cpu');
  const item = workspace.db.prepare('SELECT image, question FROM dataset_items WHERE id = ?').get(itemId) as {
    image: string;
    question: string;
  };
  const datasetPath = (workspace.db.prepare('SELECT path FROM datasets LIMIT 1').get() as { path: string }).path;
  const prefix = await vlm.prepare([{ image: path.join(datasetPath, item.image), prompt: item.question }]);
  const tapped = writeEditedGraph(vlm.files.decoder, { expose: [tap] }, { cacheDir: tmpDir() });
  const out = await pool.run(await pool.load(tapped.path, 'cpu'), vlm.prefillFeeds(prefix), [tap]);
  return out[tap]!.data as Float32Array;
}
