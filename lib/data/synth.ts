/**
 * The built-in synthetic dataset: n samples, split into train and test,
 * levels and question categories spread evenly, the faithful response's
 * position balanced 1:1 within each split, no (scene, question) pair twice.
 * `synthesize` is pure; `writeSynthetic` renders and writes the files.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { DEFAULT_BUDGETS, DEFAULT_LEVELS, GeneratorOptions, LEVEL_IDS, Level, generateSample, levelCategories } from './generate';
import { SyntheticRow, orderRow, writeRows } from './io';
import { CATEGORIES, Category } from './questions';
import { DEFAULT_IMAGE_SIZE, MAX_IMAGE_SIZE, MIN_IMAGE_SIZE, PREVIEW_SIZE, renderScenePng } from './render';
import { Rng } from './rng';
import { COLOURS, Colour, DEFAULT_COLOURS, DEFAULT_KINDS, MAX_GRID, MIN_GRID, SHAPE_KINDS, ShapeKind } from './scene';

export interface SynthOptions {
  /** Total samples, both splits together. */
  n: number;
  /** Non-negative integer. */
  seed: number;
  /** Difficulty levels to draw, evenly: 0-4 (default 1-4). */
  levels?: readonly number[];
  /** Share of samples in the test split (default 0.2). */
  testFraction?: number;
  /** Side of the stored images in pixels (default 48). */
  imageSize?: number;
  /** Grid side (default 3). */
  grid?: number;
  kinds?: readonly ShapeKind[];
  colours?: readonly Colour[];
  categories?: readonly Category[];
  /** Byte budgets per level (index = level, 0-4); see DEFAULT_BUDGETS. */
  budgets?: { prompt?: readonly number[]; analysis?: readonly number[] };
  /** Draws per sample before giving up (default 400). */
  maxAttempts?: number;
}

export interface ResolvedSynthOptions {
  n: number;
  seed: number;
  levels: Level[];
  testFraction: number;
  imageSize: number;
  grid: number;
  kinds: ShapeKind[];
  colours: Colour[];
  categories: Category[];
  budgets: { prompt: number[]; analysis: number[] };
  maxAttempts: number;
}

export interface SynthDataset {
  train: SyntheticRow[];
  test: SyntheticRow[];
  options: ResolvedSynthOptions;
}

