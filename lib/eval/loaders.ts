/**
 * Benchmark loaders: public file formats -> EvalPair, with the official category rules.
 * Files are JSONL (one object per line) or a JSON array. A missing field or media file is an error naming
 * the file, row and id, unless `skipMissing` is set: then the row is skipped and reported.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { sniffMime } from './media';
import { BENCH_NAMES, type BenchName, type EvalPair, type MediaRef } from './types';

export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

export interface RawRow {
  /** 1-based line (JSONL) or array index + 1 (JSON). */
  row: number;
  value: unknown;
}

/** Reads JSONL or a JSON array. Invalid JSON is always an error (with file and line). */
export function readRows(file: string): RawRow[] {
  if (/\.parquet$/i.test(file)) {
    throw new DataError(
      `${file}: parquet is not read directly; convert it to JSONL first ` +
        `(python: pandas.read_parquet(f).to_json(out, orient="records", lines=True)) and save images as files`,
    );
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new DataError(`cannot read data file ${file}: ${(error as Error).message}`);
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(text);
    } catch (error) {
      throw new DataError(`${file}: invalid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(arr)) throw new DataError(`${file}: expected a JSON array of rows`);
    return arr.map((value, i) => ({ row: i + 1, value }));
  }
  const rows: RawRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    try {
      rows.push({ row: i + 1, value: JSON.parse(line) });
    } catch (error) {
      throw new DataError(`${file}:${i + 1}: invalid JSON: ${(error as Error).message}`);
    }
  }
  return rows;
}

/** VL-RewardBench: mmmu/mathverse -> reasoning; hallucination, RLHF-V, RLAIF-V (any case) -> hallucination; else general. */
export function vlRewardBenchCategory(id: string): 'reasoning' | 'hallucination' | 'general' {
  const s = id.toLowerCase();
  if (s.includes('mmmu') || s.includes('mathverse')) return 'reasoning';
  if (s.includes('hallucination') || s.includes('rlhf-v') || s.includes('rlaif-v')) return 'hallucination';
  return 'general';
}

export const MM_RLHF_CATEGORIES = ['mcq', 'long', 'short', 'safety', 'video'] as const;

/** MM-RLHF-RewardBench: the first path segment (folders first, then the file name) starting with a category name. */
export function mmRlhfCategory(mediaPath: string, isVideo = false): string {
  const segments = mediaPath
    .toLowerCase()
    .split(/[\\/]+/)
    .filter((s) => s !== '');
  const ordered = [...segments.slice(0, -1), ...segments.slice(-1)];
  for (const seg of ordered) {
    const m = /^(mcq|long|short|safety|video)(?![a-z])/.exec(seg);
    if (m) return m[1];
  }
  return isVideo ? 'video' : 'other';
}

/** Multimodal RewardBench: the row's Category field (lower case), else "all". */
export function multimodalRewardBenchCategory(row: Record<string, unknown>): string {
  const key = Object.keys(row).find((k) => k.toLowerCase() === 'category');
  const v = key ? row[key] : undefined;
  return typeof v === 'string' && v.trim() !== '' ? v.trim().toLowerCase() : 'all';
}

export interface LoadOptions {
  /** Folder that relative media paths are resolved against (default: the data file's folder). */
  images?: string;
  /** Skip rows with a missing field or media file (counted and reported) instead of failing. */
  skipMissing?: boolean;
  /** Keep the first N usable pairs. */
  limit?: number;
  /**
   * Which response is shown first for chosen/rejected benchmarks (VL-RewardBench, MM-RLHF): 'balanced'
   * (default: decided by a hash of the pair's key, so about half the pairs show the chosen one second) or
   * 'chosen-first' (the released evaluation's order, for reproduction). Other benchmarks keep the file's order.
   */
  order?: 'balanced' | 'chosen-first';
  /** Check that media files exist (default true). */
  checkMedia?: boolean;
}

export interface SkippedRow {
  row: number;
  id: string | null;
  reason: string;
}

export interface LoadedBenchmark {
  bench: BenchName;
  file: string;
  pairs: EvalPair[];
  skipped: SkippedRow[];
}

class RowProblem extends Error {}

function field(obj: Record<string, unknown>, name: string): string {
  const v = obj[name];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && (name === 'id' || name === 'ID')) return String(v);
  if (v === undefined || v === null || v === '') throw new RowProblem(`missing field "${name}"`);
  throw new RowProblem(`field "${name}" must be a string, got ${Array.isArray(v) ? 'array' : typeof v}`);
}

function text(obj: Record<string, unknown>, name: string): string {
  const v = obj[name];
  if (typeof v === 'string') return v; // an empty response is a legal (bad) response
  if (v === undefined || v === null) throw new RowProblem(`missing field "${name}"`);
  throw new RowProblem(`field "${name}" must be a string, got ${Array.isArray(v) ? 'array' : typeof v}`);
}

function media(value: unknown, name: string, kind: 'image' | 'video', base: string, check: boolean): MediaRef {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    // Hugging Face exports write images as { bytes, path }.
    const o = value as { bytes?: unknown; path?: unknown };
    if (typeof o.bytes === 'string' && o.bytes !== '') {
      const mime = kind === 'video' ? 'video/mp4' : 'image/png';
      const b = Buffer.from(o.bytes, 'base64');
      const sniffed = sniffMime(b, typeof o.path === 'string' ? o.path : '');
      return { kind, url: `data:${sniffed === 'application/octet-stream' ? mime : sniffed};base64,${o.bytes}` };
    }
    if (typeof o.path === 'string') value = o.path;
  }
  if (typeof value !== 'string' || value === '') throw new RowProblem(`missing field "${name}"`);
  if (/^(data|https?):/i.test(value)) return { kind, url: value };
  const p = path.resolve(base, value);
  if (check && !fs.existsSync(p)) throw new RowProblem(`${kind} not found: ${p} (field "${name}")`);
  return { kind, path: p };
}

function chosenFirst(key: string, order: 'balanced' | 'chosen-first'): boolean {
  if (order === 'chosen-first') return true;
  return (createHash('sha256').update(key).digest()[0] & 1) === 0;
}

type RowFields = Omit<EvalPair, 'key' | 'row'> & { chosen?: string; rejected?: string };

function parseRow(bench: BenchName, obj: Record<string, unknown>, base: string, check: boolean): RowFields {
  switch (bench) {
    case 'vl-rewardbench': {
      const id = field(obj, 'id');
      return {
        id,
        category: vlRewardBenchCategory(id),
        question: text(obj, 'prompt'),
        chosen: text(obj, 'chosen'),
        rejected: text(obj, 'rejected'),
        media: media(obj.image, 'image', 'image', base, check),
        response1: '',
        response2: '',
        label: 1,
      };
    }
    case 'mm-rlhf-rewardbench': {
      const id = field(obj, 'id');
      const isVideo = obj.video !== undefined && obj.video !== null && obj.video !== '';
      const m = isVideo ? media(obj.video, 'video', 'video', base, check) : media(obj.image, 'image', 'image', base, check);
      const where = typeof obj.video === 'string' ? obj.video : typeof obj.image === 'string' ? obj.image : (m.path ?? '');
      return {
        id,
        category: mmRlhfCategory(where, isVideo),
        question: text(obj, 'prompt'),
        chosen: text(obj, 'chosen'),
        rejected: text(obj, 'rejected'),
        media: m,
        response1: '',
        response2: '',
        label: 1,
      };
    }
    case 'multimodal-rewardbench': {
      const id = field(obj, 'ID');
      const better = obj.Better;
      if (better !== 'Output1' && better !== 'Output2') {
        if (better === undefined || better === null) throw new RowProblem('missing field "Better"');
        throw new RowProblem(`field "Better" must be "Output1" or "Output2", got ${JSON.stringify(better)}`);
      }
      return {
        id,
        category: multimodalRewardBenchCategory(obj),
        question: text(obj, 'Text'),
        response1: text(obj, 'Output1'),
        response2: text(obj, 'Output2'),
        label: better === 'Output1' ? 1 : 2,
        media: media(obj.Image, 'Image', 'image', base, check),
      };
    }
    case 'synthetic': {
      const id = field(obj, 'id');
      const label = obj.label;
      if (label !== 1 && label !== 2) {
        if (label === undefined || label === null) throw new RowProblem('missing field "label"');
        throw new RowProblem(`field "label" must be 1 or 2, got ${JSON.stringify(label)}`);
      }
      let difficulty: number | undefined;
      if (obj.difficulty !== undefined && obj.difficulty !== null) {
        if (typeof obj.difficulty !== 'number' || !Number.isFinite(obj.difficulty)) {
          throw new RowProblem(`field "difficulty" must be a number, got ${JSON.stringify(obj.difficulty)}`);
        }
        difficulty = obj.difficulty;
      }
      if (obj.category !== undefined && obj.category !== null && typeof obj.category !== 'string') {
        throw new RowProblem(`field "category" must be a string, got ${typeof obj.category}`);
      }
      return {
        id,
        category: typeof obj.category === 'string' && obj.category !== '' ? obj.category : 'synthetic',
        question: text(obj, 'question'),
        response1: text(obj, 'response1'),
        response2: text(obj, 'response2'),
        label,
        media: media(obj.image, 'image', 'image', base, check),
        ...(difficulty !== undefined ? { difficulty } : {}),
      };
    }
  }
}

export function loadBenchmark(bench: BenchName, file: string, options: LoadOptions = {}): LoadedBenchmark {
  if (!BENCH_NAMES.includes(bench)) {
    throw new RangeError(`bench must be one of ${BENCH_NAMES.join(', ')}, got ${JSON.stringify(bench)}`);
  }
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) {
    throw new RangeError(`limit must be a positive integer, got ${options.limit}`);
  }
  const base = path.resolve(options.images ?? path.dirname(file));
  if (options.images !== undefined && !fs.existsSync(base)) throw new DataError(`images folder not found: ${base}`);
  const order = options.order ?? 'balanced';
  const pairs: EvalPair[] = [];
  const skipped: SkippedRow[] = [];
  const seen = new Map<string, number>();
  for (const { row, value } of readRows(file)) {
    if (options.limit !== undefined && pairs.length >= options.limit) break;
    const obj = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
    const rawId = obj ? (obj.id ?? obj.ID) : undefined;
    const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : null;
    let p: RowFields;
    try {
      if (!obj) throw new RowProblem('row is not a JSON object');
      p = parseRow(bench, obj, base, options.checkMedia ?? true);
    } catch (error) {
      if (!(error instanceof RowProblem)) throw error;
      if (options.skipMissing) {
        skipped.push({ row, id, reason: error.message });
        continue;
      }
      throw new DataError(
        `${file}:${row}${id !== null ? ` (id ${JSON.stringify(id)})` : ''}: ${error.message}` + ' (use --skip-missing to skip such rows and report them)',
      );
    }
    const n = (seen.get(p.id) ?? 0) + 1;
    seen.set(p.id, n);
    const key = n === 1 ? p.id : `${p.id}#${n}`;
    const { chosen, rejected, ...rest } = p;
    const pair: EvalPair = { ...rest, key, row };
    if (chosen !== undefined && rejected !== undefined) {
      const first = chosenFirst(key, order);
      pair.response1 = first ? chosen : rejected;
      pair.response2 = first ? rejected : chosen;
      pair.label = first ? 1 : 2;
    }
    pairs.push(pair);
  }
  return { bench, file, pairs, skipped };
}
