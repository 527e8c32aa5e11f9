/**
 * Scenes: coloured shapes on a G x G grid, at most one shape per cell.
 * A scene is plain JSON, stored with every sample, and is the single source
 * of truth: the image is rendered from it and every label is recomputed from it.
 */
import { Rng } from './rng';

/** Every shape the renderer can draw. */
export const SHAPE_KINDS = ['circle', 'square', 'triangle', 'cross', 'diamond'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];

/** Used by default: four shapes that stay distinct at 48x48 (a diamond and a circle blur together at ~10 px). */
export const DEFAULT_KINDS: readonly ShapeKind[] = ['circle', 'square', 'triangle', 'cross'];

/**
 * Every colour with its RGB value. Hues far apart and all bright, so each
 * stays distinct from the others and from the dark background even when a
 * shape covers only a few pixels.
 */
export const COLOUR_RGB = {
  red: [230, 40, 40],
  green: [40, 190, 60],
  blue: [50, 100, 255],
  yellow: [245, 225, 40],
  purple: [185, 70, 230],
  cyan: [40, 220, 230],
  white: [245, 245, 245],
} as const satisfies Record<string, readonly [number, number, number]>;
export type Colour = keyof typeof COLOUR_RGB;
export const COLOURS = Object.keys(COLOUR_RGB) as Colour[];
export const DEFAULT_COLOURS: readonly Colour[] = ['red', 'green', 'blue', 'yellow', 'purple'];

export const PLURAL: Record<ShapeKind, string> = {
  circle: 'circles',
  square: 'squares',
  triangle: 'triangles',
  cross: 'crosses',
  diamond: 'diamonds',
};

export interface SceneObject {
  kind: ShapeKind;
  colour: Colour;
  /** 0-based, 0 = top row. */
  row: number;
  /** 0-based, 0 = left column. */
  col: number;
  /** Half-extent as a fraction of half the cell, in [0.5, 0.95]. */
  size: number;
}

export interface Scene {
  grid: number;
  /** Sorted by row, then column. */
  objects: SceneObject[];
}

export const MIN_GRID = 2;
export const MAX_GRID = 8;
export const MIN_SIZE = 0.5;
export const MAX_SIZE = 0.95;

/** Throws a TypeError/RangeError naming the offending field (e.g. `scene.objects[2].colour`). */
export function validateScene(value: unknown, name = 'scene'): Scene {
  if (value === null || typeof value !== 'object') throw new TypeError(`${name} must be an object`);
  const s = value as Record<string, unknown>;
  if (!Number.isInteger(s.grid) || (s.grid as number) < MIN_GRID || (s.grid as number) > MAX_GRID) {
    throw new RangeError(`${name}.grid must be an integer in [${MIN_GRID}, ${MAX_GRID}], got ${JSON.stringify(s.grid)}`);
  }
  const grid = s.grid as number;
  if (!Array.isArray(s.objects)) throw new TypeError(`${name}.objects must be an array`);
  const seen = new Set<number>();
  s.objects.forEach((o: unknown, i: number) => {
    const at = `${name}.objects[${i}]`;
    if (o === null || typeof o !== 'object') throw new TypeError(`${at} must be an object`);
    const obj = o as Record<string, unknown>;
    if (!(SHAPE_KINDS as readonly unknown[]).includes(obj.kind)) {
      throw new RangeError(`${at}.kind must be one of ${SHAPE_KINDS.join(', ')}, got ${JSON.stringify(obj.kind)}`);
    }
    if (!(COLOURS as unknown[]).includes(obj.colour)) {
      throw new RangeError(`${at}.colour must be one of ${COLOURS.join(', ')}, got ${JSON.stringify(obj.colour)}`);
    }
    for (const f of ['row', 'col'] as const) {
      if (!Number.isInteger(obj[f]) || (obj[f] as number) < 0 || (obj[f] as number) >= grid) {
        throw new RangeError(`${at}.${f} must be an integer in [0, ${grid - 1}], got ${JSON.stringify(obj[f])}`);
      }
    }
    if (typeof obj.size !== 'number' || !(obj.size >= MIN_SIZE && obj.size <= MAX_SIZE)) {
      throw new RangeError(`${at}.size must be a number in [${MIN_SIZE}, ${MAX_SIZE}], got ${JSON.stringify(obj.size)}`);
    }
    const cell = (obj.row as number) * grid + (obj.col as number);
    if (seen.has(cell)) throw new RangeError(`${at}: cell (${obj.row}, ${obj.col}) already holds another object`);
    seen.add(cell);
  });
  return value as Scene;
}

export interface SceneOptions {
  grid: number;
  /** How many objects (<= grid * grid). */
  count: number;
  kinds: readonly ShapeKind[];
  colours: readonly Colour[];
  /** Object size range; equal bounds give fixed-size shapes. */
  sizeRange: readonly [number, number];
}

