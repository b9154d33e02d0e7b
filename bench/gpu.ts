/**
 * `npm run bench:gpu`: the SAE training benchmark (bench/sae-train.ts) on CUDA — Ocular's ONNX
 * chunk graph on onnxruntime's CUDA provider, with its weights and Adam state carried in the pool
 * process between chunks, against PyTorch on the same GPU, rounds interleaved. Where there is no
 * GPU, no CUDA execution provider for onnxruntime-node or no CUDA-enabled PyTorch, it prints one
 * line saying which, and exits 0.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cudaProviderMissing, cudaProviderPath } from '../src-main/core/runtime/diagnostics';

const root = process.cwd();
const skip = (why: string) => {
  console.log(`bench:gpu skipped: ${why}.`);
  process.exit(0);
};
const smi = spawnSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8' });
if (smi.status !== 0 || !smi.stdout.trim()) skip('no NVIDIA GPU (nvidia-smi finds none)');
if (!cudaProviderPath()) skip(cudaProviderMissing());
const python = [process.env.OCULAR_PYTHON, path.join(root, 'tools', '.venv', 'bin', 'python'), 'python3'].find(
  (p) => p && (p === 'python3' || fs.existsSync(p)),
)!;
const torch = spawnSync(python, ['-c', 'import torch; assert torch.cuda.is_available()'], { encoding: 'utf8' });
if (torch.status !== 0) skip(`${python} has no CUDA-enabled PyTorch for the reference (set OCULAR_PYTHON)`);
console.log(`GPU: ${smi.stdout.trim().split('\n')[0]}`);
const run = spawnSync('bash', ['scripts/run-ts.sh', 'bench/sae-train.ts', '--device', 'cuda', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
