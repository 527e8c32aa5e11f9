/**
 * One synthetic preference sample: scene, question, a faithful response, a
 * flawed one, and the teacher's analysis.
 *
 * The flawed response is written the same way as the faithful one, but about
 * a slightly edited copy of the scene (an object recoloured, reshaped, added,
 * removed, moved, or two swapped). So it is internally consistent, as real
 * model errors are, and telling the two apart needs the image, not the text.
 */
import { Claim, ResponseCheck, checkResponse, responseText } from './claims';
import { buildCompactPrompt } from '../eval/prompt';
import { CATEGORIES, Category, Question, answerQuestion, countPhrase, dirPhrase, isThing, noun, questionText, relationTarget, singleObject } from './questions';
import { Rng, Seed } from './rng';
import {
  Colour,
  DIRECTIONS,
  Filter,
  Scene,
  ShapeKind,
  cellLine,
  cellName,
  countMatching,
  describe,
  matches,
  objectAt,
  randomScene,
  sortObjects,
} from './scene';

export type Level = 0 | 1 | 2 | 3 | 4;
/** Every level. */
export const LEVEL_IDS: readonly Level[] = [0, 1, 2, 3, 4];
/** The levels drawn when none are named (level 0 is opt-in). */
export const DEFAULT_LEVELS: readonly Level[] = [1, 2, 3, 4];

/** The scene edits behind a flawed response. */
export const EDIT_OPS = ['recolour', 'reshape', 'add', 'remove', 'move', 'swap'] as const;
export type EditOp = (typeof EDIT_OPS)[number];

export interface LevelSpec {
  /** Objects per scene on a 3x3 grid (scaled by area on other grids; level 0's one object on every grid). */
  objects: readonly [number, number];
  /** Distinct colours per scene (0 = any enabled colour). Fewer colours, more look-alike distractors. */
  sceneColours: number;
  /** Distinct kinds per scene (0 = any enabled kind). */
  sceneKinds: number;
  sizeRange: readonly [number, number];
  /** Supporting sentences after the answer, per response (both responses get the same number). */
  support: readonly [number, number];
  /** Share of samples whose flawed response answers right but states a wrong detail. */
  detailErrorRate: number;
  /** Near-miss errors: wrong colours/kinds taken from other objects of the scene, off-by-one counts. */
  subtle: boolean;
  /** Scene edits behind the flawed response (more edits, grosser errors). */
  edits: readonly [number, number];
  /** The edits drawn from (default: all of EDIT_OPS). */
  editOps?: readonly EditOp[];
  /** The question categories this level asks (default: all of CATEGORIES). */
  categories?: readonly Category[];
}

/** Difficulty levels: more objects and distractors, subtler errors, longer responses. */
export const LEVELS: Record<Level, LevelSpec> = {
  // One shape anywhere on the grid; questions about "the shape" need no cell name, and the flawed response
  // is about the shape recoloured or reshaped (adding, removing or moving it would leave no single shape).
  0: {
    objects: [1, 1],
    sceneColours: 0,
    sceneKinds: 0,
    sizeRange: [0.75, 0.75],
    support: [0, 0],
    detailErrorRate: 0,
    subtle: false,
    edits: [1, 1],
    editOps: ['recolour', 'reshape'],
    categories: ['attribute', 'existence'],
  },
  1: { objects: [2, 3], sceneColours: 0, sceneKinds: 0, sizeRange: [0.75, 0.75], support: [0, 0], detailErrorRate: 0, subtle: false, edits: [1, 2] },
  2: { objects: [3, 5], sceneColours: 3, sceneKinds: 3, sizeRange: [0.7, 0.8], support: [0, 1], detailErrorRate: 0, subtle: false, edits: [1, 2] },
  3: { objects: [4, 6], sceneColours: 3, sceneKinds: 3, sizeRange: [0.6, 0.85], support: [1, 1], detailErrorRate: 0.3, subtle: true, edits: [1, 1] },
  4: { objects: [5, 7], sceneColours: 3, sceneKinds: 3, sizeRange: [0.55, 0.9], support: [1, 2], detailErrorRate: 0.5, subtle: true, edits: [1, 1] },
};

/** The categories of `categories` (default: all) that a level asks, in that order. */
export function levelCategories(level: Level, categories: readonly Category[] = CATEGORIES): Category[] {
  const asked = LEVELS[level].categories ?? CATEGORIES;
  return categories.filter((c) => asked.includes(c));
}

