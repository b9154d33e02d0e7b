/**
 * onnxruntime-node runs only in the session pool's processes (session-host.ts): its run() blocks
 * the calling thread, a native fault kills the whole process, and the addon is known to crash
 * Electron when loaded in worker threads. Job workers and the backend must never load it.
 *
 * transformers.js's Node build `require`s onnxruntime-node as soon as it is imported
 * (src/backends/onnx-node.js), although Ocular uses it only for processors, tokenizers, chat
 * templates and images. A few image processors do run small ONNX graphs of their own (Idefics3's
 * bicubic resize, through transformers.js's TensorOpRegistry). So before transformers.js is
 * imported anywhere but a pool process, its `require('onnxruntime-node')` is answered from Node's
 * CommonJS module cache (`require.cache`, documented as open to new entries) with onnxruntime-web's
 * Node build: the same ONNX Runtime compiled to WebAssembly, no native addon, one thread. Its
 * InferenceSession takes only those operator graphs (a few hundred bytes, passed as bytes); a model
 * is refused, so nothing runs a model outside the pool. The cache is per thread, so a pool process's
 * own `import 'onnxruntime-node'` is never affected.
 */
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** transformers.js's operator graphs are a few hundred bytes; models are megabytes. */
const MAX_OPERATOR_GRAPH_BYTES = 64 * 1024;

const REFUSAL =
  'ONNX Runtime is not loaded in this thread: Ocular runs models only in its session-pool processes (core/runtime/session-pool.ts).';

interface OrtWeb {
  env: { wasm: { numThreads?: number; wasmPaths?: unknown } };
  InferenceSession: { create(model: unknown, ...rest: unknown[]): Promise<unknown> };
}

/** Answer transformers.js's `require('onnxruntime-node')` in this thread with onnxruntime-web (WebAssembly). */
export function keepNativeOnnxRuntimeOut(): void {
  const fromTransformers = createRequire(require.resolve('@huggingface/transformers'));
  const file = fromTransformers.resolve('onnxruntime-node');
  // Already loaded for real in this thread (a bench comparing against transformers.js's own models): leave it.
  if (require.cache[file]) return;
  const web = fromTransformers('onnxruntime-web') as OrtWeb;
  // Local files, not transformers.js's CDN default (as a file URL, which import() takes on Windows too;
  // packaged, from app.asar.unpacked, where electron-builder puts them); no nested worker threads.
  const dist = path.dirname(fromTransformers.resolve('onnxruntime-web')).replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
  web.env.wasm.wasmPaths = `${pathToFileURL(dist).href}/`;
  web.env.wasm.numThreads = 1;
  const standIn = new Module(file);
  standIn.filename = file;
  standIn.loaded = true;
  standIn.exports = {
    ...web,
    InferenceSession: {
      ...web.InferenceSession,
      create(model: unknown, ...rest: unknown[]) {
        const operatorGraph = model instanceof Uint8Array && model.byteLength <= MAX_OPERATOR_GRAPH_BYTES;
        return operatorGraph ? web.InferenceSession.create(model, ...rest) : Promise.reject(new Error(REFUSAL));
      },
    },
  };
  require.cache[file] = standIn;
}
