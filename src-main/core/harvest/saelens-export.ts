/**
 * A harvested tap as SAELens's cached-activation dataset, so training past one machine can run on
 * SAELens (or anything reading Hugging Face `datasets`) instead of Ocular's trainer.
 *
 * The layout is what `Dataset.save_to_disk` writes for CacheActivationsRunner's features
 * (sae_lens/cache_activations_runner.py), checked against a folder the real `datasets` wrote
 * (test/fixtures/saelens-cache):
 *   dataset_info.json  {"features": {HOOK: Array2D(shape [context_size, d_in], dtype),
 *                                    "token_ids": Sequence(Value int32, length context_size)}}
 *   state.json         {"_data_files": [{"filename": ...}], "_fingerprint": ..., format fields null}
 *   data-0000i-of-0000n.arrow  Arrow IPC *stream*; HOOK is list<list<half|float>> carrying the
 *                      Array2DExtensionType name and '[[ctx, d_in], "dtype"]' as field metadata,
 *                      token_ids fixed_size_list<int32>[ctx], schema metadata {"huggingface": info}.
 * ActivationsStore.load_cached_activation_dataset reads it with load_from_disk and checks the
 * feature shape equals (context_size, d_in); training flattens sequences back into rows, so
 * grouping consecutive harvest rows into sequences changes no activation.
 *
 * Values are copied bit for bit (fp16 shards stay float16). token_ids is written only when every
 * exported row has a token id (vision rows have none); SAELens treats the column as optional.
 * Memory is bounded by one output file; the folder appears atomically (written beside, renamed).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Int32,
  List,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  type Data,
  type DataType,
} from 'apache-arrow';
import { streamOf } from '../../contract/tap-names.js';
import { OcularError } from '../errors.js';
import type { Db } from '../store/sqlite.js';
import type { HarvestStore } from './harvest-store.js';
import { ShardReader } from './shard-reader.js';

/** The extension type `datasets` registers for Array2D (pyarrow rebuilds it from this name). */
export const ARRAY2D_EXTENSION = 'datasets.features.features.Array2DExtensionType';
/** Rows per output file are chosen so a file holds about this many bytes of activations. */
const FILE_BYTES = 256 * 1024 * 1024;

export interface SaelensExportOptions {
  tap: string;
  out: string;
  /** Rows per sequence (SAELens's context_size); the harvest's rows must fill whole sequences. */
  contextSize: number;
  /** Leave out the last rows that do not fill a sequence instead of refusing. */
  dropLast: boolean;
  /** Bytes of activations per Arrow file (tests use small values to get several files). */
  fileBytes?: number;
}

export interface SaelensExportResult {
  out: string;
  hookName: string;
  dIn: number;
  contextSize: number;
  dtype: 'float16' | 'float32';
  sequences: number;
  rows: number;
  droppedRows: number;
  tokenIds: boolean;
  files: string[];
}

/** dataset_info.json's features, as `datasets` writes them (Sequence spelled as datasets 2-3 read it; 4+ accept it). */
function featuresJson(hook: string, ctx: number, dIn: number, dtype: string, tokenIds: boolean): Record<string, unknown> {
  const features: Record<string, unknown> = { [hook]: { shape: [ctx, dIn], dtype, _type: 'Array2D' } };
  if (tokenIds) features.token_ids = { feature: { dtype: 'int32', _type: 'Value' }, length: ctx, _type: 'Sequence' };
  return features;
}

function schemaOf(hook: string, ctx: number, dIn: number, dtype: 'float16' | 'float32', tokenIds: boolean, info: string): Schema {
  const value: DataType = dtype === 'float16' ? new Float16() : new Float32();
  // Python's json.dumps((shape, dtype)) spacing: pyarrow hands these bytes to Array2DExtensionType.
  const ext = new Map([
    ['ARROW:extension:name', ARRAY2D_EXTENSION],
    ['ARROW:extension:metadata', `[[${ctx}, ${dIn}], "${dtype}"]`],
  ]);
  const fields: Field[] = [new Field(hook, new List(new Field('item', new List(new Field('item', value, true)), true)), true, ext)];
  if (tokenIds) fields.push(new Field('token_ids', new FixedSizeList(ctx, new Field('item', new Int32(), true)), true));
  return new Schema(fields, new Map([['huggingface', info]]));
}

function offsets(n: number, step: number): Int32Array {
  const o = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) o[i] = i * step;
  return o;
}

/** One record batch of `seqs` sequences from raw values (Uint16 half bits or Float32) and token ids. */
function batchOf(schema: Schema, seqs: number, ctx: number, dIn: number, values: Uint16Array | Float32Array, tokens: Int32Array | null) {
  const [actField, tokField] = schema.fields;
  const actType = actField!.type as List;
  const rowType = actType.children[0]!.type as List;
  const leaf = makeData({ type: rowType.children[0]!.type as Float16 | Float32, length: values.length, nullCount: 0, data: values });
  const rows = makeData({ type: rowType, length: seqs * ctx, nullCount: 0, valueOffsets: offsets(seqs * ctx, dIn), child: leaf });
  const acts = makeData({ type: actType, length: seqs, nullCount: 0, valueOffsets: offsets(seqs, ctx), child: rows });
  const children: Data[] = [acts];
  if (tokField && tokens) {
    const ids = makeData({ type: new Int32(), length: tokens.length, nullCount: 0, data: tokens });
    children.push(makeData({ type: tokField.type as FixedSizeList<Int32>, length: seqs, nullCount: 0, child: ids }));
  }
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: seqs, nullCount: 0, children }));
}