/**
 * Byte budgets per level (index = level, 0-4): compact prompt (question and
 * both responses, see buildCompactPrompt) and teacher reasoning (the text
 * inside <think> after the evidence lines, which are not counted: a budget on
 * them would favour scenes with fewer matching objects). A sample over budget
 * is drawn again.
 */
export const DEFAULT_BUDGETS = {
  prompt: [140, 200, 280, 320, 380],
  analysis: [220, 240, 260, 320, 410],
} as const;

export interface GeneratorOptions {
  grid: number;
  kinds: readonly ShapeKind[];
  colours: readonly Colour[];
  budgets: { prompt: readonly number[]; analysis: readonly number[] };
  /** Draws per sample before giving up. */
  maxAttempts: number;
}

export interface SampleSpec {
  seed: Seed;
  index: number;
  level: Level;
  category: Category;
  /** Position of the faithful response. */
  label: 1 | 2;
}

export interface SynthSample {
  question: string;
  response1: string;
  response2: string;
  label: 1 | 2;
  difficulty: Level;
  category: Category;
  teacher: string;
  scene: Scene;
  /** How the flawed response goes wrong (kept out of the stored row). */
  error: 'answer' | 'detail';
  /** Attempts used (1 = first draw). */
  attempts: number;
}

// ---- questions -----------------------------------------------------------------------------------

function makeQuestion(rng: Rng, scene: Scene, category: Category, level: Level, opts: GeneratorOptions): Question | undefined {
  const objs = scene.objects;
  if (objs.length === 0) return undefined;
  if (level === 0) return singleShapeQuestion(rng, scene, category, opts);
  switch (category) {
    case 'count': {
      // Mostly about something present; sometimes a zero count.
      const ref = rng.chance(0.8) ? rng.pick(objs) : { colour: rng.pick(opts.colours), kind: rng.pick(opts.kinds) };
      const mode = rng.int(level === 1 ? 2 : 3);
      const filter: Filter = mode === 0 ? { colour: ref.colour } : mode === 1 ? { kind: ref.kind } : { colour: ref.colour, kind: ref.kind };
      return { type: 'count', filter };
    }
    case 'attribute': {
      const o = rng.pick(objs);
      return { type: 'attribute', attr: rng.chance(0.5) ? 'colour' : 'kind', row: o.row, col: o.col };
    }
    case 'existence': {
      if (rng.chance(0.5)) {
        const o = rng.pick(objs);
        return { type: 'existence', thing: { colour: o.colour, kind: o.kind } };
      }
      const absent = opts.colours.flatMap((colour) => opts.kinds.map((kind) => ({ colour, kind }))).filter((t) => countMatching(scene, t) === 0);
      // Above level 1, ask about a near miss: its colour and its kind are each in the scene.
      const near = absent.filter((t) => countMatching(scene, { colour: t.colour }) > 0 && countMatching(scene, { kind: t.kind }) > 0);
      const pool = level > 1 && near.length > 0 ? near : absent;
      return pool.length > 0 ? { type: 'existence', thing: rng.pick(pool) } : undefined;
    }
    case 'comparison': {
      const byKind = rng.chance(0.5);
      const values: string[] = byKind ? [...opts.kinds] : [...opts.colours];
      const present = objs.map((o) => (byKind ? o.kind : o.colour) as string);
      const first = rng.pick(present);
      const second = rng.pick(values.filter((v) => v !== first));
      const f = (v: string): Filter => (byKind ? { kind: v as ShapeKind } : { colour: v as Colour });
      const n1 = countMatching(scene, f(first));
      const n2 = countMatching(scene, f(second));
      const wantYes = rng.chance(0.5);
      if (wantYes && n1 === n2) return undefined; // keeps "yes" and "no" about equally frequent
      const firstIsMore = n1 > n2;
      const [a, b] = wantYes === firstIsMore ? [first, second] : [second, first];
      return { type: 'comparison', a: f(a), b: f(b) };
    }
    case 'relation': {
      const options: Question[] = [];
      for (const o of objs) {
        for (const dir of DIRECTIONS) {
          const anchor = { colour: o.colour, kind: o.kind };
          if (relationTarget(scene, dir, anchor)) options.push({ type: 'relation', dir, anchor });
        }
      }
      return options.length > 0 ? rng.pick(options) : undefined;
    }
  }
}

