import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { jobResult } from '../../../contract/job-results.js';
import { attentionOf, graphView, imageDataUrl, readCircuit, type SavedCircuit } from '../../circuits/graph-view.js';
import { neuronpediaGraphOf } from '../../circuits/neuronpedia.js';
import { loadSet } from '../../circuits/transcoder-set.js';
import { imageProblem } from '../../datasets/image-check.js';
import { OcularError } from '../../errors.js';
import { JobStore } from '../../jobs/job-store.js';
import { SaeStore } from '../../sae/sae-store.js';
import type { OpenWorkspace } from '../open-workspace.js';
import type { HandlerContext, Handlers } from './types.js';

type CircuitViewChannels =
  'circuits.list' | 'circuits.get' | 'circuits.attention' | 'circuits.items' | 'circuits.trace' | 'circuits.exportNeuronpedia';

/** Saved graphs parsed once per file version (a Gemma graph is megabytes; the slider asks many times). */
const cache = new WeakMap<OpenWorkspace, Map<number, { mtimeMs: number; doc: SavedCircuit }>>();
function saved(open: OpenWorkspace, id: number): SavedCircuit {
  const file = open.layout.circuit(id);
  let byId = cache.get(open);
  if (!byId) cache.set(open, (byId = new Map()));
  const mtimeMs = fs.existsSync(file) ? fs.statSync(file).mtimeMs : -1;
  const hit = byId.get(id);
  if (hit && hit.mtimeMs === mtimeMs) return hit.doc;
  const doc = readCircuit(file, id);
  if (byId.size >= 8) byId.delete(byId.keys().next().value!);
  byId.set(id, { mtimeMs, doc });
  return doc;
}

/** An image sent from the app, checked (decoded in full) and kept in the workspace under its hash. */
async function keepUpload(open: OpenWorkspace, base64: string): Promise<string> {
  const bytes = Buffer.from(base64, 'base64');
  const png = bytes.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!png && !jpeg) throw new OcularError('invalid_request', 'The image must be PNG or JPEG bytes.');
  const file = open.layout.circuitInput(`${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}.${png ? 'png' : 'jpg'}`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp${path.extname(file)}`;
  fs.writeFileSync(tmp, bytes);
  const problem = await imageProblem(tmp, 'sent');
  if (problem) {
    fs.rmSync(tmp, { force: true });
    throw new OcularError('invalid_request', `The ${problem}.`);
  }
  fs.renameSync(tmp, file);
  return file;
}

/** The Circuits page: saved graphs listed, read pruned, their attention, and traces started from the app. */
export function circuitViewHandlers(ctx: HandlerContext): Pick<Handlers, CircuitViewChannels> {
  return {
    'circuits.list': () => {
      const open = ctx.open();
      return new JobStore(open.ws.db)
        .listByKind('circuit-trace', 'succeeded')
        .filter((j) => fs.existsSync(open.layout.circuit(j.id)))
        .map((j) => {
          const r = jobResult(j, 'circuit-trace');
          const p = j.params as { setId: number; prompt: string; contrast?: string };
          return {
            id: j.id,
            setId: p.setId,
            prompt: p.prompt,
            target: r.target,
            contrast: p.contrast ?? null,
            method: r.method,
            nodes: r.nodes,
            edges: r.edges,
            createdAt: j.finishedAt ?? j.createdAt,
          };
        });
    },
    'circuits.get': (req) => {
      const open = ctx.open();
      const doc = saved(open, req.id);
      // The newest analysis of each transcoder is the one its feature pages show.
      const bySae = new Map<number, number>();
      for (const a of open.stores.analyses.list()) if (a.summary) bySae.set(a.saeId, Math.max(a.id, bySae.get(a.saeId) ?? 0));
      return graphView(doc, req.id, req.share, (saeId) => bySae.get(saeId) ?? null, imageDataUrl(doc.image));
    },
    'circuits.exportNeuronpedia': (req) => {
      const graph = neuronpediaGraphOf(ctx.open().layout.circuit(req.id), req.id);
      return { filename: `${graph.metadata.slug}.json`, content: JSON.stringify(graph, null, 2) };
    },
    'circuits.attention': (req) => ({ maps: attentionOf(saved(ctx.open(), req.id), req.layer) }),
    'circuits.items': (req) =>
      ctx
        .open()
        .datasets.items(req.datasetId, { offset: req.offset, limit: req.limit })
        .map((i) => ({ id: i.id, key: i.key, question: i.question, task: i.task, answer: String(i.answer.value) })),
    'circuits.trace': async (req) => {
      const open = ctx.open();
      loadSet(new SaeStore(open.ws.db, open.dir), req.setId);
      let image: string;
      if (req.image.kind === 'item') {
        const dataset = open.datasets.get(req.image.datasetId);
        image = path.join(dataset.path, open.datasets.item(dataset.id, req.image.itemId).image);
        if (!fs.existsSync(image)) throw new OcularError('not_found', `The item's image is not at ${image}.`);
      } else image = await keepUpload(open, req.image.data);
      const { image: _, ...rest } = req;
      return open.runner.start('circuit-trace', { ...rest, image });
    },
  };
}
