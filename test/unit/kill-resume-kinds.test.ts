/**
 * kill -9 at seeded random points during each real job kind that resumes (harvest, sae-train,
 * analyze, evaluate, experiment), run by the CLI on the bundled demo model over the smallest
 * benchmark, then `ocular jobs resume`. For each kind one uninterrupted run is the reference; each of
 * 10 killed-and-resumed runs must end with exactly its result: the same harvest rows, items and shard
 * bytes, the same SAE weights bit for bit and the same logged steps, the same feature statistics and examples, the same
 * predictions, the same experiment outputs. Equal rows mean nothing was lost and nothing repeated
 * (a repeated item would add rows; a lost one would leave a gap). kill-resume.test.ts does the same
 * for `ocular selftest`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src-main/contract/contract';
import { mulberry32 } from '../../src-main/core/util/random';
import { ocularBin, runCli } from '../helpers/cli';
import { repoRoot } from '../helpers/tmp';

const DEMO = path.join(repoRoot, 'resources', 'models', 'ocular-demo-vlm');
const TAP = 'blocks.0.hook_resid_post';
const ROUNDS = 10;

let root: string;
let ws: string;
let bench: string;

type Rows = Array<Record<string, unknown>>;

function query(sql: string, ...args: unknown[]): Rows {
  const db = new Database(path.join(ws, 'workspace.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...args) as Rows;
  } finally {
    db.close();
  }
}

/** The newest job of a kind created after `after`, or undefined (the database may be mid-creation). */
function newestJob(kind: string, after: number): { id: number; state: string } | undefined {
  try {
    return query('SELECT id, state FROM jobs WHERE kind = ? AND id > ? ORDER BY id DESC LIMIT 1', kind, after)[0] as
      { id: number; state: string } | undefined;
  } catch {
    return undefined;
  }
}

function lastJobId(): number {
  if (!fs.existsSync(path.join(ws, 'workspace.sqlite'))) return 0;
  return Number(query('SELECT coalesce(max(id), 0) AS n FROM jobs')[0]!.n);
}
const jobRecord = (id: number) =>
  query('SELECT state, attempts, result_json FROM jobs WHERE id = ?', id)[0] as {
    state: string;
    attempts: number;
    result_json: string | null;
  };

/**
 * Runs a CLI command to the end (the reference run of a kind) and returns how long its job ran, from
 * the job's row appearing to the process exiting: the span the kill points are drawn from.
 */