/**
 * Level 0: about the scene's one shape, no cell named. Its colour or its kind ("What colour is the shape?",
 * "What shape is in the image?"), or whether there is a shape of a colour or of a kind ("Is there a red
 * shape?", "Is there a circle?"), half the time the shape's own value, half the time another one.
 */
function singleShapeQuestion(rng: Rng, scene: Scene, category: Category, opts: GeneratorOptions): Question | undefined {
  if (scene.objects.length !== 1) return undefined;
  const o = scene.objects[0];
  const byColour = rng.chance(0.5);
  if (category === 'attribute') return { type: 'single', attr: byColour ? 'colour' : 'kind' };
  if (category !== 'existence') return undefined;
  const own = rng.chance(0.5);
  if (byColour) return { type: 'existence', thing: { colour: own ? o.colour : rng.pick(opts.colours.filter((c) => c !== o.colour)) } };
  return { type: 'existence', thing: { kind: own ? o.kind : rng.pick(opts.kinds.filter((k) => k !== o.kind)) } };
}

// ---- responses -----------------------------------------------------------------------------------

/** The first sentence: the question answered from `scene` (the true one or an edited copy). */
function mainClaim(scene: Scene, q: Question): Claim | undefined {
  switch (q.type) {
    case 'count':
      return { t: 'count', items: [{ filter: q.filter, n: countMatching(scene, q.filter) }] };
    case 'attribute': {
      const o = objectAt(scene, q.row, q.col);
      if (!o) return { t: 'cellEmpty', row: q.row, col: q.col };
      return q.attr === 'colour' ? { t: 'cellColour', row: q.row, col: q.col, colour: o.colour } : { t: 'cellKind', row: q.row, col: q.col, kind: o.kind };
    }
    case 'single': {
      if (scene.objects.length !== 1) return undefined;
      const o = scene.objects[0];
      return q.attr === 'colour' ? { t: 'singleColour', colour: o.colour } : { t: 'singleKind', kind: o.kind };
    }
    case 'existence':
      return { t: 'exists', thing: q.thing, value: countMatching(scene, q.thing) > 0 };
    case 'comparison':
      return { t: 'more', a: q.a, b: q.b, value: countMatching(scene, q.a) > countMatching(scene, q.b) };
    case 'relation': {
      const r = relationTarget(scene, q.dir, q.anchor);
      return r ? { t: 'relation', thing: { colour: r.target.colour, kind: r.target.kind }, dir: q.dir, anchor: q.anchor } : undefined;
    }
  }
}

function cellClaim(scene: Scene, row: number, col: number): Claim {
  const o = objectAt(scene, row, col);
  return o ? { t: 'cellHas', row, col, thing: { colour: o.colour, kind: o.kind } } : { t: 'cellEmpty', row, col };
}

function countClaim(scene: Scene, ...filters: Filter[]): Claim {
  return { t: 'count', items: filters.map((filter) => ({ filter, n: countMatching(scene, filter) })) };
}

/**
 * Supporting details, most relevant first, all read off `scene`. `extraCell`
 * is drawn once per sample so both responses talk about the same cells.
 */
function supportClaims(scene: Scene, q: Question, extraCell: { row: number; col: number }): Claim[] {
  switch (q.type) {
    case 'count': {
      const hits = scene.objects.filter((o) => matches(o, q.filter));
      if (hits.length > 0) return hits.map((o) => cellClaim(scene, o.row, o.col));
      return q.filter.colour !== undefined && q.filter.kind !== undefined
        ? [countClaim(scene, { colour: q.filter.colour }), countClaim(scene, { kind: q.filter.kind })]
        : [countClaim(scene, {})];
    }
    case 'attribute':
      return [cellClaim(scene, q.row, q.col), cellClaim(scene, extraCell.row, extraCell.col)];
    case 'single':
      return scene.objects.map((o) => cellClaim(scene, o.row, o.col));
    case 'existence': {
      // A colour or a kind alone (level 0): where each shape is and what it is.
      if (!isThing(q.thing)) return scene.objects.map((o) => cellClaim(scene, o.row, o.col));
      const hit = scene.objects.find((o) => matches(o, q.thing));
      return hit
        ? [cellClaim(scene, hit.row, hit.col), countClaim(scene, { colour: q.thing.colour })]
        : [countClaim(scene, { colour: q.thing.colour }), countClaim(scene, { kind: q.thing.kind })];
    }
    case 'comparison': {
      const hit = scene.objects.find((o) => matches(o, q.a));
      const out = [countClaim(scene, q.a, q.b)];
      if (hit) out.push(cellClaim(scene, hit.row, hit.col));
      return out;
    }
    case 'relation': {
      const r = relationTarget(scene, q.dir, q.anchor);
      return r ? [cellClaim(scene, r.anchor.row, r.anchor.col), cellClaim(scene, r.target.row, r.target.col)] : [];
    }
  }
}