function intIn(v: unknown, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`${name} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function subsetOf<T extends string>(v: readonly unknown[] | undefined, name: string, all: readonly T[], fallback: readonly T[], min: number): T[] {
  const list = v ?? fallback;
  if (!Array.isArray(list)) throw new TypeError(`${name} must be an array`);
  for (const x of list) if (!all.includes(x as T)) throw new RangeError(`${name}: ${JSON.stringify(x)} is not one of ${all.join(', ')}`);
  const uniq = [...new Set(list as T[])];
  if (uniq.length < min) throw new RangeError(`${name} needs at least ${min} distinct values, got ${uniq.length}`);
  return uniq;
}

function budgetList(v: readonly number[] | undefined, name: string, fallback: readonly number[]): number[] {
  const list = v ?? fallback;
  if (!Array.isArray(list) || list.length !== LEVEL_IDS.length) {
    throw new RangeError(`${name} must list ${LEVEL_IDS.length} byte budgets (levels ${LEVEL_IDS[0]}-${LEVEL_IDS[LEVEL_IDS.length - 1]})`);
  }
  return list.map((b, i) => intIn(b, `${name}[${i}]`, 16, 1 << 20));
}

export function resolveSynthOptions(o: SynthOptions): ResolvedSynthOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  const n = intIn(o.n, 'n', 1, 10_000_000);
  const seed = intIn(o.seed, 'seed', 0, Number.MAX_SAFE_INTEGER);
  const rawLevels = o.levels ?? DEFAULT_LEVELS;
  if (!Array.isArray(rawLevels) || rawLevels.length === 0) throw new RangeError('levels must be a non-empty array');
  rawLevels.forEach((l, i) => intIn(l, `levels[${i}]`, LEVEL_IDS[0], LEVEL_IDS[LEVEL_IDS.length - 1]));
  const levels = [...new Set(rawLevels as Level[])].sort((a, b) => a - b);
  const testFraction = o.testFraction ?? 0.2;
  if (typeof testFraction !== 'number' || !(testFraction >= 0 && testFraction < 1)) {
    throw new RangeError(`testFraction must be a number in [0, 1), got ${JSON.stringify(testFraction)}`);
  }
  const categories = subsetOf(o.categories, 'categories', CATEGORIES, CATEGORIES, 1);
  for (const l of levels) {
    if (levelCategories(l, categories).length === 0) {
      throw new RangeError(`categories: level ${l} asks only ${levelCategories(l).join(', ')} questions, none of ${categories.join(', ')}`);
    }
  }
  return {
    n,
    seed,
    levels,
    testFraction,
    imageSize: intIn(o.imageSize ?? DEFAULT_IMAGE_SIZE, 'imageSize', MIN_IMAGE_SIZE, MAX_IMAGE_SIZE),
    grid: intIn(o.grid ?? 3, 'grid', MIN_GRID, MAX_GRID),
    kinds: subsetOf(o.kinds, 'kinds', SHAPE_KINDS, DEFAULT_KINDS, 2),
    colours: subsetOf(o.colours, 'colours', COLOURS, DEFAULT_COLOURS, 2),
    categories,
    budgets: {
      prompt: budgetList(o.budgets?.prompt, 'budgets.prompt', DEFAULT_BUDGETS.prompt),
      analysis: budgetList(o.budgets?.analysis, 'budgets.analysis', DEFAULT_BUDGETS.analysis),
    },
    maxAttempts: intIn(o.maxAttempts ?? 400, 'maxAttempts', 1, 1_000_000),
  };
}

/**
 * Test split size: round(n * testFraction), moved by one where needed so that
 * both splits have an even size when n is even (then the 1:1 position balance
 * is exact in both).
 */
export function testSize(n: number, testFraction: number): number {
  let t = Math.round(n * testFraction);
  if (n % 2 === 0 && t % 2 === 1) t += t + 1 <= n && n * testFraction >= t ? 1 : -1;
  return t;
}

/** Key of a sample for duplicate detection: the question and what is where (sizes ignored). */
function sampleKey(question: string, s: { grid: number; objects: { row: number; col: number; colour: string; kind: string }[] }): string {
  return `${s.grid}|${question}|${s.objects.map((o) => `${o.row},${o.col},${o.colour},${o.kind}`).join(';')}`;
}

export function idFor(seed: number, index: number): string {
  return `s${seed}-${String(index).padStart(6, '0')}`;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * (level, category) for m samples of one split, in random order. Slot k gets
 * level k mod L. Levels that ask the same categories (all levels but 0, which
 * asks only attribute and existence) form a group of G levels and C
 * categories; the group's r-th slot gets category (j + floor(j / lcm(G, C)))
 * mod C, j = r mod G*C. Every run of G*C consecutive slots of a group holds
 * each of its pairs once, and any prefix is balanced to within one sample per
 * level, per pair, and per category within a group (across groups too, when
 * there is one).
 */
function designSlots(o: ResolvedSynthOptions, m: number, split: string): { level: Level; category: Category }[] {
  const L = o.levels.length;
  const asked = o.levels.map((l) => levelCategories(l, o.categories));
  const group = asked.map((c) => c.join(','));
  const size = new Map<string, number>();
  for (const g of group) size.set(g, (size.get(g) ?? 0) + 1);
  const seen = new Map<string, number>();
  const slots = Array.from({ length: m }, (_, k) => {
    const a = k % L;
    const r = seen.get(group[a]) ?? 0;
    seen.set(group[a], r + 1);
    const G = size.get(group[a])!;
    const C = asked[a].length;
    const lcm = (G * C) / gcd(G, C);
    const j = r % (G * C);
    return { level: o.levels[a], category: asked[a][(j + Math.floor(j / lcm)) % C] };
  });
  return Rng.derive(o.seed, 'slots', split).shuffle(slots);
}

export function synthesize(options: SynthOptions): SynthDataset {
  const o = resolveSynthOptions(options);
  const nTest = testSize(o.n, o.testFraction);
  const nTrain = o.n - nTest;
  const slots = [...designSlots(o, nTrain, 'train'), ...designSlots(o, nTest, 'test')];
  const labels = new Array<1 | 2>(o.n);
  // Alternating positions along (level, category) order: exact 1:1 per split (+-1 for odd sizes), and near 1:1 inside each group.
  for (const [from, to, tag] of [
    [0, nTrain, 'train'],
    [nTrain, o.n, 'test'],
  ] as const) {
    const rng = Rng.derive(o.seed, 'labels', tag);
    const idx = Array.from({ length: to - from }, (_, k) => from + k);
    const tie = idx.map(() => rng.float());
    const order = idx
      .map((i, k) => ({ i, k }))
      .sort((a, b) => slots[a.i].level - slots[b.i].level || slots[a.i].category.localeCompare(slots[b.i].category) || tie[a.k] - tie[b.k]);
    const start = rng.chance(0.5) ? 1 : 0;
    order.forEach(({ i }, j) => (labels[i] = (j + start) % 2 === 0 ? 1 : 2));
  }
  const gen: GeneratorOptions = { grid: o.grid, kinds: o.kinds, colours: o.colours, budgets: o.budgets, maxAttempts: o.maxAttempts };
  const seen = new Set<string>();
  const rows: SyntheticRow[] = slots.map((slot, index) => {
    const s = generateSample({ seed: o.seed, index, level: slot.level, category: slot.category, label: labels[index] }, gen, (c) =>
      seen.has(sampleKey(c.question, c.scene)),
    );
    seen.add(sampleKey(s.question, s.scene));
    const id = idFor(o.seed, index);
    return orderRow({
      id,
      image: `images/${id}.png`,
      question: s.question,
      response1: s.response1,
      response2: s.response2,
      label: s.label,
      difficulty: s.difficulty,
      category: s.category,
      teacher: s.teacher,
      scene: s.scene,
    }) as SyntheticRow;
  });
  return { train: rows.slice(0, nTrain), test: rows.slice(nTrain), options: o };
}

export interface WriteSynthOptions {
  /** Also write this many train images at a larger size to DIR/preview/ (default 0). */
  preview?: number;
  previewSize?: number;
  /** Called after each image. */
  onProgress?: (done: number, total: number) => void;
}

export interface SynthSummary {
  dir: string;
  counts: Record<'train' | 'test', number>;
  labels: Record<'train' | 'test', { 1: number; 2: number }>;
  byLevel: Record<string, number>;
  byCategory: Record<string, number>;
  files: string[];
}

/** Runs `fn` over items with at most `limit` in flight, in order of start. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Synthesises the dataset and writes DIR/train.jsonl, DIR/test.jsonl, DIR/images/*.png and DIR/meta.json. */
export async function writeSynthetic(dir: string, options: SynthOptions, write: WriteSynthOptions = {}): Promise<SynthSummary> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('dir must be a non-empty string');
  const preview = intIn(write.preview ?? 0, 'preview', 0, 1_000_000);
  const previewSize = intIn(write.previewSize ?? PREVIEW_SIZE, 'previewSize', MIN_IMAGE_SIZE, MAX_IMAGE_SIZE);
  const data = synthesize(options);
  const o = data.options;
  await fsp.mkdir(path.join(dir, 'images'), { recursive: true });
  const all = [...data.train, ...data.test];
  let done = 0;
  await forEachLimit(all, 4, async (row) => {
    await fsp.writeFile(path.join(dir, row.image), await renderScenePng(row.scene, o.imageSize));
    write.onProgress?.(++done, all.length);
  });
  const files = ['train.jsonl', 'test.jsonl', 'meta.json'];
  if (preview > 0) {
    await fsp.mkdir(path.join(dir, 'preview'), { recursive: true });
    for (const row of data.train.slice(0, preview)) {
      await fsp.writeFile(path.join(dir, 'preview', `${row.id}.png`), await renderScenePng(row.scene, previewSize));
    }
  }
  await writeRows(dir, 'train', data.train);
  await writeRows(dir, 'test', data.test);
  const summary: SynthSummary = {
    dir,
    counts: { train: data.train.length, test: data.test.length },
    labels: { train: labelCounts(data.train), test: labelCounts(data.test) },
    byLevel: tally(all.map((r) => String(r.difficulty))),
    byCategory: tally(all.map((r) => r.category)),
    files,
  };
  const meta = {
    format: 'stable-reinforce-synthetic',
    version: 1,
    options: o,
    counts: summary.counts,
    labels: summary.labels,
    byLevel: summary.byLevel,
    byCategory: summary.byCategory,
  };
  await fsp.writeFile(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  return summary;
}

export function labelCounts(rows: readonly { label: 1 | 2 }[]): { 1: number; 2: number } {
  return { 1: rows.filter((r) => r.label === 1).length, 2: rows.filter((r) => r.label === 2).length };
}

function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of [...values].sort()) out[v] = (out[v] ?? 0) + 1;
  return out;
}