/** Random scene: distinct cells, kind and colour drawn independently from the given lists. */
export function randomScene(rng: Rng, opts: SceneOptions): Scene {
  const { grid, count, kinds, colours, sizeRange } = opts;
  if (count > grid * grid) throw new RangeError(`count (${count}) exceeds the ${grid}x${grid} grid`);
  const cells = rng.sample(
    Array.from({ length: grid * grid }, (_, i) => i),
    count,
  );
  const objects = cells.map((cell) => ({
    kind: rng.pick(kinds),
    colour: rng.pick(colours),
    row: Math.floor(cell / grid),
    col: cell % grid,
    // Two decimals keep the JSON short; the renderer reads the stored value.
    size: Math.round((sizeRange[0] + (sizeRange[1] - sizeRange[0]) * rng.float()) * 100) / 100,
  }));
  return { grid, objects: sortObjects(objects) };
}

export function sortObjects(objects: SceneObject[]): SceneObject[] {
  return objects.sort((a, b) => a.row - b.row || a.col - b.col);
}

export function objectAt(scene: Scene, row: number, col: number): SceneObject | undefined {
  return scene.objects.find((o) => o.row === row && o.col === col);
}

/** A description that selects objects: colour, kind or both. */
export interface Filter {
  colour?: Colour;
  kind?: ShapeKind;
}

export function matches(o: { colour: Colour; kind: ShapeKind }, f: Filter): boolean {
  return (f.colour === undefined || o.colour === f.colour) && (f.kind === undefined || o.kind === f.kind);
}

export function countMatching(scene: Scene, f: Filter): number {
  return scene.objects.filter((o) => matches(o, f)).length;
}

// ---- cell names ----------------------------------------------------------------------------

const ROWS3 = ['top', 'middle', 'bottom'];
const COLS3 = ['left', 'middle', 'right'];

/** "top-left", "center", "bottom-middle" on a 3x3 grid; "row 2 col 4" (1-based) otherwise. */
export function cellName(grid: number, row: number, col: number): string {
  if (grid === 3) {
    if (row === 1 && col === 1) return 'center';
    return `${ROWS3[row]}-${COLS3[col]}`;
  }
  return `row ${row + 1} col ${col + 1}`;
}

/** Inverse of cellName; undefined if the text names no cell of this grid. */
export function parseCellName(grid: number, text: string): { row: number; col: number } | undefined {
  if (grid === 3) {
    if (text === 'center') return { row: 1, col: 1 };
    const m = /^(top|middle|bottom)-(left|middle|right)$/.exec(text);
    if (!m || (m[1] === 'middle' && m[2] === 'middle')) return undefined;
    return { row: ROWS3.indexOf(m[1]), col: COLS3.indexOf(m[2]) };
  }
  const m = /^row (\d+) col (\d+)$/.exec(text);
  if (!m) return undefined;
  const row = Number(m[1]) - 1;
  const col = Number(m[2]) - 1;
  return row >= 0 && row < grid && col >= 0 && col < grid ? { row, col } : undefined;
}

// ---- directions ------------------------------------------------------------------------------

export const DIRECTIONS = ['left', 'right', 'above', 'below'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const OPPOSITE: Record<Direction, Direction> = { left: 'right', right: 'left', above: 'below', below: 'above' };

/**
 * Is `o` on the `dir` side of `anchor`, in the same row (left/right) or the
 * same column (above/below)? Any distance counts.
 */
export function isInDirection(o: SceneObject, anchor: SceneObject, dir: Direction): boolean {
  switch (dir) {
    case 'left':
      return o.row === anchor.row && o.col < anchor.col;
    case 'right':
      return o.row === anchor.row && o.col > anchor.col;
    case 'above':
      return o.col === anchor.col && o.row < anchor.row;
    case 'below':
      return o.col === anchor.col && o.row > anchor.row;
  }
}

export function objectsInDirection(scene: Scene, anchor: SceneObject, dir: Direction): SceneObject[] {
  return scene.objects.filter((o) => o !== anchor && isInDirection(o, anchor, dir));
}

export function describe(o: { colour: Colour; kind: ShapeKind }): string {
  return `${o.colour} ${o.kind}`;
}

/**
 * The whole scene, one line per cell in reading order: "top-left: red circle", "top-middle: empty", ...
 * The fixed order and the explicit "empty" make every line a question about one known cell, which is
 * the easiest way for a model trained from scratch to learn to read an image (vision warm-up captions).
 */
export function sceneCaption(scene: Scene): string {
  const lines: string[] = [];
  for (let row = 0; row < scene.grid; row++) for (let col = 0; col < scene.grid; col++) lines.push(cellLine(scene, row, col));
  return lines.join('\n');
}

/** One caption line: "top-left: red circle" or "center: empty". */
export function cellLine(scene: Scene, row: number, col: number): string {
  const o = objectAt(scene, row, col);
  return `${cellName(scene.grid, row, col)}: ${o ? describe(o) : 'empty'}`;
}

/** The prompt of a caption example (the built-in model's vision warm-up and caption test). */
export const CAPTION_PROMPT = 'Describe the image.\n';

/**
 * The prompt of a cell lookup: the caption lines of the named cells, in the order named, are its answer. Unlike
 * a caption (always in reading order, so line k can be read from image token k without using the cell's name),
 * a lookup names the cells out of order: it teaches reading the one cell a question names.
 */
export function lookupPrompt(grid: number, cells: readonly { row: number; col: number }[]): string {
  if (cells.length === 0) throw new RangeError('lookupPrompt needs at least one cell');
  const names = cells.map((c) => cellName(grid, c.row, c.col));
  return `Describe the ${names.join(', ')} cell${names.length > 1 ? 's' : ''}.\n`;
}
