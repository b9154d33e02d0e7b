/**
 * Reading a dataset folder: images plus a JSONL or CSV of questions and answers (Ocular's own
 * `dataset synth` output is one such folder). Every row is checked before anything is stored —
 * fields present, answer typed, image inside the folder, a raster image that decodes in full within the
 * pixel limit (image-check.ts) — and all problems
 * are reported together, each with its file and row, so nothing is ever half-imported.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { OcularError } from '../errors.js';
import { resolveInside } from '../util/safe-path.js';
import { imageProblem } from './image-check.js';

export type AnswerType = 'integer' | 'float' | 'text';

export interface DatasetRow {
  key: string;
  image: string;
  question: string;
  answerType: AnswerType;
  answer: number | string;
  task: string | null;
  difficulty: number | null;
  scene: unknown;
}

export interface DatasetFolder {
  dir: string;
  file: string;
  source: 'synth' | 'import';
  meta: Record<string, unknown>;
  rows: DatasetRow[];
}

const MAX_LISTED = 12;

function findItemsFile(dir: string): string {
  for (const preferred of ['items.jsonl', 'data.jsonl', 'items.csv', 'data.csv'])
    if (fs.existsSync(path.join(dir, preferred))) return preferred;
  const candidates = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl') || f.endsWith('.csv'));
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0)
    throw new OcularError('invalid_request', `${dir} has no items.jsonl or CSV file listing images, questions and answers.`);
  throw new OcularError(
    'invalid_request',
    `${dir} has several candidate files (${candidates.join(', ')}); name one items.jsonl or items.csv.`,
  );
}

function typedAnswer(answer: unknown, declared: unknown): { type: AnswerType; value: number | string } | string {
  if (answer && typeof answer === 'object' && 'type' in answer && 'value' in answer) {
    return typedAnswer((answer as { value: unknown }).value, (answer as { type: unknown }).type);
  }
  if (declared !== undefined && declared !== null && declared !== '' && !['integer', 'float', 'text'].includes(String(declared))) {
    return `answer_type '${String(declared)}' is not integer, float or text`;
  }
  if (answer === undefined || answer === null || answer === '') return 'the answer is missing';
  const text = String(answer).trim();
  const type = (
    declared ? String(declared) : /^-?\d+$/.test(text) ? 'integer' : /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(text) ? 'float' : 'text'
  ) as AnswerType;
  if (type === 'integer') {
    if (!/^-?\d+$/.test(text)) return `answer '${text}' is not an integer`;
    return { type, value: Number(text) };
  }
  if (type === 'float') {
    const v = Number(text);
    if (!Number.isFinite(v)) return `answer '${text}' is not a number`;
    return { type, value: v };
  }
  return { type, value: text };
}

interface RawRecord {
  line: number;
  fields: Record<string, unknown>;
}

function readRecords(file: string, problems: string[]): RawRecord[] {
  const name = path.basename(file);
  const text = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.csv')) {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(text, {
        columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
        skip_empty_lines: true,
        trim: true,
        bom: true,
      });
    } catch (err) {
      problems.push(`${name}: not valid CSV (${(err as Error).message})`);
      return [];
    }
    return rows.map((fields, i) => ({ line: i + 2, fields })); // row 1 is the header
  }
  const records: RawRecord[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const parsed = JSON.parse(line) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) problems.push(`${name} line ${i + 1}: not a JSON object`);
      else records.push({ line: i + 1, fields: parsed as Record<string, unknown> });
    } catch {
      problems.push(`${name} line ${i + 1}: not valid JSON`);
    }
  });
  return records;
}

async function mapLimit<T, R>(xs: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(xs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, xs.length) }, async () => {
      while (next < xs.length) {
        const i = next++;
        out[i] = await fn(xs[i]!);
      }
    }),
  );
  return out;
}

export async function readDatasetFolder(folder: string, options: { file?: string; checkImages?: boolean } = {}): Promise<DatasetFolder> {
  const dir = path.resolve(folder);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new OcularError('invalid_request', `No dataset folder at ${dir}.`);
  const fileName = options.file ?? findItemsFile(dir);
  const file = path.join(dir, fileName);
  if (!fs.existsSync(file)) throw new OcularError('invalid_request', `${dir}: ${fileName} does not exist.`);
  const problems: string[] = [];
  const records = readRecords(file, problems);
  const rows: DatasetRow[] = [];
  const keys = new Map<string, number>();
  const where = (r: RawRecord) => `${fileName} ${fileName.endsWith('.csv') ? 'row' : 'line'} ${r.line}`;
  for (const r of records) {
    const f = r.fields;
    const image = typeof f.image === 'string' ? f.image.trim() : '';
    const question = typeof f.question === 'string' ? f.question : typeof f.prompt === 'string' ? f.prompt : '';
    if (!image) problems.push(`${where(r)}: no image`);
    if (!question.trim()) problems.push(`${where(r)}: no question (or prompt)`);
    const answer = typedAnswer(f.answer, f.answer_type ?? f.answerType);
    if (typeof answer === 'string') problems.push(`${where(r)}: ${answer}`);
    const key = f.id !== undefined && f.id !== '' ? String(f.id) : `row-${r.line}`;
    if (keys.has(key)) problems.push(`${where(r)}: id '${key}' repeats line ${keys.get(key)}`);
    keys.set(key, r.line);
    const difficulty = f.difficulty === undefined || f.difficulty === '' ? null : Number(f.difficulty);
    if (difficulty !== null && !Number.isInteger(difficulty))
      problems.push(`${where(r)}: difficulty '${String(f.difficulty)}' is not an integer`);
    if (!image || !question.trim() || typeof answer === 'string') continue;
    rows.push({
      key,
      image,
      question,
      answerType: answer.type,
      answer: answer.value,
      task: f.task ? String(f.task) : null,
      difficulty,
      scene: f.scene ?? null,
    });
  }
  if (records.length === 0 && problems.length === 0) problems.push(`${fileName}: no items`);

  if (options.checkImages ?? true) {
    const lineOf = new Map(records.map((r) => [String(r.fields.id ?? `row-${r.line}`), r.line]));
    const checks = await mapLimit(rows, 4, async (row) => {
      const at = `${fileName} ${fileName.endsWith('.csv') ? 'row' : 'line'} ${lineOf.get(row.key) ?? '?'}`;
      const resolved = resolveInside(dir, row.image);
      if (!resolved)
        return fs.existsSync(path.resolve(dir, row.image))
          ? `${at}: image '${row.image}' is outside the dataset folder`
          : `${at}: image '${row.image}' not found`;
      const problem = await imageProblem(resolved, row.image);
      return problem ? `${at}: ${problem}` : null;
    });
    for (const c of checks) if (c) problems.push(c);
  }
  if (problems.length === 1) throw new OcularError('invalid_request', `The dataset at ${dir} was not imported: ${problems[0]}`);
  if (problems.length > 0) {
    const listed = problems
      .slice(0, MAX_LISTED)
      .map((p) => `- ${p}`)
      .join('\n');
    throw new OcularError(
      'invalid_request',
      `The dataset at ${dir} was not imported (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${listed}${problems.length > MAX_LISTED ? `\n- … and ${problems.length - MAX_LISTED} more` : ''}`,
    );
  }
  const metaFile = path.join(dir, 'dataset.json');
  const meta = fs.existsSync(metaFile) ? (JSON.parse(fs.readFileSync(metaFile, 'utf8')) as Record<string, unknown>) : {};
  return { dir, file: fileName, source: meta.generator === 'ocular dataset synth' ? 'synth' : 'import', meta, rows };
}