function respond(scene: Scene, q: Question, support: number, extraCell: { row: number; col: number }): Claim[] | undefined {
  const main = mainClaim(scene, q);
  if (!main) return undefined;
  // A detail can coincide with the answer or another detail ("The X cell is empty." twice): say it once.
  const said = new Set([JSON.stringify(main)]);
  const details = supportClaims(scene, q, extraCell).filter((c) => !said.has(JSON.stringify(c)) && said.add(JSON.stringify(c)));
  return [main, ...details.slice(0, support)];
}

// ---- scene edits behind the flawed response -------------------------------------------------------

function cloneScene(s: Scene): Scene {
  return { grid: s.grid, objects: s.objects.map((o) => ({ ...o })) };
}

function otherValue<T>(rng: Rng, current: T, enabled: readonly T[], seen: readonly T[], subtle: boolean): T | undefined {
  // Subtle errors borrow a value seen elsewhere in the picture (a plausible mix-up).
  const near = seen.filter((v) => v !== current);
  if (subtle && near.length > 0) return rng.pick(near);
  const any = enabled.filter((v) => v !== current);
  return any.length > 0 ? rng.pick(any) : undefined;
}

/** One random edit, in place. Returns false when the drawn edit is impossible on this scene. */
function editScene(rng: Rng, s: Scene, opts: GeneratorOptions, lv: LevelSpec): boolean {
  const subtle = lv.subtle;
  const empty: { row: number; col: number }[] = [];
  for (let row = 0; row < s.grid; row++) for (let col = 0; col < s.grid; col++) if (!objectAt(s, row, col)) empty.push({ row, col });
  const colours = s.objects.map((o) => o.colour);
  const kinds = s.objects.map((o) => o.kind);
  const op = rng.pick(lv.editOps ?? EDIT_OPS);
  if (op === 'add') {
    if (empty.length === 0) return false;
    const cell = rng.pick(empty);
    const colour = subtle && colours.length > 0 ? rng.pick(colours) : rng.pick(opts.colours);
    const kind = subtle && kinds.length > 0 ? rng.pick(kinds) : rng.pick(opts.kinds);
    const [lo, hi] = lv.sizeRange;
    s.objects.push({ kind, colour, ...cell, size: Math.round((lo + (hi - lo) * rng.float()) * 100) / 100 });
    sortObjects(s.objects);
    return true;
  }
  if (s.objects.length === 0) return false;
  const i = rng.int(s.objects.length);
  const o = s.objects[i];
  switch (op) {
    case 'recolour': {
      const c = otherValue(rng, o.colour, opts.colours, colours, subtle);
      if (c === undefined) return false;
      o.colour = c;
      return true;
    }
    case 'reshape': {
      const k = otherValue(rng, o.kind, opts.kinds, kinds, subtle);
      if (k === undefined) return false;
      o.kind = k;
      return true;
    }
    case 'remove':
      s.objects.splice(i, 1);
      return true;
    case 'move': {
      if (empty.length === 0) return false;
      Object.assign(o, rng.pick(empty));
      sortObjects(s.objects);
      return true;
    }
    case 'swap': {
      if (s.objects.length < 2) return false;
      const j = (i + 1 + rng.int(s.objects.length - 1)) % s.objects.length;
      const p = s.objects[j];
      if (o.colour === p.colour && o.kind === p.kind) return false;
      [o.row, o.col, p.row, p.col] = [p.row, p.col, o.row, o.col];
      sortObjects(s.objects);
      return true;
    }
  }
}

// ---- teacher ---------------------------------------------------------------------------------------

/** What a response's first sentence says, in a few words. */
function gist(c: Claim): string {
  switch (c.t) {
    case 'count':
      return countPhrase(c.items[0].filter, c.items[0].n);
    case 'cellColour':
      return c.colour;
    case 'cellKind':
      return `a ${c.kind}`;
    case 'cellEmpty':
      return 'empty';
    case 'singleColour':
      return c.colour;
    case 'singleKind':
      return `a ${c.kind}`;
    case 'exists':
    case 'more':
      return c.value ? 'yes' : 'no';
    case 'relation':
    case 'cellHas':
      return `a ${describe(c.thing)}`;
  }
}

