/**
 * The rows a run trains and evaluates on: the built-in synthetic data (drawn
 * into OUT/data once, reused on resume) or an existing dataset folder, with
 * each image decoded once to raw RGB at the model's input size.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { PreferenceRow, imagePath, readRows } from '../data/io';
import { FACT_PREFIX, captionFirstAnalysis, slippedReasoning } from '../data/generate';
import { CATEGORIES, parseQuestion, type Category } from '../data/questions';
import { CAPTION_PROMPT, cellLine, lookupPrompt, sceneCaption } from '../data/scene';
import { Rng } from '../data/rng';
import { writeSynthetic } from '../data/synth';
import { promptOf } from '../eval/prompt';
import type { ModelExample, ModelInput } from '../model/policy-model';
import { Tokenizer, trainBpe } from '../model/tokenizer';
import type { TrainConfig } from './config';

export interface TrainRow extends PreferenceRow {
  /** Position in its split (stable across resumes: difficulty and curriculum refer to it). */
  index: number;
}

export interface RunData {
  dir: string;
  train: TrainRow[];
  test: TrainRow[];
  /** Rows left out because prompt + target do not fit the model's context. */
  dropped: { train: number; test: number };
  /** The tokenizer the rows were measured with (the model's). */
  tokenizer: Tokenizer;
}

/** Every text the model reads or writes in training: prompts, teacher analyses, captions. */
export function* trainingTexts(rows: readonly PreferenceRow[]): Generator<string> {
  yield CAPTION_PROMPT;
  for (const r of rows) {
    yield promptOf(r);
    if (typeof r.teacher === 'string') yield r.teacher;
    if (r.scene !== undefined) yield sceneCaption(r.scene);
  }
}

/** The tokenizer a new run learns from its training rows (config.model.bpeMerges; 0: byte level). */
export function runTokenizer(c: TrainConfig, train: readonly PreferenceRow[]): Tokenizer {
  return c.model.bpeMerges > 0 ? trainBpe(trainingTexts(train), { merges: c.model.bpeMerges }) : new Tokenizer();
}

/** The synthetic data a run's configuration asks for (its data section; the run's seed unless data.seed). */
export function synthOptions(c: TrainConfig) {
  return {
    n: c.data.n,
    seed: c.data.seed ?? c.seed,
    levels: c.data.levels,
    testFraction: c.data.testFraction,
    imageSize: c.data.imageSize,
    grid: c.data.grid,
    ...(c.data.categories ? { categories: c.data.categories as Category[] } : {}),
  };
}

/** True when DIR holds a finished synthetic dataset drawn with these options (meta.json is written last). */
function synthDone(dir: string, c: TrainConfig): boolean {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
    const want = synthOptions(c);
    const o = meta.options ?? {};
    return (
      o.n === want.n &&
      o.seed === want.seed &&
      o.testFraction === want.testFraction &&
      o.imageSize === want.imageSize &&
      o.grid === want.grid &&
      JSON.stringify(o.levels) === JSON.stringify(want.levels) &&
      JSON.stringify(o.categories) === JSON.stringify(want.categories ?? CATEGORIES)
    );
  } catch {
    return false;
  }
}

/**
 * Synthesises (unless already there) or reads the data, applies maxTrain/maxTest, and drops rows that do not
 * fit the context with an answer as long as the teacher's, counted in tokens of `tokenizerOf(train rows)` (a
 * resumed run passes its saved tokenizer; a new one learns it from these rows).
 */