/** Validate everything, then write the folder beside `out` and rename it into place. */
export function exportSaelens(
  db: Db,
  workspaceDir: string,
  harvests: HarvestStore,
  id: number,
  o: SaelensExportOptions,
): SaelensExportResult {
  const h = harvests.meta(id);
  const width = h.stats[o.tap]?.width;
  if (!width)
    throw new OcularError('invalid_request', `Harvest ${id} has no tap ${o.tap}; it has ${Object.keys(h.stats).join(', ') || 'none'}.`);
  if (!Number.isInteger(o.contextSize) || o.contextSize < 1)
    throw new OcularError('invalid_request', `--context-size must be a positive integer, got ${o.contextSize}.`);
  const reader = new ShardReader(db, workspaceDir, h, o.tap);
  const ctx = o.contextSize;
  const remainder = reader.rows % ctx;
  if (remainder !== 0 && !o.dropLast)
    throw new OcularError(
      'invalid_request',
      `Harvest ${id} has ${reader.rows} rows of ${o.tap}, not a whole number of sequences of ${ctx}; pass --drop-last to leave out the last ${remainder}, or choose a context size that divides ${reader.rows}.`,
    );
  const sequences = Math.floor(reader.rows / ctx);
  if (sequences === 0) throw new OcularError('invalid_request', `Harvest ${id} has no complete sequence of ${ctx} rows of ${o.tap}.`);
  const out = path.resolve(o.out);
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0))
    throw new OcularError(
      'invalid_request',
      `${out} exists and is not an empty folder; SAELens refuses to mix caches, and so does Ocular.`,
    );

  const stream = streamOf(o.tap);
  const missing = (
    db
      .prepare('SELECT count(*) AS n FROM harvest_rows WHERE harvest_id = ? AND stream = ? AND row < ? AND token_id IS NULL')
      .get(id, stream, sequences * ctx) as { n: number }
  ).n;
  const tokenIds = missing === 0;
  const dtype = h.params.dtype === 'fp16' ? 'float16' : 'float32';
  const bytes = h.params.dtype === 'fp16' ? 2 : 4;
  const description =
    `Ocular harvest ${id} (${h.modelPath}), tap ${o.tap}: ${sequences * ctx} rows as ${sequences} sequences of ${ctx}` +
    (tokenIds ? '' : '; token_ids left out because some rows (image patches) have no token id');
  const info = { description, citation: '', homepage: '', license: '', features: featuresJson(o.tap, ctx, width, dtype, tokenIds) };
  const schema = schemaOf(o.tap, ctx, width, dtype, tokenIds, JSON.stringify({ info: { features: info.features } }));

  const seqsPerFile = Math.max(1, Math.floor((o.fileBytes ?? FILE_BYTES) / (ctx * width * bytes)));
  const nFiles = Math.ceil(sequences / seqsPerFile);
  const names = Array.from({ length: nFiles }, (_, i) => `data-${String(i).padStart(5, '0')}-of-${String(nFiles).padStart(5, '0')}.arrow`);
  const tmp = `${out}.ocular-tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const hash = crypto.createHash('sha256');
    const tokenStmt = db.prepare(
      'SELECT token_id FROM harvest_rows WHERE harvest_id = ? AND stream = ? AND row >= ? AND row < ? ORDER BY row',
    );
    // Shards are read in row order; rows are carried across shard ends into the next file.
    const shards = reader.shards[Symbol.iterator]();
    let pending: Buffer = Buffer.alloc(0);
    for (let f = 0; f < nFiles; f++) {
      const seqs = Math.min(seqsPerFile, sequences - f * seqsPerFile);
      const need = seqs * ctx * width * bytes;
      const parts: Buffer[] = [pending];
      let have = pending.length;
      while (have < need) {
        const next = shards.next();
        if (next.done) throw new OcularError('internal', `Harvest ${id}'s shards of ${o.tap} end before row ${sequences * ctx}.`);
        const buf = fs.readFileSync(path.join(workspaceDir, next.value.file));
        parts.push(buf);
        have += buf.length;
      }
      const all = Buffer.concat(parts);
      const chunk = all.subarray(0, need);
      pending = Buffer.from(all.subarray(need));
      const copy = chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength);
      const values = bytes === 2 ? new Uint16Array(copy) : new Float32Array(copy);
      const first = f * seqsPerFile * ctx;
      const tokens = tokenIds
        ? Int32Array.from((tokenStmt.all(id, stream, first, first + seqs * ctx) as Array<{ token_id: number }>).map((r) => r.token_id))
        : null;
      const bytesOut = RecordBatchStreamWriter.writeAll([batchOf(schema, seqs, ctx, width, values, tokens)]).toUint8Array(true);
      hash.update(bytesOut);
      fs.writeFileSync(path.join(tmp, names[f]!), bytesOut);
    }
    const state = {
      _data_files: names.map((filename) => ({ filename })),
      _fingerprint: hash.digest('hex').slice(0, 16),
      _format_columns: null,
      _format_kwargs: {},
      _format_type: null,
      _output_all_columns: false,
      _split: null,
    };
    fs.writeFileSync(path.join(tmp, 'dataset_info.json'), JSON.stringify(info, null, 2));
    fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2));
    if (fs.existsSync(out)) fs.rmdirSync(out); // empty, checked above
    fs.renameSync(tmp, out);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return {
    out,
    hookName: o.tap,
    dIn: width,
    contextSize: ctx,
    dtype,
    sequences,
    rows: sequences * ctx,
    droppedRows: reader.rows - sequences * ctx,
    tokenIds,
    files: names,
  };
}