/** The fact the question is about, as the image shows it. */
function fact(scene: Scene, q: Question): string {
  switch (q.type) {
    case 'count':
      return countPhrase(q.filter, countMatching(scene, q.filter));
    case 'attribute': {
      const o = objectAt(scene, q.row, q.col);
      return o ? `a ${describe(o)} in the ${cellName(scene.grid, q.row, q.col)} cell` : `nothing in the ${cellName(scene.grid, q.row, q.col)} cell`;
    }
    case 'single':
      return `a ${describe(singleObject(scene))}`;
    case 'existence': {
      const o = scene.objects.find((x) => matches(x, q.thing));
      // A colour or a kind alone (level 0): the cell is not part of the question (nor of the answer).
      if (!isThing(q.thing)) return o ? `a ${describe(o)}` : `no ${noun(q.thing, false)}`;
      return o ? `a ${describe(o)} in the ${cellName(scene.grid, o.row, o.col)} cell` : `no ${describe(q.thing)}`;
    }
    case 'comparison':
      return `${countPhrase(q.a, countMatching(scene, q.a))} and ${countPhrase(q.b, countMatching(scene, q.b))}`;
    case 'relation': {
      const r = relationTarget(scene, q.dir, q.anchor)!;
      return `a ${describe(r.target)} ${dirPhrase(q.dir)} the ${describe(q.anchor)}`;
    }
  }
}

/**
 * Teacher analysis: evidence lines (the cells the question needs, in caption
 * form: "top-left: red circle"), then the reasoning (teacherReasoning). The
 * evidence reuses the caption skill the built-in model learns first (a cell
 * name, then what the image shows there), and the reasoning then reads text it
 * has just written: a small model trained from scratch learns that long before
 * it learns to answer a question from the image in one step
 * (docs/research/image-blindness.md).
 */
export function teacherAnalysis(scene: Scene, q: Question, responses: readonly [string, string], label: 1 | 2): string {
  return [...evidenceLines(scene, q), teacherReasoning(scene, q, responses, label)].join('\n');
}

/** The start of the fact line of a teacher analysis ("The image shows 2 red squares."), which the lines after it read. */
export const FACT_PREFIX = 'The image shows';

/** The filters whose matches a caption-first analysis marks (none for attribute and relation questions). */
function scanFilters(q: Question): Filter[] {
  switch (q.type) {
    case 'count':
      return [q.filter];
    case 'existence':
      return [q.thing];
    case 'comparison':
      return [q.a, q.b];
    default:
      return [];
  }
}

/**
 * The scene's caption, each line of a shape that a filter of the question matches marked with the running count
 * of its matches ("center: red square #2"). Marking is a decision about the line just written (does it match the
 * question's words?), and the count only adds one to the last mark: a filtered pass over the nine lines becomes
 * nine local steps, where listing the matching lines after the caption stayed at 40-50% through 30,000 pretraining
 * steps (docs/research/backbone.md). A comparison's two filters are counted by name ("center: red square (squares
 * 2)"): with "#" and "*" for its first and second filter, the model marked in order of appearance instead.
 */
export function markedCaption(scene: Scene, q: Question): string[] {
  const filters = scanFilters(q);
  const mark = (i: number, n: number) => (filters.length > 1 ? `(${noun(filters[i], true)} ${n})` : `#${n}`);
  const counts = filters.map(() => 0);
  const lines: string[] = [];
  for (let row = 0; row < scene.grid; row++)
    for (let col = 0; col < scene.grid; col++) {
      const o = objectAt(scene, row, col);
      let line = cellLine(scene, row, col);
      if (o) filters.forEach((f, i) => matches(o, f) && (line += ` ${mark(i, ++counts[i])}`));
      lines.push(line);
    }
  return lines;
}

/**
 * The caption-first form of a teacher analysis (data.captionFirst): the marked caption, then the analysis, less
 * the evidence lines the marks replace (count, existence and comparison questions; attribute and relation keep
 * theirs, recalled from the caption by cell name).
 */
export function captionFirstAnalysis(scene: Scene, q: Question, analysis: string): string {
  const lines = analysis.split('\n');
  const at = lines.findIndex((l) => l.startsWith(FACT_PREFIX));
  if (at < 0) throw new RangeError(`analysis has no "${FACT_PREFIX}" line`);
  return [...markedCaption(scene, q), ...(scanFilters(q).length > 0 ? lines.slice(at) : lines)].join('\n');
}

