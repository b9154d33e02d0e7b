/**
 * What the GPU runtime can see: whether onnxruntime-node's CUDA execution provider is installed,
 * which CUDA/cuDNN libraries the loader can find, and the GPUs nvidia-smi reports. Run inside a
 * pool process, so it describes the environment sessions actually load in.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { RuntimeDiagnostics } from './pool-protocol.js';

const require = createRequire(import.meta.url);

export function cudaProviderPath(): string | null {
  try {
    const dir = path.dirname(require.resolve('onnxruntime-node/package.json'));
    const file = path.join(
      dir,
      'bin',
      'napi-v6',
      process.platform,
      process.arch,
      process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so',
    );
    return fs.existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

/**
 * Why there is no CUDA execution provider, and what to do about it, in the words that fit this
 * install: a source checkout fetches it with `npm run setup:cuda`; a Linux x64 package ships it
 * (package:linux checks), so there it is missing only from a broken install; onnxruntime-node has
 * none for Windows or other platforms. The main process sets OCULAR_INSTALL=package when packaged.
 */
export function cudaProviderMissing(): string {
  const target = `${process.platform}/${process.arch}`;
  if (target !== 'linux/x64') return `onnxruntime-node has no CUDA execution provider for ${target}`;
  if (process.env.OCULAR_INSTALL === 'package')
    return 'the CUDA execution provider is missing from this Ocular package; reinstall Ocular from its Linux x64 package, which includes it';
  return 'the CUDA execution provider is not installed; run `npm run setup:cuda` on a machine with an NVIDIA GPU';
}

const CUDA_LIBS = ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcudnn.so.9', 'libnvinfer.so.10'];

function ldconfigEntries(): Map<string, string> {
  const map = new Map<string, string>();
  try {
    const out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    for (const line of out.split('\n')) {
      const m = /^\s*(\S+) .*=> (\S+)$/.exec(line);
      if (m && !map.has(m[1]!)) map.set(m[1]!, m[2]!);
    }
  } catch {
    /* no ldconfig (Windows, minimal images) */
  }
  return map;
}

function findLibrary(name: string, cache: Map<string, string>): string | null {
  for (const dir of (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return cache.get(name) ?? null;
}

function gpus(): Array<{ name: string; memoryMiB: number }> {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name, mem] = line.split(',').map((s) => s.trim());
        return { name: name ?? 'unknown', memoryMiB: Number(mem) };
      });
  } catch {
    return [];
  }
}

export function runtimeDiagnostics(onnxruntimeVersion: string): RuntimeDiagnostics {
  const provider = cudaProviderPath();
  const cache = process.platform === 'linux' ? ldconfigEntries() : new Map<string, string>();
  const libs = process.platform === 'linux' ? CUDA_LIBS.map((name) => ({ name, path: findLibrary(name, cache) })) : [];
  const found = gpus();
  const notes: string[] = [];
  if (!provider) {
    const why = cudaProviderMissing();
    notes.push(`${why[0]!.toUpperCase()}${why.slice(1)}. Sessions run on CPU.`);
  }
  if (provider && libs.some((l) => !l.path))
    notes.push(
      `CUDA libraries not found: ${libs
        .filter((l) => !l.path)
        .map((l) => l.name)
        .join(
          ', ',
        )}; CUDA sessions will fall back to CPU. Install the NVIDIA driver, the CUDA 12 runtime and cuDNN 9 where the loader finds them (ldconfig or LD_LIBRARY_PATH).`,
    );
  if (found.length === 0) notes.push('No NVIDIA GPU reported by nvidia-smi.');
  return {
    pid: process.pid,
    onnxruntimeVersion,
    cudaProviderInstalled: provider !== null,
    cudaProviderPath: provider,
    cudaLibraries: libs,
    gpus: found,
    notes,
    fallbacks: [],
  };
}