async function reference(kind: string, args: string[]): Promise<number> {
  const after = lastJobId();
  const child = spawn(process.execPath, [ocularBin, ...args, '--workspace', ws, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await expect.poll(() => newestJob(kind, after) !== undefined, { timeout: 60_000, interval: 20 }).toBe(true);
  const t0 = Date.now();
  expect(await exited, `${args.join(' ')}: ${stderr}`).toBe(0);
  return Date.now() - t0;
}

/**
 * Starts the command, kills its process group (the CLI and its pool processes) with SIGKILL a seeded
 * random time after its job appears, resumes the job if it did not finish, and returns the job's result.
 */
async function killAndResume(
  kind: string,
  args: string[],
  span: number,
  random: () => number,
): Promise<{ result: unknown; killed: boolean }> {
  const after = lastJobId();
  const child = spawn(process.execPath, [ocularBin, ...args, '--workspace', ws, '--json'], { stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let job: { id: number; state: string } | undefined;
  await expect.poll(() => (job = newestJob(kind, after)) !== undefined, { timeout: 60_000, interval: 20 }).toBe(true);
  await new Promise((r) => setTimeout(r, Math.floor(random() * span * 0.5)));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone: the run finished before the kill point
  }
  await exited;
  const id = job!.id;
  const killed = ['queued', 'running'].includes(jobRecord(id).state);
  if (killed) {
    const res = await runCli(['jobs', 'resume', String(id), '--workspace', ws, '--json'], 240_000);
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as Job).state).toBe('succeeded');
  }
  const rec = jobRecord(id);
  expect(rec.state).toBe('succeeded');
  return { result: JSON.parse(rec.result_json!) as unknown, killed };
}

/** Ten seeded kill points for one kind; each run's outcome (from `outcome`) equals the reference's. */
async function tenKills(
  kind: string,
  seed: number,
  args: string[],
  span: number,
  outcome: (result: unknown) => unknown,
  expected: unknown,
  rounds = ROUNDS,
) {
  const random = mulberry32(seed);
  let interrupted = 0;
  let runs = 0;
  // A run that finished before its kill point (the machine was faster than in the reference run) is
  // checked too but not counted: drawing goes on until 10 runs were really killed, 30 runs at most; kill points fall in the first half of the reference run so a faster machine still reaches them.
  while (interrupted < rounds && runs < 3 * rounds) {
    const { result, killed } = await killAndResume(kind, args, span, random);
    if (killed) interrupted++;
    expect(outcome(result), `${kind} run ${runs++}${killed ? ' (killed, resumed)' : ' (finished before the kill)'}`).toEqual(expected);
  }
  console.log(`${kind}: ${interrupted} runs killed and resumed (of ${runs}), all equal to the uninterrupted run`);
  expect(interrupted).toBe(rounds);
}

const shardBytes = (harvestId: number) =>
  query('SELECT tap, shard, file, first_row, rows FROM harvest_shards WHERE harvest_id = ? ORDER BY tap, shard', harvestId).map((s) => ({
    ...s,
    file: undefined,
    bytes: fs.readFileSync(path.join(ws, String(s.file))).toString('base64'),
  }));

function harvestOutcome(harvestId: number) {
  const strip = (rows: Rows) => rows.map(({ harvest_id: _h, ...r }) => r);
  const stats = JSON.parse(String(query('SELECT stats_json FROM harvests WHERE id = ?', harvestId)[0]!.stats_json)) as Record<
    string,
    { rows: number; width: number; mean: number[]; meanNorm: number }
  >;
  return {
    rows: strip(query('SELECT * FROM harvest_rows WHERE harvest_id = ? ORDER BY stream, row', harvestId)),
    items: strip(query('SELECT * FROM harvest_items WHERE harvest_id = ? ORDER BY item_id', harvestId)),
    shards: shardBytes(harvestId),
    // Running means continue from the stored mean x rows on resume, so they agree to float rounding.
    stats: Object.fromEntries(
      Object.entries(stats).map(([tap, s]) => [
        tap,
        { rows: s.rows, width: s.width, mean: s.mean.map((m) => m.toFixed(5)), norm: s.meanNorm.toFixed(5) },
      ]),
    ),
  };
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocular-kill-kinds-')); // shared by the tests, so not tmpDir()
  ws = path.join(root, 'ws');
  bench = path.join(root, 'bench');
  expect((await runCli(['dataset', 'synth', '--out', bench, '--seed', '3', '--per-cell', '1'])).code).toBe(0);
}, 60_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const harvestArgs = () => [
  'harvest',
  '--model',
  DEMO,
  '--dataset',
  bench,
  '--tap',
  TAP,
  '--dtype',
  'fp32',
  '--shard-rows',
  '64',
  '--device',
  'cpu',
];
const TRAIN = ['train', '--harvest', '1', '--tap', TAP, '--expansion', '2', '--k', '8', '--steps', '120', '--batch', '64'];
// A shuffle buffer of about 190 rows, a fraction of the harvest: training streams it window by window.
const TRAIN_OPTIONS = ['--checkpoint-every', '10', '--log-every', '10', '--seed', '5', '--shuffle-buffer-mb', '0.05', '--device', 'cpu'];
const ANALYZE = ['analyze', '--sae', '1', '--harvest', '1', '--top', '5', '--device', 'cpu'];
const evalArgs = () => ['eval', '--model', DEMO, '--dataset', bench, '--max-new-tokens', '4', '--device', 'cpu'];
const strip = (rows: Rows, key: string) => rows.map(({ [key]: _id, ...r }) => r);

function saeOutcome(result: unknown) {
  const { saeId, history } = result as { saeId: number; history: Array<{ step: number }> };
  const folder = String(query('SELECT folder FROM saes WHERE id = ?', saeId)[0]!.folder);
  return {
    // Bit for bit: the checkpoint holds the shuffle buffer's position, so a resumed run draws the rows
    // the uninterrupted one drew from there.
    weights: fs.readFileSync(path.join(ws, folder, 'sae_weights.safetensors')).toString('base64'),
    // One logged point per 10 steps, each once: no step lost or repeated in the log.
    logged: history.map((h) => h.step),
  };
}

const analysisOutcome = (result: unknown) => {
  const id = (result as { analysisId: number }).analysisId;
  return {
    features: strip(query('SELECT * FROM features WHERE analysis_id = ? ORDER BY feature', id), 'analysis_id'),
    examples: strip(query('SELECT * FROM feature_examples WHERE analysis_id = ? ORDER BY feature, kind, rank', id), 'analysis_id'),
  };
};

const evalOutcome = (result: unknown) =>
  strip(query('SELECT * FROM predictions WHERE eval_id = ? ORDER BY item_id', (result as { evalId: number }).evalId), 'eval_id');

const experimentOutcome = (result: unknown) => {
  const id = (result as { experimentId: number }).experimentId;
  const results = JSON.parse(String(query('SELECT results_json FROM experiments WHERE id = ?', id)[0]!.results_json)) as {
    conditions: unknown;
  };
  return {
    outputs: strip(query('SELECT * FROM experiment_outputs WHERE experiment_id = ? ORDER BY condition, item_id', id), 'experiment_id'),
    conditions: results.conditions,
  };
};

describe('kill -9 at 10 seeded points per job kind, then ocular jobs resume: the result equals an uninterrupted run', () => {
  it('harvest: rows, items, shard bytes and statistics', async () => {
    const span = await reference('harvest', harvestArgs());
    const expected = harvestOutcome(1);
    expect(expected.rows.length).toBeGreaterThan(64); // several shards, so kills fall between commits
    await tenKills('harvest', 141, harvestArgs(), span, (r) => harvestOutcome((r as { harvestId: number }).harvestId), expected);
  }, 600_000);

  it('sae-train, on a harvest larger than its shuffle buffer: SAE weights bit for bit and the logged steps', async () => {
    const rows = Number(query('SELECT sum(rows) AS n FROM harvest_shards WHERE harvest_id = 1 AND tap = ?', TAP)[0]!.n);
    const width = Number(JSON.parse(String(query('SELECT stats_json FROM harvests WHERE id = 1')[0]!.stats_json))[TAP].width);
    expect(rows * width * 4).toBeGreaterThan(3 * 0.05 * 2 ** 20); // 120 steps of 64 rows: several windows and epochs
    const span = await reference('sae-train', [...TRAIN, ...TRAIN_OPTIONS]);
    const expected = saeOutcome(JSON.parse(String(query("SELECT result_json FROM jobs WHERE kind = 'sae-train'")[0]!.result_json)));
    expect(expected.logged).toEqual(Array.from({ length: 12 }, (_, i) => (i + 1) * 10));
    await tenKills('sae-train', 142, [...TRAIN, ...TRAIN_OPTIONS], span, saeOutcome, expected);
  }, 600_000);

  it('analyze: feature statistics and examples', async () => {
    const span = await reference('analyze', ANALYZE);
    const expected = analysisOutcome({ analysisId: 1 });
    expect(expected.features.length).toBe(256);
    await tenKills('analyze', 143, ANALYZE, span, analysisOutcome, expected);
  }, 600_000);

  it('evaluate: every prediction once, as uninterrupted', async () => {
    const span = await reference('evaluate', evalArgs());
    const expected = evalOutcome({ evalId: 1 });
    expect(expected.length).toBeGreaterThan(0);
    await tenKills('evaluate', 144, evalArgs(), span, evalOutcome, expected);
  }, 600_000);

  it('experiment: every condition output once, as uninterrupted', async () => {
    const spec = path.join(root, 'spec.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        name: 'kill-resume',
        modelId: 1,
        saeId: 1,
        analysisId: 1,
        datasetId: 1,
        tasks: ['color', 'shape'],
        featureSets: [{ name: 'colour', selective: { task: 'color', top: 8, tokens: 'answer' } }],
        operation: { op: 'zero' },
        where: 'all',
        controls: { randomSets: 1, randomDirections: false, union: false },
      }),
    );
    const span = await reference('experiment', ['experiment', 'run', spec]);
    const expected = experimentOutcome({ experimentId: 1 });
    expect(expected.outputs.length).toBeGreaterThan(0);
    await tenKills('experiment', 145, ['experiment', 'run', spec], span, experimentOutcome, expected);
  }, 600_000);

  it('sae-train from the model (no shards kept): the weights of training on the fp32 harvest, bit for bit, killed and resumed', async () => {
    // A buffer of about 800 rows, half the harvest's 1.6k: two windows an epoch, so the model runs per chunk read.
    const options = [
      ...TRAIN_OPTIONS.filter((o, i, a) => o !== '--shuffle-buffer-mb' && a[i - 1] !== '--shuffle-buffer-mb'),
      '--shuffle-buffer-mb',
      '0.4',
    ];
    const fromModel = ['train', '--from-model', '--model', DEMO, '--dataset', bench, ...TRAIN.slice(3), ...options];
    const files = () =>
      fs.readdirSync(ws, { recursive: true, withFileTypes: true }).filter((f) => f.isFile() && /harvest/.test(f.parentPath)).length;
    const shardsBefore = [
      query('SELECT count(*) AS n FROM harvest_shards')[0]!.n,
      query('SELECT count(*) AS n FROM harvests')[0]!.n,
      files(),
    ];
    await reference('sae-train', [...TRAIN, ...options]);
    const onHarvest = saeOutcome(
      JSON.parse(String(query("SELECT result_json FROM jobs WHERE kind = 'sae-train' ORDER BY id DESC LIMIT 1")[0]!.result_json)),
    );
    const span = await reference('sae-train', fromModel);
    const job = query("SELECT params_json, result_json FROM jobs WHERE kind = 'sae-train' ORDER BY id DESC LIMIT 1")[0]!;
    expect((JSON.parse(String(job.params_json)) as { fromModel?: unknown }).fromModel).toBeTruthy();
    const expected = saeOutcome(JSON.parse(String(job.result_json)));
    // The rows reach the trainer in the harvest's order with the harvest's floats: the same SAE.
    expect(expected).toEqual(onHarvest);
    const saeId = (JSON.parse(String(job.result_json)) as { saeId: number }).saeId;
    const cfg = JSON.parse(
      fs.readFileSync(path.join(ws, String(query('SELECT folder FROM saes WHERE id = ?', saeId)[0]!.folder), 'cfg.json'), 'utf8'),
    ) as {
      metadata: { ocular_training: Record<string, unknown> };
    };
    expect(cfg.metadata.ocular_training).toMatchObject({ source: 'model', items: 21, items_per_forward_pass: 8 });
    expect(cfg.metadata.ocular_training.rows_per_epoch).toBeGreaterThan(2 * 800);
    await tenKills('sae-train', 146, fromModel, span, saeOutcome, expected, 5);
    // Nothing was harvested or stored by any of the runs.
    expect([query('SELECT count(*) AS n FROM harvest_shards')[0]!.n, query('SELECT count(*) AS n FROM harvests')[0]!.n, files()]).toEqual(
      shardsBefore,
    );
  }, 600_000);
});