/** The cells the question is about, in caption form ("top-left: red circle"). */
export function evidenceLines(scene: Scene, q: Question): string[] {
  const line = (row: number, col: number) => cellLine(scene, row, col);
  const hits = (f: Filter) => scene.objects.filter((o) => matches(o, f)).map((o) => line(o.row, o.col));
  switch (q.type) {
    case 'attribute':
      return [line(q.row, q.col)];
    case 'single':
      return scene.objects.map((o) => line(o.row, o.col));
    case 'count':
      return hits(q.filter);
    case 'existence':
      // A colour or a kind alone (level 0): every shape, matching or not (at level 0 the one shape, whose line
      // decides the answer either way).
      return isThing(q.thing) ? hits(q.thing) : scene.objects.map((o) => line(o.row, o.col));
    case 'comparison':
      return [...hits(q.a), ...hits(q.b)];
    case 'relation': {
      const r = relationTarget(scene, q.dir, q.anchor);
      return r ? [line(r.anchor.row, r.anchor.col), line(r.target.row, r.target.col)] : [];
    }
  }
}

/**
 * The reasoning part of the teacher analysis, each line a copy or an equality so that a small model never decides
 * before it has written what it compares (docs/research/backbone.md): the fact the image shows, the answer in the
 * short form a response's first sentence gives it ("The answer is 2 red circles."), then for each response what
 * it answers, copied in the same short form, and whether that equals the answer ("Response 1 says no red
 * circles: wrong."). When both answers are right, the details are checked the same way, each against the image
 * (detailChecks). The last line names the better response (the line the consistency judge reads).
 */
export function teacherReasoning(scene: Scene, q: Question, responses: readonly [string, string], label: 1 | 2): string {
  const truth = mainClaim(scene, q);
  if (!truth) throw new RangeError(`the question ${JSON.stringify(questionText(scene.grid, q))} has no answer on this scene`);
  const lines = [`${FACT_PREFIX} ${fact(scene, q)}.`, `The answer is ${gist(truth)}.`];
  const checks = responses.map((text) => checkResponse(scene, q, text));
  checks.forEach((check, i) => lines.push(`Response ${i + 1} says ${gist(check.claims[0].claim)}: ${check.answerCorrect ? 'right' : 'wrong'}.`));
  if (checks.every((c) => c.answerCorrect)) lines.push(...detailChecks(scene, checks[0]));
  lines.push(`Therefore Response ${label} is better.`);
  return lines.join('\n');
}

/**
 * The detail lines of a pair whose answers are both right: each detail of Response 1 in the short form of a caption
 * line or a count ("middle-left: green cross", "2 crosses and 1 circle"), then what the image has in the same form
 * (the caption's line of that cell, recalled by its name as the caption wrote it; the true counts), then whether
 * the two are equal; up to the first wrong one. One response of such a pair is flawed, so Response 1's details
 * decide it: a wrong one makes Response 2 the better, all right make it Response 1. Every decision comes after both
 * sides of the comparison are written, as in the response lines; checking Response 1 alone keeps the analysis short.
 */
function detailChecks(scene: Scene, check: ResponseCheck): string[] {
  const lines: string[] = [];
  for (const { claim, text, holds } of check.claims.slice(1)) {
    const said = detailForm(scene, claim);
    const verdict = holds ? 'right' : 'wrong';
    lines.push(
      said
        ? `Response 1 also says ${said.claimed}; the image has ${said.truth}: ${verdict}.`
        : `Response 1 also says ${text[0].toLowerCase()}${text.slice(1, -1)}: ${verdict}.`,
    );
    if (!holds) break;
  }
  return lines;
}

/** A detail claim and the scene's truth in one short form, or null for a claim without one. */
function detailForm(scene: Scene, c: Claim): { claimed: string; truth: string } | null {
  switch (c.t) {
    case 'cellHas':
      return { claimed: `${cellName(scene.grid, c.row, c.col)}: ${describe(c.thing)}`, truth: cellLine(scene, c.row, c.col) };
    case 'cellEmpty':
      return { claimed: `${cellName(scene.grid, c.row, c.col)}: empty`, truth: cellLine(scene, c.row, c.col) };
    case 'count':
      return {
        claimed: c.items.map((it) => countPhrase(it.filter, it.n)).join(' and '),
        truth: c.items.map((it) => countPhrase(it.filter, countMatching(scene, it.filter))).join(' and '),
      };
    default:
      return null;
  }
}

