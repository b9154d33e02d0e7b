/**
 * "Download from the Hub": the only place Ocular touches the network, and only when a person asks.
 * Lists a model repository's files, downloads the ones an onnx-community VLM needs into a folder,
 * resuming partial files with HTTP Range requests, and renames each file into place only when it
 * is complete. Progress is by bytes; cancel stops mid-file and a resumed job continues from there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { throwIfCancelled, type JobKind } from '../job-kind.js';
import { jobResults, type JobResultOf } from '../../../contract/job-results.js';

const params = z
  .object({
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'a repository id looks like owner/name'),
    revision: z
      .string()
      .regex(/^[\w.-]+$/)
      .default('main'),
    /** Graph dtype variant to fetch: fp32 graphs are decoder_model_merged.onnx, others decoder_model_merged_<dtype>.onnx. */
    dtype: z.enum(['fp32', 'fp16', 'q4', 'q4f16', 'int8', 'uint8', 'quantized', 'bnb4']).default('fp32'),
    dest: z.string().min(1),
    endpoint: z.string().url().default('https://huggingface.co'),
  })
  .strict();

type Params = z.infer<typeof params>;

const CONFIG_FILES =
  /^(config|generation_config|preprocessor_config|processor_config|tokenizer|tokenizer_config|special_tokens_map|chat_template)\.(json|jinja)$/;
const COMPONENTS = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];

/** The files of a repository listing that Ocular needs for one dtype variant. */
export function selectFiles(files: string[], dtype: Params['dtype']): string[] {
  const suffix = dtype === 'fp32' ? '' : `_${dtype}`;
  const graphs = new Set(COMPONENTS.map((c) => `onnx/${c}${suffix}.onnx`));
  return files.filter((f) => {
    if (CONFIG_FILES.test(f)) return true;
    if (graphs.has(f)) return true;
    // External weights of a selected graph: <graph>.onnx_data, <graph>.onnx_data_1, ...
    const base = f.replace(/_data(_\d+)?$/, '');
    return f !== base && graphs.has(base);
  });
}

async function listRepo(p: Params, signal: AbortSignal): Promise<string[]> {
  const url = `${p.endpoint}/api/models/${p.repo}/revision/${encodeURIComponent(p.revision)}`;
  const res = await fetch(url, { signal });
  if (!res.ok) throw new Error(`Listing ${p.repo}@${p.revision} failed: HTTP ${res.status} from ${url}`);
  const body = (await res.json()) as { siblings?: Array<{ rfilename: string }> };
  return (body.siblings ?? []).map((s) => s.rfilename);
}

async function fileSize(url: string, signal: AbortSignal): Promise<number> {
  const res = await fetch(url, { method: 'HEAD', signal, redirect: 'follow' });
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
  return Number(res.headers.get('content-length') ?? 0);
}

async function downloadFile(url: string, target: string, total: number, signal: AbortSignal, onBytes: (n: number) => void): Promise<void> {
  const part = `${target}.part`;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  let have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  if (total > 0 && have > total) {
    fs.rmSync(part);
    have = 0;
  }
  onBytes(have);
  if (total === 0 || have < total) {
    const res = await fetch(url, { signal, redirect: 'follow', headers: have > 0 ? { Range: `bytes=${have}-` } : {} });
    if (!res.ok && res.status !== 206) throw new Error(`HTTP ${res.status} for ${url}`);
    if (have > 0 && res.status !== 206) {
      have = 0; // the server ignored the range: start over
      fs.rmSync(part, { force: true });
    }
    const fd = fs.openSync(part, have > 0 ? 'a' : 'w');
    try {
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        fs.writeSync(fd, value);
        onBytes(value.length);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  const size = fs.statSync(part).size;
  if (total > 0 && size !== total) throw new Error(`${path.basename(target)}: got ${size} of ${total} bytes`);
  fs.renameSync(part, target);
}

export const modelDownloadJob: JobKind<Params, JobResultOf<'model-download'>> = {
  kind: 'model-download',
  title: 'Download model',
  resumable: true,
  startFromUi: false,
  params,
  result: jobResults['model-download'],
  async run(ctx) {
    const p = ctx.params;
    const files = selectFiles(await listRepo(p, ctx.signal), p.dtype);
    if (!files.some((f) => f.startsWith('onnx/decoder_model_merged'))) {
      throw new Error(
        `${p.repo}@${p.revision} has no onnx/decoder_model_merged${p.dtype === 'fp32' ? '' : `_${p.dtype}`}.onnx: not an onnx-community VLM export in that dtype.`,
      );
    }
    const fileUrl = (f: string) => `${p.endpoint}/${p.repo}/resolve/${encodeURIComponent(p.revision)}/${f}`;
    const sizes: number[] = [];
    for (const f of files) sizes.push(await fileSize(fileUrl(f), ctx.signal));
    const total = sizes.reduce((a, b) => a + b, 0);
    let done = 0;
    for (let i = 0; i < files.length; i++) {
      throwIfCancelled(ctx.signal);
      const target = path.join(p.dest, files[i]!);
      if (fs.existsSync(target) && fs.statSync(target).size === sizes[i]) {
        done += sizes[i]!;
        continue;
      }
      await downloadFile(fileUrl(files[i]!), target, sizes[i]!, ctx.signal, (n) => {
        done += n;
        ctx.progress(
          total > 0 ? done / total : i / files.length,
          `${files[i]} (${(done / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB)`,
        );
      });
      ctx.saveCheckpoint({ completed: files.slice(0, i + 1) });
    }
    return { path: path.resolve(p.dest), files, bytes: total };
  },
};
