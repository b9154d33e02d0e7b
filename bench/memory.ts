/**
 * `npm run bench:memory`: training memory is bounded by the shuffle buffer, not the harvest. Writes
 * a harvest 4x larger than the buffer (fp16 shards of seeded Gaussian rows, through HarvestStore as a
 * harvest job commits them), trains an SAE on it for more than one epoch with the real CLI
 * (`ocular train`: the job process and its session-pool processes), samples the resident memory of
 * every process of that tree from /proc every 50 ms and prints the peak of their sum against
 *   bound = shuffle buffer + model (SAE weights and Adam moments) + 512 MB.
 *   scripts/run-ts.sh bench/memory.ts [bufferMb]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type RowMeta } from '../src-main/core/harvest/harvest-store';
import { withWorkerStores } from '../src-main/core/store/stores';
import { Workspace } from '../src-main/core/store/workspace';
import { mulberry32 } from '../src-main/core/util/random';

const MB = 2 ** 20;
const BUFFER_MB = Number(process.argv[2] ?? 32);
const D_IN = 256;
const EXPANSION = 4;
const K = 32;
const BATCH = 1024;
const TAP = 'blocks.0.hook_resid_post';
const SHARD_ROWS = 16384;
// fp16 on disk: the harvest's files are 4x the buffer (its float32 rows 8x).
const ROWS = Math.ceil((4 * BUFFER_MB * MB) / (2 * D_IN));
const STEPS = Math.ceil((1.25 * ROWS) / BATCH);

function writeHarvest(ws: Workspace) {
  ws.close();
  return withWorkerStores(ws.dir, (stores) => {
    const dataset = stores.datasets.insert({ dir: ws.dir, file: 'none', source: 'synth', meta: {}, rows: [] }, 'bench:memory rows');
    const h = stores.harvests.create('bench-memory-synthetic', dataset.id, {
      taps: [TAP],
      tokenKinds: ['text'],
      dtype: 'fp16',
      limit: null,
      batchSize: 1,
      shardRows: SHARD_ROWS,
      maxNewTokens: 1,
      device: 'cpu',
    });
    const rand = mulberry32(1);
    const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
    for (let first = 0; first < ROWS; first += SHARD_ROWS) {
      const n = Math.min(SHARD_ROWS, ROWS - first);
      const data = Float32Array.from({ length: n * D_IN }, gauss);
      const rows: RowMeta[] = Array.from({ length: n }, (_, i) => ({
        itemId: Math.floor((first + i) / 64),
        position: (first + i) % 64,
        modality: 'text',
        image: null,
        patchRow: null,
        patchCol: null,
        tokenId: 0,
        tile: null,
        box: null,
      }));
      stores.harvests.commit(h.id, {
        shards: { [TAP]: { data, width: D_IN } },
        rows: { decoder: rows, vision: [] },
        items: [...new Set(rows.map((r) => r.itemId))],
        stats: { [TAP]: { rows: first + n, width: D_IN, mean: new Array<number>(D_IN).fill(0), meanNorm: Math.sqrt(D_IN) } },
      });
    }
    return h.id;
  });
}

/** Resident set sizes (bytes) of `root` and all its descendants, from /proc. */
function treeRss(root: number): Map<number, number> {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone between listing and reading
    }
  }
  const inTree = (pid: number): boolean => pid === root || (parent.has(pid) && pid > 1 && inTree(parent.get(pid)!));
  const out = new Map<number, number>();
  for (const pid of parent.keys()) {
    if (!inTree(pid)) continue;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) out.set(pid, Number(m[1]) * 1024);
    } catch {
      // gone
    }
  }
  return out;
}

/** A short name for a process of the tree: the script it runs. */
function processName(pid: number): string {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return path.basename(argv.find((a) => /\.(m?js|cjs)$/.test(a)) ?? argv[0] ?? String(pid));
  } catch {
    return String(pid);
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-bench-memory-'));
  try {
    const ws = Workspace.create(path.join(dir, 'ws'));
    const harvestId = await writeHarvest(ws);
    const dSae = D_IN * EXPANSION;
    const params = 2 * D_IN * dSae + dSae + D_IN;
    const modelBytes = 3 * 4 * params; // weights + Adam's two moments, float32
    console.log(
      `memory benchmark: ${ROWS} rows x ${D_IN} (fp16 shards ${((ROWS * D_IN * 2) / MB).toFixed(0)} MB, ` +
        `${((ROWS * D_IN * 4) / MB).toFixed(0)} MB as float32), shuffle buffer ${BUFFER_MB} MB; TopK SAE d_sae ${dSae}, ` +
        `batch ${BATCH}, ${STEPS} steps (${((STEPS * BATCH) / ROWS).toFixed(2)} epochs)`,
    );
    const args = ['train', '--workspace', path.join(dir, 'ws'), '--harvest', String(harvestId), '--tap', TAP];
    args.push('--expansion', String(EXPANSION), '--k', String(K), '--batch', String(BATCH), '--steps', String(STEPS));
    args.push('--shuffle-buffer-mb', String(BUFFER_MB), '--log-every', '50', '--checkpoint-every', '100', '--device', 'cpu', '--json');
    const child = spawn(process.execPath, [path.join(process.cwd(), 'bin', 'ocular.mjs'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let peak = 0;
    const perProcess = new Map<number, number>();
    const names = new Map<number, string>();
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      const rss = treeRss(child.pid!);
      let sum = 0;
      for (const [pid, bytes] of rss) {
        sum += bytes;
        perProcess.set(pid, Math.max(perProcess.get(pid) ?? 0, bytes));
        if (!names.has(pid) || names.get(pid) === String(pid)) names.set(pid, processName(pid));
      }
      peak = Math.max(peak, sum);
      await new Promise((r) => setTimeout(r, 50));
    }
    const code = await exited;
    if (code !== 0) throw new Error(`ocular train exited with ${code}: ${stderr.trim().split('\n').at(-1)}`);
    console.log(
      `processes: ${perProcess.size}; peaks ${[...perProcess]
        .sort((a, b) => b[1] - a[1])
        .map(([pid, b]) => `${names.get(pid)} ${(b / MB).toFixed(0)} MB`)
        .join(', ')}`,
    );
    const bound = BUFFER_MB * MB + modelBytes + 512 * MB;
    console.log(`peak RSS ${(peak / MB).toFixed(0)} MB, bound ${(bound / MB).toFixed(0)} MB: ${peak <= bound ? 'within' : 'exceeded'}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