/**
 * A fallible teacher's slip (data.teacherSlip), one of two misreadings of the image, and everything after it
 * following from the misreading: the answer, each response judged against it, and the verdict, which is then the
 * flawed response.
 * - A comparison ("Are there more A than B?") with its two names mixed up: the counts written under each other's
 *   names ("The image shows 3 A and 1 B" where the image has 1 A and 3 B).
 * - An existence question whose shape is there, overlooked ("The image shows no red square.").
 * GPT-4o, R1-Reward's teacher, makes slips of this kind, and one that survives its retries stays in the cold-start
 * data: stage 1 imitates it, and only the labels of stage 2 can correct it. Null where no misreading of these
 * applies or it would change no verdict (equal counts, no such shape, two responses with the same answer).
 */
export function slippedReasoning(scene: Scene, q: Question, responses: readonly [string, string]): { reasoning: string; verdict: 1 | 2 } | null {
  let misread: { fact: string; answer: 'yes' | 'no' };
  if (q.type === 'comparison') {
    const na = countMatching(scene, q.a);
    const nb = countMatching(scene, q.b);
    if (na === nb) return null;
    misread = { fact: `${countPhrase(q.a, nb)} and ${countPhrase(q.b, na)}`, answer: nb > na ? 'yes' : 'no' };
  } else if (q.type === 'existence') {
    if (countMatching(scene, q.thing) === 0) return null;
    misread = { fact: `no ${isThing(q.thing) ? describe(q.thing) : noun(q.thing, false)}`, answer: 'no' };
  } else return null;
  const said = responses.map((text) => {
    const main = checkResponse(scene, q, text).claims[0]?.claim;
    return main?.t === 'more' || main?.t === 'exists' ? gist(main) : null;
  });
  const right = said.map((s) => s === misread.answer);
  if (right[0] === right[1]) return null;
  const lines = [`${FACT_PREFIX} ${misread.fact}.`, `The answer is ${misread.answer}.`];
  said.forEach((s, i) => lines.push(`Response ${i + 1} says ${s}: ${right[i] ? 'right' : 'wrong'}.`));
  const verdict: 1 | 2 = right[0] ? 1 : 2;
  lines.push(`Therefore Response ${verdict} is better.`);
  return { reasoning: lines.join('\n'), verdict };
}

export function teacherOutput(analysis: string, label: 1 | 2): string {
  return `<think>${analysis}</think><answer>${label}</answer>`;
}

// ---- the sample --------------------------------------------------------------------------------------

function objectRange(level: Level, grid: number): [number, number] {
  const [lo, hi] = LEVELS[level].objects;
  if (level === 0) return [lo, hi]; // one shape on any grid
  const scale = (grid * grid) / 9;
  const max = grid * grid - 1;
  return [Math.max(1, Math.min(max, Math.round(lo * scale))), Math.max(1, Math.min(max, Math.round(hi * scale)))];
}