export async function prepareData(
  c: TrainConfig,
  runDir: string,
  tokenizerOf: (train: readonly TrainRow[]) => Tokenizer | Promise<Tokenizer>,
  onProgress?: (done: number, total: number) => void,
): Promise<RunData> {
  let dir: string;
  if (c.data.dir !== null) {
    dir = path.resolve(c.data.dir);
    if (!fs.existsSync(path.join(dir, 'train.jsonl'))) throw new Error(`config.data.dir: ${dir} has no train.jsonl`);
    if (!fs.existsSync(path.join(dir, 'test.jsonl'))) throw new Error(`config.data.dir: ${dir} has no test.jsonl`);
  } else {
    dir = path.join(runDir, 'data');
    if (!synthDone(dir, c)) {
      await fs.promises.rm(dir, { recursive: true, force: true });
      await writeSynthetic(dir, synthOptions(c), { onProgress });
    }
  }
  let train = (await readRows(dir, 'train')).map((r, index) => ({ ...r, index }));
  let test = (await readRows(dir, 'test')).map((r, index) => ({ ...r, index }));
  if (c.data.captionFirst) {
    train = train.map(withCaptionFirst);
    test = test.map(withCaptionFirst);
  }
  // Training rows only: a test row's teacher analysis is never read (evaluation scores the verdict against the label).
  if (c.data.teacherSlip > 0) train = train.map((r) => withTeacherSlip(r, c.data.seed ?? c.seed, c.data.teacherSlip));
  if (c.data.maxTrain !== null) train = train.slice(0, c.data.maxTrain);
  if (c.data.maxTest !== null) test = test.slice(0, c.data.maxTest);
  const tokenizer = await tokenizerOf(train);
  const nImg = (c.model.imageSize / c.model.patchSize) ** 2;
  const room = (row: PreferenceRow, extra: number) => nImg + 1 + tokenizer.encode(promptOf(row)).length + extra <= c.model.maxSeqLen;
  // A row must leave room for an answer as long as its teacher's (generation stops at the context).
  const fits = (r: PreferenceRow) => room(r, r.teacher === undefined ? 2 : tokenizer.encode(r.teacher).length + 1);
  const fitTrain = train.filter(fits);
  const fitTest = test.filter(fits);
  if (fitTrain.length === 0) throw new Error(`no training row fits config.model.maxSeqLen (${c.model.maxSeqLen}) with its prompt and teacher analysis`);
  if (fitTest.length === 0) throw new Error(`no test row fits config.model.maxSeqLen (${c.model.maxSeqLen})`);
  return { dir, train: fitTrain, test: fitTest, dropped: { train: train.length - fitTrain.length, test: test.length - fitTest.length }, tokenizer };
}

/**
 * The row with its teacher analysis begun by the scene's caption, matches of the question marked
 * (data.captionFirst; lib/data captionFirstAnalysis); rows without a scene or teacher stay as they are.
 */
export function withCaptionFirst<R extends PreferenceRow>(row: R): R {
  const open = '<think>';
  const close = '</think>';
  if (row.scene === undefined || typeof row.teacher !== 'string' || !row.teacher.startsWith(open) || !row.teacher.includes(close)) return row;
  const end = row.teacher.indexOf(close);
  let q;
  try {
    q = parseQuestion(row.scene.grid, row.question);
  } catch (e) {
    throw new RangeError(`row ${row.id}: data.captionFirst needs the synthetic data's questions (${(e as Error).message})`);
  }
  const analysis = captionFirstAnalysis(row.scene, q, row.teacher.slice(open.length, end));
  return { ...row, teacher: `${open}${analysis}${row.teacher.slice(end)}` };
}

/**
 * The row with its teacher analysis misread (data.teacherSlip; lib/data slippedReasoning) with probability `rate`,
 * drawn per row from (seed, row index): a comparison's counts under each other's names or the asked shape
 * overlooked, and the verdict that follows. The label stays the truth, so stage 2's rewards can correct what stage
 * 1 imitated. Rows no misreading applies to, and rows without a scene or teacher, stay as they are.
 */
export function withTeacherSlip<R extends PreferenceRow & { index: number }>(row: R, seed: number, rate: number): R {
  if (typeof row.teacher !== 'string' || !Rng.derive(seed, 'teacher-slip', row.index).chance(rate)) return row;
  const slip = slipOf(row);
  const end = row.teacher.indexOf('</think>');
  const at = row.teacher.indexOf(FACT_PREFIX);
  if (!slip || !row.teacher.startsWith('<think>') || end < 0 || at < 0 || at > end) return row;
  return { ...row, teacher: `${row.teacher.slice(0, at)}${slip.reasoning}</think><answer>${slip.verdict}</answer>` };
}

/**
 * The indices of the rows where a teacher's misreading would change its verdict: the blind spots of
 * data.teacherSlip's teacher, where stage 1 learnt slips and stage 2 has something to correct.
 */
export function teacherBlindSpots(rows: readonly TrainRow[]): Set<number> {
  return new Set(rows.filter((r) => slipOf(r) !== null).map((r) => r.index));
}

/** The misread reasoning of a row (lib/data slippedReasoning), or null: none applies, or no scene or synthetic question. */
function slipOf(row: PreferenceRow): ReturnType<typeof slippedReasoning> {
  if (row.scene === undefined) return null;
  let q;
  try {
    q = parseQuestion(row.scene.grid, row.question);
  } catch {
    return null;
  }
  return slippedReasoning(row.scene, q, [row.response1, row.response2]);
}

