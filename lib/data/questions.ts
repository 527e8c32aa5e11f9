/**
 * Questions about a scene: structured form, English text (and its parser),
 * and the true answer recomputed from the scene. Texts follow a small fixed
 * grammar so that `parseQuestion(questionText(q))` gives `q` back; that is what
 * makes every stored label verifiable from the stored row alone.
 */
import {
  COLOURS,
  Colour,
  DIRECTIONS,
  Direction,
  Filter,
  PLURAL,
  SHAPE_KINDS,
  Scene,
  SceneObject,
  ShapeKind,
  cellName,
  countMatching,
  describe,
  matches,
  objectAt,
  objectsInDirection,
  parseCellName,
} from './scene';

export const CATEGORIES = ['count', 'attribute', 'existence', 'comparison', 'relation'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Thing {
  colour: Colour;
  kind: ShapeKind;
}

export type Question =
  | { type: 'count'; filter: Filter }
  | { type: 'attribute'; attr: 'colour' | 'kind'; row: number; col: number }
  /** The colour or kind of the scene's only shape, no cell named (level 0); category 'attribute'. */
  | { type: 'single'; attr: 'colour' | 'kind' }
  /** `thing`: a colour and a kind ("a red circle"), or one of them alone ("a red shape", "a circle"; level 0). */
  | { type: 'existence'; thing: Filter }
  | { type: 'comparison'; a: Filter; b: Filter }
  | { type: 'relation'; dir: Direction; anchor: Thing };

/**
 * Canonical answers, compared as strings: a count ("0", "3"), a colour
 * ("red"), a kind ("circle"), "none" (attribute of an empty cell), "yes"/"no",
 * or an object ("red circle").
 */
export type Answer = string;

// ---- noun phrases ----------------------------------------------------------------------------

/** "red shape" / "circle" / "red circle" / "shape" (empty filter). */
export function noun(f: Filter, plural: boolean): string {
  const head = f.kind === undefined ? (plural ? 'shapes' : 'shape') : plural ? PLURAL[f.kind] : f.kind;
  return f.colour === undefined ? head : `${f.colour} ${head}`;
}

/** "no red shapes" / "1 red shape" / "3 red shapes". */
export function countPhrase(f: Filter, n: number): string {
  if (n === 0) return `no ${noun(f, true)}`;
  return `${n} ${noun(f, n !== 1)}`;
}

const COLOUR_RE = COLOURS.join('|');
const KIND_RE = SHAPE_KINDS.join('|');
const PLURAL_RE = SHAPE_KINDS.map((k) => PLURAL[k]).join('|');
/** A noun phrase, singular or plural, with an optional colour. Groups: colour, head. */
export const NOUN_SRC = `(?:(${COLOUR_RE}) )?(shapes?|${PLURAL_RE}|${KIND_RE})`;
export const THING_SRC = `(${COLOUR_RE}) (${KIND_RE})`;

export function parseNoun(colour: string | undefined, head: string): { filter: Filter; plural: boolean } {
  const filter: Filter = {};
  if (colour !== undefined) filter.colour = colour as Colour;
  if (head === 'shape' || head === 'shapes') return { filter, plural: head === 'shapes' };
  const singular = SHAPE_KINDS.find((k) => k === head);
  if (singular) return { filter: { ...filter, kind: singular }, plural: false };
  const plural = SHAPE_KINDS.find((k) => PLURAL[k] === head);
  if (!plural) throw new RangeError(`unknown shape word ${JSON.stringify(head)}`);
  return { filter: { ...filter, kind: plural }, plural: true };
}

export function sameFilter(a: Filter, b: Filter): boolean {
  return a.colour === b.colour && a.kind === b.kind;
}

/** A filter that names neither a colour nor a kind ("shape"). */
export function isEmptyFilter(f: Filter): boolean {
  return f.colour === undefined && f.kind === undefined;
}

/** A filter that names a colour and a kind ("red circle"), as the existence questions of levels 1-4 do. */
export function isThing(f: Filter): f is Thing {
  return f.colour !== undefined && f.kind !== undefined;
}

export function sameThing(a: Thing, b: Thing): boolean {
  return a.colour === b.colour && a.kind === b.kind;
}

const DIR_PHRASE: Record<Direction, string> = {
  left: 'to the left of',
  right: 'to the right of',
  above: 'above',
  below: 'below',
};
export const DIR_SRC = Object.values(DIR_PHRASE).join('|');
export function dirPhrase(d: Direction): string {
  return DIR_PHRASE[d];
}
export function parseDirPhrase(text: string): Direction {
  const d = DIRECTIONS.find((x) => DIR_PHRASE[x] === text);
  if (!d) throw new RangeError(`unknown direction ${JSON.stringify(text)}`);
  return d;
}

// ---- question text ---------------------------------------------------------------------------

/** The category a question is reported under: its type, except that a 'single' question is an 'attribute' one. */
export function questionCategory(q: Question): Category {
  return q.type === 'single' ? 'attribute' : q.type;
}

export function questionText(grid: number, q: Question): string {
  switch (q.type) {
    case 'count':
      return `How many ${noun(q.filter, true)} are there?`;
    case 'attribute':
      return q.attr === 'colour'
        ? `What colour is the shape in the ${cellName(grid, q.row, q.col)} cell?`
        : `What shape is in the ${cellName(grid, q.row, q.col)} cell?`;
    case 'single':
      return q.attr === 'colour' ? 'What colour is the shape?' : 'What shape is in the image?';
    case 'existence':
      return `Is there a ${noun(q.thing, false)}?`;
    case 'comparison':
      return `Are there more ${noun(q.a, true)} than ${noun(q.b, true)}?`;
    case 'relation':
      return `What is ${dirPhrase(q.dir)} the ${describe(q.anchor)}?`;
  }
}

const Q_COUNT = new RegExp(`^How many ${NOUN_SRC} are there\\?$`);
const Q_COLOUR = /^What colour is the shape in the (.+) cell\?$/;
const Q_KIND = /^What shape is in the (.+) cell\?$/;
const Q_SINGLE_COLOUR = /^What colour is the shape\?$/;
const Q_SINGLE_KIND = /^What shape is in the image\?$/;
const Q_EXIST = new RegExp(`^Is there a ${NOUN_SRC}\\?$`);
const Q_MORE = new RegExp(`^Are there more ${NOUN_SRC} than ${NOUN_SRC}\\?$`);
const Q_REL = new RegExp(`^What is (${DIR_SRC}) the ${THING_SRC}\\?$`);

/** Inverse of questionText. Throws a RangeError for text outside the grammar. */
export function parseQuestion(grid: number, text: string): Question {
  let m: RegExpExecArray | null;
  if ((m = Q_COUNT.exec(text))) {
    const { filter, plural } = parseNoun(m[1], m[2]);
    if (plural) return { type: 'count', filter };
  } else if ((m = Q_COLOUR.exec(text)) || (m = Q_KIND.exec(text))) {
    const cell = parseCellName(grid, m[1]);
    if (cell) return { type: 'attribute', attr: text.startsWith('What colour') ? 'colour' : 'kind', ...cell };
  } else if (Q_SINGLE_COLOUR.test(text) || Q_SINGLE_KIND.test(text)) {
    return { type: 'single', attr: text.startsWith('What colour') ? 'colour' : 'kind' };
  } else if ((m = Q_EXIST.exec(text))) {
    const { filter, plural } = parseNoun(m[1], m[2]);
    if (!plural && !isEmptyFilter(filter)) return { type: 'existence', thing: filter };
  } else if ((m = Q_MORE.exec(text))) {
    const a = parseNoun(m[1], m[2]);
    const b = parseNoun(m[3], m[4]);
    if (a.plural && b.plural) return { type: 'comparison', a: a.filter, b: b.filter };
  } else if ((m = Q_REL.exec(text))) {
    return { type: 'relation', dir: parseDirPhrase(m[1]), anchor: { colour: m[2] as Colour, kind: m[3] as ShapeKind } };
  }
  throw new RangeError(`question is not one the synthetic grammar produces (grid ${grid}): ${JSON.stringify(text)}`);
}

// ---- true answers ----------------------------------------------------------------------------

export function thingAnswer(t: Thing): Answer {
  return describe(t);
}

/**
 * Is the relation question well posed on this scene? Exactly one anchor and
 * exactly one object on that side of it (so "what is to the right of" has one
 * answer under any reading of "to the right": adjacent or anywhere in the row).
 */
export function relationTarget(scene: Scene, dir: Direction, anchor: Thing) {
  const anchors = scene.objects.filter((o) => matches(o, anchor));
  if (anchors.length !== 1) return undefined;
  const seen = objectsInDirection(scene, anchors[0], dir);
  return seen.length === 1 ? { anchor: anchors[0], target: seen[0] } : undefined;
}

/**
 * The only object of the scene, which "the shape" of a 'single' question
 * refers to. A scene with no object or several throws a RangeError: the
 * question is not well posed there.
 */
export function singleObject(scene: Scene): SceneObject {
  if (scene.objects.length !== 1) {
    throw new RangeError(`"the shape" is ambiguous on this scene: it needs exactly one shape, the scene has ${scene.objects.length}`);
  }
  return scene.objects[0];
}

/**
 * The true answer of a question on a scene. A relation or single question
 * that is not well posed (see relationTarget, singleObject) throws a
 * RangeError rather than guessing.
 */
export function answerQuestion(scene: Scene, q: Question): Answer {
  switch (q.type) {
    case 'count':
      return String(countMatching(scene, q.filter));
    case 'attribute': {
      const o = objectAt(scene, q.row, q.col);
      if (!o) return 'none';
      return q.attr === 'colour' ? o.colour : o.kind;
    }
    case 'single': {
      const o = singleObject(scene);
      return q.attr === 'colour' ? o.colour : o.kind;
    }
    case 'existence':
      return countMatching(scene, q.thing) > 0 ? 'yes' : 'no';
    case 'comparison':
      return countMatching(scene, q.a) > countMatching(scene, q.b) ? 'yes' : 'no';
    case 'relation': {
      const r = relationTarget(scene, q.dir, q.anchor);
      if (!r)
        throw new RangeError(
          `relation question is ambiguous on this scene: the ${describe(q.anchor)} must be unique with exactly one object ${dirPhrase(q.dir)} it`,
        );
      return describe(r.target);
    }
  }
}

/** answerQuestion from the stored question text. */
export function answerQuestionText(scene: Scene, text: string): Answer {
  return answerQuestion(scene, parseQuestion(scene.grid, text));
}