/** Deterministic in (spec, opts): the draws come from Rng.derive(seed, 'sample', index, attempt). */
export function generateSample(spec: SampleSpec, opts: GeneratorOptions, reject?: (s: SynthSample) => boolean): SynthSample {
  const lv = LEVELS[spec.level];
  if (!lv) throw new RangeError(`level must be one of ${LEVEL_IDS.join(', ')}, got ${spec.level}`);
  if (!levelCategories(spec.level).includes(spec.category)) {
    throw new RangeError(`level ${spec.level} asks no ${spec.category} questions (only ${levelCategories(spec.level).join(', ')})`);
  }
  const [lo, hi] = objectRange(spec.level, opts.grid);
  const budgetPrompt = opts.budgets.prompt[spec.level];
  const budgetAnalysis = opts.budgets.analysis[spec.level];
  // Drawn once, outside the retry loop: retries then cannot drift toward the easier kind of error.
  const wantDetail = lv.support[1] > 0 && Rng.derive(spec.seed, 'error-kind', spec.index).chance(lv.detailErrorRate);
  let rejected = 0;
  for (let attempt = 0; attempt < opts.maxAttempts; attempt++) {
    const rng = Rng.derive(spec.seed, 'sample', spec.index, attempt);
    const colours = lv.sceneColours > 0 && lv.sceneColours < opts.colours.length ? rng.sample(opts.colours, lv.sceneColours) : opts.colours;
    const kinds = lv.sceneKinds > 0 && lv.sceneKinds < opts.kinds.length ? rng.sample(opts.kinds, lv.sceneKinds) : opts.kinds;
    const scene = randomScene(rng, { grid: opts.grid, count: rng.range(lo, hi), kinds, colours, sizeRange: lv.sizeRange });
    const q = makeQuestion(rng, scene, spec.category, spec.level, opts);
    if (!q) continue;
    const support = rng.range(Math.max(lv.support[0], wantDetail ? 1 : 0), lv.support[1]);
    const extra = { row: rng.int(opts.grid), col: rng.int(opts.grid) };
    const pair = editedPair(rng, scene, q, support, extra, wantDetail, lv, opts);
    if (!pair) continue;
    // The pair is symmetric: either scene can be the real one. A fair coin picks it, so the
    // two response texts alone carry no hint of which one is right (a text-only judge sits at chance).
    const [real, good, bad] = rng.chance(0.5) ? [scene, pair.original, pair.edited] : [pair.scene, pair.edited, pair.original];
    const goodText = responseText(opts.grid, good);
    const badText = responseText(opts.grid, bad);
    const question = questionText(opts.grid, q);
    const response1 = spec.label === 1 ? goodText : badText;
    const response2 = spec.label === 1 ? badText : goodText;
    if (Buffer.byteLength(buildCompactPrompt(question, response1, response2)) > budgetPrompt) continue;
    const reasoning = teacherReasoning(real, q, [response1, response2], spec.label);
    if (Buffer.byteLength(reasoning) > budgetAnalysis) continue;
    const analysis = [...evidenceLines(real, q), reasoning].join('\n');
    const sample: SynthSample = {
      question,
      response1,
      response2,
      label: spec.label,
      difficulty: spec.level,
      category: spec.category,
      teacher: teacherOutput(analysis, spec.label),
      scene: real,
      error: wantDetail ? 'detail' : 'answer',
      attempts: attempt + 1,
    };
    if (reject?.(sample)) {
      rejected++;
      continue;
    }
    return sample;
  }
  // Mostly refused by `reject` (synthesize: a (scene, question) pair already drawn): the level has run out of
  // distinct samples, which level 0 (one shape) does first.
  if (rejected * 2 > opts.maxAttempts) {
    throw new Error(
      `could not draw sample ${spec.index} (level ${spec.level}, ${spec.category}) within ${opts.maxAttempts} attempts: ` +
        `${rejected} of them were refused (already drawn); level ${spec.level} has too few distinct ${spec.category} samples ` +
        `for this many rows (fewer samples, more kinds/colours, or another grid)`,
    );
  }
  throw new Error(
    `could not draw sample ${spec.index} (level ${spec.level}, ${spec.category}) within ${opts.maxAttempts} attempts: ` +
      `the byte budgets (prompt ${budgetPrompt}, analysis ${budgetAnalysis}) or the grid/kinds/colours may be too tight`,
  );
}

/**
 * An edited copy of the scene and the responses written from each. Both must
 * be wrong about the other scene, so either can serve as the real one.
 * `wantDetail`: the two agree on the answer and differ in a detail; otherwise
 * they give different answers.
 */
function editedPair(
  rng: Rng,
  scene: Scene,
  q: Question,
  support: number,
  extra: { row: number; col: number },
  wantDetail: boolean,
  lv: LevelSpec,
  opts: GeneratorOptions,
): { scene: Scene; original: Claim[]; edited: Claim[] } | undefined {
  const grid = scene.grid;
  const original = respond(scene, q, support, extra);
  if (!original) return undefined;
  const originalText = responseText(grid, original);
  const truth = answerQuestion(scene, q);
  for (let t = 0; t < 60; t++) {
    const edited = cloneScene(scene);
    const edits = rng.range(lv.edits[0], lv.edits[1]);
    let ok = true;
    for (let e = 0; e < edits && ok; e++) ok = editScene(rng, edited, opts, lv);
    if (!ok) continue;
    const claims = respond(edited, q, support, extra);
    if (!claims) continue;
    const answer = answerQuestion(edited, q);
    if ((answer === truth) !== wantDetail) continue;
    // Subtle levels: a count may be off by one only.
    if (!wantDetail && lv.subtle && q.type === 'count' && Math.abs(Number(answer) - Number(truth)) !== 1) continue;
    const text = responseText(grid, claims);
    if (checkResponse(scene, q, text).correct || checkResponse(edited, q, originalText).correct) continue;
    return { scene: edited, original, edited: claims };
  }
  return undefined;
}
