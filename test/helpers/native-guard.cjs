// Preloaded with `node --require` into a test process, and so into every worker thread and child
// process it starts (they inherit execArgv). onnxruntime-node must load only in session-pool
// processes (src-main/core/runtime/ort-boundary.ts): a worker thread that loads it fails here, with
// a message naming the thread. With OCULAR_NATIVE_GUARD=pool-only a process's main thread may load
// it only when that process is a pool host. OCULAR_NATIVE_LOG names a file that gets one JSON line
// per native addon loaded, so a test can also see what did load where.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { isMainThread, threadId } = require('node:worker_threads');

const entry = process.argv[1] ?? '';
const isPoolHost = /session-host\.m?js$/.test(entry);
const dlopen = process.dlopen;

process.dlopen = function guardedDlopen(module, filename, ...rest) {
  if (process.env.OCULAR_NATIVE_LOG) {
    const line = { pid: process.pid, thread: threadId, entry: path.basename(entry), addon: path.basename(filename) };
    fs.appendFileSync(process.env.OCULAR_NATIVE_LOG, `${JSON.stringify(line)}\n`);
  }
  if (/onnxruntime/i.test(path.basename(filename))) {
    if (!isMainThread)
      throw new Error(
        `onnxruntime-node was loaded in worker thread ${threadId} of ${entry}: ONNX Runtime must run only in pool processes.`,
      );
    if (process.env.OCULAR_NATIVE_GUARD === 'pool-only' && !isPoolHost)
      throw new Error(`onnxruntime-node was loaded in ${entry}, which is not a pool process.`);
  }
  return dlopen.call(this, module, filename, ...rest);
};