/** Images decoded once to raw RGB bytes at the model's input size (what PolicyModel accepts as a Uint8Array). */
export class ImageCache {
  private readonly cache = new Map<string, Uint8Array>();

  constructor(
    private readonly dir: string,
    private readonly size: number,
  ) {}

  async load(rows: readonly PreferenceRow[]): Promise<void> {
    for (const r of rows) {
      const file = imagePath(this.dir, r);
      if (this.cache.has(file)) continue;
      let raw: Buffer;
      try {
        raw = await sharp(file)
          .flatten({ background: '#ffffff' })
          .resize(this.size, this.size, { fit: 'fill' })
          .removeAlpha()
          .toColourspace('srgb')
          .raw()
          .toBuffer();
      } catch (e) {
        throw new Error(`row ${r.id}: image ${file} cannot be read (${(e as Error).message})`);
      }
      if (raw.length !== this.size * this.size * 3) throw new Error(`row ${r.id}: image ${file} did not decode to ${this.size}x${this.size} RGB`);
      this.cache.set(file, new Uint8Array(raw)); // a plain Uint8Array: the model reads it as raw pixels
    }
  }

  get(row: PreferenceRow): Uint8Array {
    const img = this.cache.get(imagePath(this.dir, row));
    if (!img) throw new Error(`image of row ${row.id} was not loaded`);
    return img;
  }

  input(row: PreferenceRow): ModelInput {
    return { image: this.get(row), prompt: promptOf(row) };
  }
}

/** Generator level of a row (synthetic data), or null for data without one. */
export function levelOf(row: PreferenceRow): number | null {
  return typeof row.difficulty === 'number' ? row.difficulty : null;
}

/**
 * A caption example: the row's image, the caption prompt, and the scene's cell-by-cell caption. With
 * `afterTask`, the caption prompt follows the row's task prompt, so the skill is also learnt at the distances
 * from the image at which the analysis reads the image (a skill learnt a few tokens after the image does not
 * carry over to ~60 tokens after it by itself).
 */
export function captionExample(images: ImageCache, row: PreferenceRow, afterTask = false): ModelExample {
  if (row.scene === undefined) throw new Error(`row ${row.id} has no scene to caption`);
  return { image: images.get(row), prompt: captionPrompt(row, afterTask), response: sceneCaption(row.scene) };
}

/** The prompt of a caption example: the caption prompt, after the row's task prompt with `afterTask`. */
export function captionPrompt(row: PreferenceRow, afterTask: boolean): string {
  return afterTask ? promptOf(row) + CAPTION_PROMPT : CAPTION_PROMPT;
}

/** Cells of one lookup example: 1 to LOOKUP_MAX_CELLS (or maxCells) distinct cells in random order. */
export const LOOKUP_MAX_CELLS = 3;

/**
 * A cell lookup example: the row's image, after the row's task prompt with `afterTask`, "Describe the X, Y cells."
 * and the caption lines of X and Y in that order: the step from reading the image in caption order to reading
 * the cell a question names, which is what an analysis's evidence lines do.
 */
export function lookupExample(
  images: ImageCache,
  row: PreferenceRow,
  rng: Rng,
  afterTask = false,
  maxCells = LOOKUP_MAX_CELLS,
): ModelExample & { response: string } {
  const scene = row.scene;
  if (scene === undefined) throw new Error(`row ${row.id} has no scene to look up`);
  const all = Array.from({ length: scene.grid * scene.grid }, (_, i) => ({ row: Math.floor(i / scene.grid), col: i % scene.grid }));
  const cells = rng.sample(all, 1 + rng.int(Math.min(maxCells, all.length)));
  return {
    image: images.get(row),
    prompt: (afterTask ? promptOf(row) : '') + lookupPrompt(scene.grid, cells),
    response: cells.map((c) => cellLine(scene, c.row, c.col)).join('\n'),
  };
}

/** The same pair with the responses exchanged; `index` stays that of the original (difficulty lookups). */
export function swappedRow(r: TrainRow): TrainRow {
  const { teacher: _t, ...rest } = r;
  return { ...rest, id: `${r.id}:swapped`, response1: r.response2, response2: r.response1, label: r.label === 1 ? 2 : 1 };
}

/** Each row followed by its swapped copy (rl.swapAugment's pool). */
export function withSwapped(rows: readonly TrainRow[]): TrainRow[] {
  return rows.flatMap((r) => [r, swappedRow(r)]);
}
