/**
 * Dataset rows and their files.
 *
 * Layout: `DIR/<split>.jsonl` (one row per line) and `DIR/images/*.png`; a
 * row's `image` is a path relative to DIR (absolute paths are allowed for
 * imported data). Row keys, in this order:
 *   { id, image, question, response1, response2, label, difficulty, category, teacher, scene }
 * Only the first six are required of data from elsewhere (evaluation's
 * `synthetic` loader reads `{ id, image, question, response1, response2,
 * label, difficulty?, category? }`).
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { SyntheticRow as BenchmarkRow } from '../eval/types';
import { LEVEL_IDS, type Level } from './generate';
import type { Category } from './questions';
import { CATEGORIES } from './questions';
import { Scene, validateScene } from './scene';

export const SPLITS = ['train', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** A preference pair (the benchmark row, lib/eval's SyntheticRow) with what training needs. */
export interface PreferenceRow extends BenchmarkRow {
  /** `<think>analysis</think><answer>N</answer>` for the supervised stage. */
  teacher?: string;
  scene?: Scene;
}

/** A row of the built-in synthetic data: every field present. */
export interface SyntheticRow extends PreferenceRow {
  difficulty: Level;
  category: Category;
  teacher: string;
  scene: Scene;
}

/** Checks a parsed row; errors name the field (prefixed by `where`, e.g. "train.jsonl line 4"). */
export function validateRow(value: unknown, where = 'row'): PreferenceRow {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${where} must be a JSON object`);
  const r = value as Record<string, unknown>;
  for (const f of ['id', 'image', 'question', 'response1', 'response2'] as const) {
    if (typeof r[f] !== 'string') throw new TypeError(`${where}: ${f} must be a string, got ${describeType(r[f])}`);
  }
  if ((r.id as string) === '') throw new RangeError(`${where}: id must not be empty`);
  if ((r.image as string) === '') throw new RangeError(`${where}: image must not be empty`);
  if (r.label !== 1 && r.label !== 2) throw new RangeError(`${where}: label must be 1 or 2, got ${JSON.stringify(r.label)}`);
  if (r.difficulty !== undefined && (!Number.isInteger(r.difficulty) || (r.difficulty as number) < 0)) {
    throw new RangeError(`${where}: difficulty must be a non-negative integer, got ${JSON.stringify(r.difficulty)}`);
  }
  if (r.category !== undefined && typeof r.category !== 'string') throw new TypeError(`${where}: category must be a string, got ${describeType(r.category)}`);
  if (r.teacher !== undefined && typeof r.teacher !== 'string') throw new TypeError(`${where}: teacher must be a string, got ${describeType(r.teacher)}`);
  if (r.scene !== undefined) validateScene(r.scene, `${where}: scene`);
  return value as PreferenceRow;
}

/** validateRow plus the fields the synthetic data always has. */
export function validateSyntheticRow(value: unknown, where = 'row'): SyntheticRow {
  const r = validateRow(value, where);
  if (!(LEVEL_IDS as readonly unknown[]).includes(r.difficulty)) {
    throw new RangeError(`${where}: difficulty must be one of ${LEVEL_IDS.join(', ')}, got ${JSON.stringify(r.difficulty)}`);
  }
  if (!(CATEGORIES as readonly unknown[]).includes(r.category)) {
    throw new RangeError(`${where}: category must be one of ${CATEGORIES.join(', ')}, got ${JSON.stringify(r.category)}`);
  }
  if (typeof r.teacher !== 'string') throw new TypeError(`${where}: teacher must be a string, got ${describeType(r.teacher)}`);
  if (r.scene === undefined) throw new TypeError(`${where}: scene is missing`);
  return r as SyntheticRow;
}

function describeType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** The row with its keys in the documented order (stable files, stable diffs). */
export function orderRow(r: PreferenceRow): PreferenceRow {
  const out: PreferenceRow = { id: r.id, image: r.image, question: r.question, response1: r.response1, response2: r.response2, label: r.label };
  if (r.difficulty !== undefined) out.difficulty = r.difficulty;
  if (r.category !== undefined) out.category = r.category;
  if (r.teacher !== undefined) out.teacher = r.teacher;
  if (r.scene !== undefined) out.scene = r.scene;
  return out;
}

export function toJsonl(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r) + '\n').join('');
}

/** Parses JSONL text; blank lines are skipped, a bad line throws with its line number. */
export function parseJsonl(text: string, name = 'jsonl'): unknown[] {
  if (typeof text !== 'string') throw new TypeError(`${name}: text must be a string, got ${text === null ? 'null' : typeof text}`);
  const out: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      throw new SyntaxError(`${name} line ${i + 1}: invalid JSON (${(e as Error).message})`);
    }
  }
  return out;
}

export async function readJsonl(file: string): Promise<unknown[]> {
  return parseJsonl(await fsp.readFile(file, 'utf8'), path.basename(file));
}

export async function writeJsonl(file: string, rows: readonly unknown[]): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, toJsonl(rows));
}

export function splitFile(dir: string, split: string): string {
  return path.join(dir, `${split}.jsonl`);
}

/** Reads and validates `DIR/<split>.jsonl`. */
export async function readRows(dir: string, split: string): Promise<PreferenceRow[]> {
  const file = splitFile(dir, split);
  const name = `${split}.jsonl`;
  return (await readJsonl(file)).map((r, i) => validateRow(r, `${name} row ${i + 1}`));
}

/** Writes `DIR/<split>.jsonl` (keys in the documented order). */
export async function writeRows(dir: string, split: string, rows: readonly PreferenceRow[]): Promise<void> {
  rows.forEach((r, i) => validateRow(r, `${split} row ${i + 1}`));
  await writeJsonl(splitFile(dir, split), rows.map(orderRow));
}

/** Absolute path of a row's image. */
export function imagePath(dir: string, row: Pick<PreferenceRow, 'image'>): string {
  return path.resolve(dir, row.image);
}
